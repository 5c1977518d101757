"""静态站点的体量与加载时间。

报告 _build/html 的总大小，每页连同其全部资源的字节数（冷缓存，浏览器实际请求的），
以及最重那一页从本地服务器加载的时间（load 事件；以及 MathJax/控件排版完成的时间）。
目标：每页连同资源 ≤ 5 MB，本地加载 ≤ 1 s。只测量，不断言。

用法：.venv/bin/python benchmarks/site.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import statistics
import sys
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tests"))
from test_site import CHROMIUM, CHROMIUM_ARGS, DESKTOP, SETTLE_JS, discover_pages  # noqa: E402


def human(n):
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def tree_size(path):
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def serve():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


RESOURCES_JS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    load: nav.loadEventEnd,
    urls: [nav.name, ...performance.getEntriesByType("resource").map((e) => e.name)],
    bytes: nav.decodedBodySize + performance.getEntriesByType("resource").reduce((s, e) => s + e.decodedBodySize, 0),
  };
}
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


def load(browser, base, rel):
    """Cold-cache load of one page: dict(load ms, ready ms, bytes decoded, bytes gzip, requests)."""
    context = browser.new_context(viewport=DESKTOP)
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
    page = context.new_page()
    start = time.perf_counter()
    page.goto(base + rel, wait_until="load")
    page.evaluate(SETTLE_JS)
    ready = (time.perf_counter() - start) * 1000
    page.wait_for_timeout(300)  # late requests (fonts, widget modules)
    info = page.evaluate(RESOURCES_JS)
    context.close()
    return {"load": info["load"], "ready": ready, "bytes": info["bytes"],
            "gzip": gzip_size(base, info["urls"]), "requests": len(info["urls"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="loads of the heaviest page to time")
    args = parser.parse_args()
    if not (HTML / "index.html").is_file():
        sys.exit("站点尚未构建：先运行 make book")

    pages = [p for p in discover_pages() if p != "index.html"]
    print(f"_build/html: {human(tree_size(HTML))} in {sum(1 for _ in HTML.rglob('*') if _.is_file())} files"
          f" (of which _static/vendor {human(tree_size(HTML / '_static' / 'vendor'))}); {len(pages)} pages")
    server, base = serve()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        rows = []
        for rel in pages:
            m = load(browser, base, rel)
            rows.append((m["bytes"], rel, m))
        rows.sort(key=lambda r: r[0], reverse=True)
        print(f"\n{'page':34s} {'html':>9s} {'with resources':>15s} {'gzip':>9s} {'requests':>9s}")
        for total, rel, m in rows:
            html = (HTML / rel).stat().st_size
            print(f"{rel:34s} {human(html):>9s} {human(total):>15s} {human(m['gzip']):>9s} {m['requests']:9d}")

        heaviest = rows[0][1]
        runs = [load(browser, base, heaviest) for _ in range(args.repeat)]
        browser.close()
    server.shutdown()
    print(f"\nheaviest page: {heaviest}: {human(rows[0][0])} with its resources as served here, "
          f"{human(rows[0][2]['gzip'])} gzip-compressed (target <= 5 MB)")
    print(f"load event, cold cache, median of {args.repeat}: "
          f"{statistics.median(r['load'] for r in runs):.0f} ms (target <= 1000 ms)")
    print(f"ready (images decoded, math typeset, widgets rendered), median: "
          f"{statistics.median(r['ready'] for r in runs):.0f} ms")


if __name__ == "__main__":
    main()
