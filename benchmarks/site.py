"""静态站点的体量与加载时间。

报告站点（默认 _build/html）的总大小；每一页连同其全部资源的字节数（冷缓存，浏览器实际请求的，包括 load
之后才加载的控件管理器；另给出静态主机 gzip 压缩文本时的传输量）；每一页从本地服务器冷缓存加载的时间
（各页轮流加载，每页取 --repeat 次的中位数）：到首次绘制、到 HTML 解析完（domInteractive）、到 load 事件、
到一切就绪（图片解码、字体加载、控件渲染）。最后给出最重的一页与加载最慢的一页的每次 load 时间。
公式在构建时已排版成静态 CHTML（book/_ext/prerender_math.mjs），页面不运行 MathJax；只有控件标签里有 TeX
时页面才在 load 之后按需加载 MathJax，这里列出真的运行了 MathJax 的页面。
加载时间主要花在排版（layout）上，为此：正文最小一级的节与 API 条目用 content-visibility: auto，视口外的
不排版（book/_static/optimlab.css）；主题在 load 时把整页排版一遍的 Tab 顺序检查换成按需的
optimlab-tabstops.js；普通页面不加载搜索脚本（book/_templates/layout.html）。
目标：每页连同资源 ≤ 5 MB，本地加载（load 事件）≤ 1 s。只测量，不断言。

用法：.venv/bin/python benchmarks/site.py [--repeat 5] [--site _build/html]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))
import localserver  # noqa: E402
from sitekit import CHROMIUM, CHROMIUM_ARGS, DESKTOP, settle  # noqa: E402


def human(n):
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def tree_size(path):
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def serve():
    return localserver.serve(HTML)


RESOURCES_JS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return {
    load: nav.loadEventEnd,
    fcp: paint ? paint.startTime : null,
    interactive: nav.domInteractive,
    urls: [nav.name, ...performance.getEntriesByType("resource").map((e) => e.name)],
    bytes: nav.decodedBodySize + performance.getEntriesByType("resource").reduce((s, e) => s + e.decodedBodySize, 0),
  };
}
"""


# 记下 MathJax 排版完成的时刻：页面给 window.MathJax 赋配置对象时，往里加一个 startup.pageReady
MATHJAX_HOOK = """
(() => {
  let value;
  Object.defineProperty(window, "MathJax", {
    configurable: true, enumerable: true,
    get() { return value; },
    set(config) {
      value = config;
      if (config && typeof config === "object" && !config.version) {
        config.startup = Object.assign({}, config.startup, {
          pageReady() {
            return window.MathJax.startup.defaultPageReady().then(() => { window.__mathjaxDone = performance.now(); });
          },
        });
      }
    },
  });
})();
"""


def gzip_size(base, urls):
    """Bytes a static host that gzips text would send for these URLs (images and fonts as they are)."""
    total = 0
    for url in set(urls):
        rel = url.removeprefix(base).split("?")[0].split("#")[0]
        path = HTML / rel
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix in {".html", ".js", ".css", ".svg", ".json", ".txt"}:
            total += len(gzip.compress(data, 6))
        else:
            total += len(data)
    return total


BLOCK_OTHER_HOSTS = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def load(browser, base, rel):
    """Cold-cache load of one page: dict(fcp, interactive, load, mathjax, ready in ms; bytes decoded, bytes gzip,
    requests, external: URLs of other hosts the page asked for)."""
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(MATHJAX_HOOK)
    page = context.new_page()
    external = []  # 只旁听，不拦截
    page.on("request", lambda r: external.append(r.url) if r.url.split(":")[0] in ("http", "https")
            and not r.url.startswith(base) else None)
    page.goto(base + rel, wait_until="load")
    settle(page)  # the browser tests' wait: widgets rendered, images decoded, math typeset, fonts loaded
    ready = page.evaluate("() => performance.now()") - 200  # settle() ends with a 200 ms pause
    page.wait_for_timeout(300)  # late requests
    info = page.evaluate(RESOURCES_JS)
    mathjax = page.evaluate("() => window.__mathjaxDone || null")
    context.close()
    return {"load": info["load"], "fcp": info["fcp"], "interactive": info["interactive"],
            "mathjax": mathjax, "ready": ready, "bytes": info["bytes"],
            "gzip": gzip_size(base, info["urls"]), "requests": len(info["urls"]), "external": external}


def use_site(path):
    """Measure another built site (for example an older build, to compare)."""
    global HTML
    HTML = Path(path).resolve()


def median(runs, key):
    values = [r[key] for r in runs]
    return None if any(v is None for v in values) else statistics.median(values)


def ms(value):
    return "-" if value is None else f"{value:.0f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="cold loads of every page to time (interleaved)")
    parser.add_argument("--site", type=Path, default=HTML, help="the built site to measure (default: _build/html)")
    args = parser.parse_args()
    use_site(args.site)
    if not (HTML / "index.html").is_file():
        sys.exit("站点尚未构建：先运行 make book")

    skip = {"_static", "_sources", "_images", "_downloads"}
    pages = sorted(
        p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
        if not (set(p.relative_to(HTML).parts) & skip) and p.name != "index.html"
    )
    print(f"{HTML.relative_to(ROOT) if HTML.is_relative_to(ROOT) else HTML}: {human(tree_size(HTML))} in {sum(1 for _ in HTML.rglob('*') if _.is_file())} files"
          f" (of which _static/vendor {human(tree_size(HTML / '_static' / 'vendor'))}); {len(pages)} pages")
    server, base = serve()
    with sync_playwright() as p:
        # 其他主机一律解析不到（浏览器的 DNS 规则）。不用 Playwright 的请求拦截：那会让每个请求先绕一趟
        # Python 再发出，给每页的 load 平添约 100 ms，量的就不是页面本身了（浏览器测试用拦截来记录外部请求）
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [BLOCK_OTHER_HOSTS], headless=True)
        load(browser, base, pages[0])  # warm the browser and the server up; not counted
        runs = {rel: [] for rel in pages}
        for _ in range(args.repeat):  # page after page, so that a busy moment of the machine hits all pages alike
            for rel in pages:
                runs[rel].append(load(browser, base, rel))
        browser.close()
    server.shutdown()

    rows = sorted(pages, key=lambda rel: runs[rel][0]["bytes"], reverse=True)
    cols = {"fcp": "first paint", "interactive": "DOM parsed", "load": "load event", "ready": "all ready"}
    print(f"\ncold-cache loads from the local server, median of {args.repeat} per page (target: load event <= 1000 ms)")
    print(f"{'page':30s} {'html':>9s} {'with resources':>15s} {'gzip':>9s} {'requests':>9s}"
          + "".join(f" {name:>12s}" for name in cols.values()))
    for rel in rows:
        m = runs[rel][0]
        print(f"{rel:30s} {human((HTML / rel).stat().st_size):>9s} {human(m['bytes']):>15s} {human(m['gzip']):>9s}"
              f" {m['requests']:9d}" + "".join(f" {ms(median(runs[rel], k)):>12s}" for k in cols))
    heaviest = rows[0]
    slowest = max(pages, key=lambda rel: median(runs[rel], "load"))
    print(f"\nheaviest page: {heaviest}: {human(runs[heaviest][0]['bytes'])} with its resources as served here, "
          f"{human(runs[heaviest][0]['gzip'])} gzip-compressed (target <= 5 MB)")
    for what, rel in (("heaviest page", heaviest), ("slowest page", slowest)):
        print(f"{what}: {rel}: load event median {ms(median(runs[rel], 'load'))} (target <= 1000 ms);"
              f" each run: " + ", ".join(f"{r['load']:.0f}" for r in runs[rel]) + " ms")
    external = sorted({url for rel in pages for r in runs[rel] for url in r["external"]})
    print("requests to other hosts: " + (", ".join(external) if external else "none"))
    mathjax = [rel for rel in pages if median(runs[rel], "mathjax") is not None]
    print("client-side MathJax ran on: " + (", ".join(mathjax) if mathjax else "no page (math is pre-rendered at build time)"))
    print("(DOM parsed: domInteractive; all ready: images decoded, fonts loaded, widgets rendered; widgets are rendered"
          " after the load event)")


if __name__ == "__main__":
    main()
