"""网页上的实时探索器（optimlab/web/）：响应时间、脚本体量、章节页的重量与最重一页的冷加载时间。

1. 每个探索器（来自 :data:`optimlab.widgets.controls.DEFINITIONS`）做成一页（:func:`optimlab.widgets.page.live_html`），
   在 Chromium 里依次移动它的每个控件（滑块逐格走、跳到两端，下拉菜单与开关逐个切换，地图点击），量从输入事件
   （``event.timeStamp``）到画好的那一帧（其后的 ``requestAnimationFrame`` 回调，即该帧的绘制时刻）的毫秒数，
   报告每个探索器的中位数与 p95（目标 ≤ 16 ms 与 ≤ 50 ms）；
2. optimlab/web/ 与 optimlab/optim/ 下（rules.mjs、exact.mjs）的全部模块合在一起 gzip 后的大小（目标 ≤ 60 KB）；
3. 构建出的站点中每一章的页面重量（HTML 与它加载的一切，冷缓存），与 ``benchmarks/explorers_baseline.json``
   （换成实时探索器之前的站点：翻页动画帧与控件管理器都还在）对比；
4. 最重一页的冷加载时间（load 事件，目标 ≤ 1.0 s），以及其中的探索器开始运行（``data-live`` 出现）的时刻。

只测量，不断言。

用法：
  .venv/bin/python benchmarks/explorers.py [--repeat 5] [--site _build/html]
  .venv/bin/python benchmarks/explorers.py --baseline   # 记下当前站点的页面重量与加载时间（之前）
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "benchmarks" / "explorers_baseline.json"
WEB = [*sorted((ROOT / "optimlab" / "optim").glob("*.mjs")), *sorted((ROOT / "optimlab" / "web").glob("*.mjs"))]

sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))
import localserver  # noqa: E402
from sitekit import CHROMIUM, CHROMIUM_ARGS, DESKTOP, NOTEBOOK_PAGES, settle  # noqa: E402

#: 其他主机一律解析不到（浏览器的 DNS 规则；不用 Playwright 拦截，免得每个请求绕道 Python）
BLOCK_OTHER_HOSTS = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
TEXT = {".html", ".js", ".mjs", ".css", ".svg", ".json", ".txt"}

LOAD_JS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  const live = document.querySelector(".optimlab-live[data-live]");
  return {load: nav.loadEventEnd, urls: [nav.name, ...res.map((e) => e.name)],
          bytes: nav.decodedBodySize + res.reduce((s, e) => s + e.decodedBodySize, 0),
          live: live ? Number(live.dataset.live) : null};
}
"""


def serve(html: Path):
    """``html`` 目录在 127.0.0.1 的空闲端口上；返回 (server, base URL)。"""
    return localserver.serve(html)


def gzip_size(html: Path, base: str, urls) -> int:
    """静态主机压缩文本（gzip）时传输的字节数；图片与字体原样计。"""
    total = 0
    for url in set(urls):
        path = html / url.removeprefix(base).split("?")[0].split("#")[0]
        if path.is_file():
            data = path.read_bytes()
            total += len(gzip.compress(data, 6)) if path.suffix in TEXT else len(data)
    return total


def load(browser, html: Path, base: str, rel: str) -> dict:
    """冷缓存加载一页（新的浏览器上下文）：load 事件（ms）、探索器开始运行的时刻（ms）、资源字节数。"""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(base + rel, wait_until="load")
    settle(page)  # 浏览器测试的等待：图片解码、字体、控件管理器渲染完
    page.wait_for_timeout(300)  # 迟到的请求
    info = page.evaluate(LOAD_JS)
    context.close()
    return {"load": info["load"], "live": info["live"], "bytes": info["bytes"],
            "gzip": gzip_size(html, base, info["urls"]), "requests": len(info["urls"])}


def chapter_pages(html: Path) -> list[str]:
    """站点里每一章（笔记本）的页面，如 ``book/01_sgd.html``。"""
    return [rel for rel in NOTEBOOK_PAGES if (html / rel).is_file()]


def weigh_site(html: Path, repeat: int) -> dict:
    """每章页面连同资源的字节数（解码后与 gzip），最重一页的 ``repeat`` 次冷加载（load 事件，ms）。"""
    from playwright.sync_api import sync_playwright

    pages = chapter_pages(html)
    server, base = serve(html)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [BLOCK_OTHER_HOSTS],
                                    headless=True)
        load(browser, html, base, pages[0])  # 预热浏览器与服务器，不计
        weights = {}
        for rel in pages:
            r = load(browser, html, base, rel)
            weights[rel] = {"bytes": r["bytes"], "gzip": r["gzip"], "requests": r["requests"]}
        heaviest = max(pages, key=lambda rel: weights[rel]["bytes"])
        runs = [load(browser, html, base, heaviest) for _ in range(repeat)]
        browser.close()
    server.shutdown()
    return {"site": str(html), "pages": weights, "heaviest": heaviest, "heaviest_load_ms": [r["load"] for r in runs],
            "heaviest_live": [r["live"] for r in runs if r["live"] is not None]}



# ---------------------------------------------------------------- 1. latency: input event -> painted frame

#: 在页面里：每个控件的一串取值（滑块像拖动那样逐格走 8 格，再跳到两端并回到原值；下拉菜单逐项；开关来回），
#: 每次派发 input/change 事件，量 event.timeStamp 到“画好的那一帧”：探索器在 requestAnimationFrame 里画完后发出
#: optimlab-drawn，此时发一条 MessageChannel 消息，它在这一帧绘制之后才被处理（常用的“到下一次绘制”量法）。
LATENCY_JS = r"""
async (root) => {
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const idle = async () => { for (let i = 0; i < 600; i++) { await frame(); if (!root.dataset.busy) return; } };
  const painted = () => new Promise((resolve) => {
    setTimeout(() => resolve(NaN), 5000);  // 没有重画（不应发生）：记为 NaN
    root.addEventListener("optimlab-drawn", () => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => resolve(performance.now());
      ch.port2.postMessage(0);
    }, { once: true });
  });
  const out = [];
  async function fire(input, apply) {
    await idle(); await frame();
    // 真实的输入在一帧中的任意时刻到来：等 0–16 ms 的随机时长再派发（刚画完一帧就派发会多等整整一帧）
    await new Promise((r) => setTimeout(r, Math.random() * 16));
    const before = input.type === "checkbox" ? input.checked : input.value;
    apply();
    if ((input.type === "checkbox" ? input.checked : input.value) === before) return;  // 没有移动
    const ev = new Event(input.tagName === "SELECT" || input.type === "checkbox" ? "change" : "input", { bubbles: true });
    const done = painted();
    input.dispatchEvent(ev);
    out.push([input.dataset.control, (await done) - ev.timeStamp]);
    if (!Number.isFinite(out[out.length - 1][1])) throw new Error(`${input.dataset.control}: no frame was drawn`);
  }
  for (const input of root.querySelectorAll(".optimlab-live-controls input[data-control], .optimlab-live-controls select[data-control]")) {
    if (input.disabled) continue;
    if (input.type === "checkbox") { for (let k = 0; k < 2; k++) await fire(input, () => { input.checked = !input.checked; }); continue; }
    if (input.tagName === "SELECT") {
      const start = input.selectedIndex;
      for (let k = 1; k <= input.options.length; k++) await fire(input, () => { input.selectedIndex = (start + k) % input.options.length; });
      continue;
    }
    const lo = Number(input.min), hi = Number(input.max), v0 = Number(input.value);
    const step = input.step === "any" ? (hi - lo) / 40 : Number(input.step), dir = hi - v0 >= v0 - lo ? 1 : -1;
    const values = [];
    for (let k = 1; k <= 8; k++) values.push(Math.min(hi, Math.max(lo, v0 + dir * k * step)));
    values.push(hi, lo, v0);
    for (const v of values) await fire(input, () => { input.value = v; });
  }
  // 收敛图：后台线程算完整张图要多久（换一个曲面或优化器之后）
  let map = null;
  const sel = root.querySelector("select[data-control=surface], select[data-control=optimizer]");
  if (root.querySelector("canvas.optimlab-live-map") && sel) {
    await idle();
    for (let i = 0; i < 600 && root.dataset.computing; i++) await frame();
    const t0 = performance.now();
    sel.selectedIndex = (sel.selectedIndex + 1) % sel.options.length;
    sel.dispatchEvent(new Event("change", { bubbles: true }));
    await frame(); await frame();
    for (let i = 0; i < 3000 && root.dataset.computing; i++) await frame();
    map = performance.now() - t0;
  }
  return { rows: out, map };
}
"""


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q * (len(v) - 1))))]


def latencies(repeat: int) -> dict:
    """{探索器: {"ms": [...], "map": ms | None}}：每个探索器一页（与 tests/test_live_explorers.py 相同的页面）。"""
    from playwright.sync_api import sync_playwright
    import test_live_explorers as T
    from optimlab.widgets.page import live_html

    pages = {name: T.live_page(live_html(ex)) for name, ex in T.explorers().items()}
    server, base = serve(ROOT)
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport=DESKTOP)
        context.route("**/*", lambda r: r.fulfill(status=200, content_type="text/html", body=pages[r.request.url.rsplit("/", 1)[1][:-5]])
                      if "/live/" in r.request.url else (r.continue_() if r.request.url.startswith(base) else r.abort()))
        page = context.new_page()
        for name in sorted(pages):
            ms, maps = [], []
            for _ in range(repeat):
                page.goto(f"{base}live/{name}.html")
                page.wait_for_function("() => document.querySelector('.optimlab-live[data-live]')")
                r = page.evaluate(LATENCY_JS, page.query_selector(".optimlab-live"))
                ms += [t for _, t in r["rows"]]
                if r["map"] is not None:
                    maps.append(r["map"])
            out[name] = {"ms": ms, "map": statistics.median(maps) if maps else None}
            print(f"  {name}: {len(ms)} moves", file=sys.stderr, flush=True)
        browser.close()
    server.shutdown()
    return out


# ---------------------------------------------------------------- 2. script size


def script_size() -> dict:
    files = WEB + [ROOT / "optimlab" / "web" / "explorer.css"]
    raw = {f.relative_to(ROOT).as_posix(): f.read_bytes() for f in files}
    return {"files": {k: (len(v), len(gzip.compress(v, 9))) for k, v in raw.items()},
            "raw": sum(len(v) for v in raw.values()),
            "gzip_each": sum(len(gzip.compress(v, 9)) for v in raw.values()),
            "gzip_js": sum(len(gzip.compress(v, 9)) for k, v in raw.items() if k.endswith(".mjs"))}


def kb(n):
    return f"{n / 1000:.1f} KB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="cold loads of the heaviest page")
    parser.add_argument("--rounds", type=int, default=1, help="times every control of every explorer is moved")
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html", help="the built site")
    parser.add_argument("--baseline", action="store_true", help=f"record the site's weights into {BASELINE.name}")
    args = parser.parse_args()
    if args.baseline:
        data = weigh_site(args.site.resolve(), args.repeat)
        data["site"] = "_build/html before the live explorers (flip-book frames, widget managers)"
        BASELINE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(json.dumps(data, indent=1))
        return

    lat = latencies(args.rounds)
    print("1. input event -> painted frame (Chromium, every control of every explorer moved; target median <= 16 ms,"
          " p95 <= 50 ms)")
    print(f"{'explorer':18s} {'moves':>6s} {'median':>9s} {'p95':>9s} {'max':>9s} {'full map':>10s}")
    for name, r in lat.items():
        ms = r["ms"]
        full = "-" if r["map"] is None else f"{r['map']:.0f} ms"
        print(f"{name:18s} {len(ms):6d} {statistics.median(ms):7.1f}ms {percentile(ms, 0.95):7.1f}ms {max(ms):7.1f}ms {full:>10s}")
    every = [t for r in lat.values() for t in r["ms"]]
    print(f"{'all':18s} {len(every):6d} {statistics.median(every):7.1f}ms {percentile(every, 0.95):7.1f}ms {max(every):7.1f}ms")
    print("(full map: from switching the surface or optimizer until the convergence map, computed in a Web Worker, is"
          " complete; the controls stay responsive meanwhile)")

    size = script_size()
    print(f"\n2. explorer scripts: {kb(size['raw'])} raw, {kb(size['gzip_js'])} gzip for the JS modules"
          f" ({kb(size['gzip_each'])} with explorer.css; target <= 60 KB)")
    for f, (raw, gz) in size["files"].items():
        print(f"   {f:34s} {kb(raw):>9s} {kb(gz):>9s} gzip")

    before = json.loads(BASELINE.read_text(encoding="utf-8"))
    now = weigh_site(args.site.resolve(), args.repeat)
    print(f"\n3. chapter pages with everything they load, cold cache ({args.site}); before = {BASELINE.name}")
    print(f"{'page':32s} {'before':>10s} {'now':>10s} {'change':>8s} {'gzip before':>12s} {'gzip now':>10s}")
    for rel, w in now["pages"].items():
        b = before["pages"].get(rel)
        change = f"{100 * (w['bytes'] / b['bytes'] - 1):+.0f}%" if b else "-"
        print(f"{rel:32s} {kb(b['bytes']) if b else '-':>10s} {kb(w['bytes']):>10s} {change:>8s}"
              f" {kb(b['gzip']) if b else '-':>12s} {kb(w['gzip']):>10s}")
    print(f"\n4. cold load of the heaviest page, {now['heaviest']} (target: load event <= 1000 ms):"
          f" median {statistics.median(now['heaviest_load_ms']):.0f} ms; each: "
          + ", ".join(f"{t:.0f}" for t in now["heaviest_load_ms"]) + " ms")
    if now.get("heaviest_live"):
        print(f"   its explorers running at (median) {statistics.median(now['heaviest_live']):.0f} ms after navigation start")
    print(f"   before: {before['heaviest']}, median {statistics.median(before['heaviest_load_ms']):.0f} ms; each: "
          + ", ".join(f"{t:.0f}" for t in before["heaviest_load_ms"]) + " ms")


if __name__ == "__main__":
    main()
