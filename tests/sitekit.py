"""浏览器测试共用的部分（tests/conftest.py 把本模块作为 pytest 插件加载）：站点、Chromium、页面访问与检查。

站点目录默认是 ``_build/html``，环境变量 ``OPTIMLAB_SITE`` 可以指向另一份构建（例如
``jupyter-book build . --path-output /tmp/x`` 得到的 ``/tmp/x/_build/html``）。站点在 127.0.0.1 的空闲端口上
提供；其他主机的请求一律拦截并记为失败。所有浏览器测试共用一个 Chromium（每个 pytest 进程一个）。

应当有哪些页面、页面上应当有什么，来自 ``_toc.yml`` 与笔记本本身（``expected``），不来自构建出的站点：
站点缺页、缺图、缺控件时测试失败，而不是因为“没有这样的页面”而跳过或空转。
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from localserver import served  # noqa: E402

HTML = Path(os.environ.get("OPTIMLAB_SITE") or ROOT / "_build" / "html").resolve()
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
#: 手机（iPhone 的 375×812 CSS 像素）
PHONE = {"width": 375, "height": 812}


# ---------------------------------------------------------------- what the site must contain (from _toc.yml and the notebooks)


def toc_docnames():
    """_toc.yml 里的全部文档（root 在前，按目录顺序），如 ``book/01_sgd``。"""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [re.sub(r"\.(ipynb|md)$", "", n) for n in names]


def source_of(docname):
    """文档的源文件（.ipynb 或 .md）。"""
    for suffix in (".ipynb", ".md"):
        path = ROOT / (docname + suffix)
        if path.is_file():
            return path
    raise FileNotFoundError(f"_toc.yml 里的 {docname} 没有源文件")


def _documents_python_api():
    return any("automodule" in source_of(d).read_text(encoding="utf-8") for d in toc_docnames())


#: 构建出的站点必须有的页面：目录里的每一篇，加上 Sphinx 与 Jupyter Book 自己的页面
#: （index.html 跳转到 root；API 页用 autodoc 时还有模块索引）
CONTENT_PAGES = [d + ".html" for d in toc_docnames()]
PAGES = CONTENT_PAGES + ["index.html", "search.html", "genindex.html"] + (
    ["py-modindex.html"] if _documents_python_api() else []
)
NOTEBOOK_PAGES = [rel for rel in CONTENT_PAGES if source_of(rel.removesuffix(".html")).suffix == ".ipynb"]


#: 网页探索器的标记（class 恰好是 optimlab-live，不算 optimlab-live-tabs 等）
LIVE = 'class="optimlab-live"'


@functools.lru_cache(maxsize=None)
def expected(rel):
    """页面应有的内容，数自它的笔记本：图片输出、网页探索器（``optimlab.widgets.page`` 写进输出的
    ``<div class="optimlab-live">``，一组标签页算其中的每一个）、公式。"""
    docname = rel.removesuffix(".html")
    path = source_of(docname)
    text = path.read_text(encoding="utf-8")
    counts = {"images": 0, "explorers": 0, "math": False}
    if path.suffix == ".md":
        # 页面自己的公式，或 autodoc 收进来的模块文档字符串里的公式
        modules = re.findall(r"automodule::\s*([\w.]+)", text)
        docstrings = "".join(
            p.read_text(encoding="utf-8")
            for m in modules
            for p in [ROOT / (m.replace(".", "/") + ".py"), ROOT / m.replace(".", "/") / "__init__.py"]
            if p.is_file()
        )
        counts["math"] = bool(re.search(r"\$[^$\n]+\$|\{math\}", text) or re.search(r":math:`|\.\. math::", docstrings))
        return counts
    for cell in json.loads(text)["cells"]:
        source = "".join(cell.get("source", []))
        if cell["cell_type"] == "markdown" and re.search(r"\$[^$\n]+\$|\$\$", source):
            counts["math"] = True
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            html = "".join(data.get("text/html", []))
            if LIVE in html:
                counts["explorers"] += html.count(LIVE)
            elif "image/png" in data or "image/svg+xml" in data:
                counts["images"] += 1
    return counts


def page_source(rel):
    path = HTML / rel
    assert path.is_file(), f"站点缺少 {rel}（{HTML}）：先运行 make book"
    return path.read_text(encoding="utf-8")


def redirect_target(rel):
    """The page a meta-refresh page (index.html) sends the reader to, or None."""
    if rel is None or not rel.endswith(".html") or "?" in rel:
        return None
    match = re.search(r'http-equiv="Refresh" content="\d+;\s*url=([^"]+)"', page_source(rel), re.IGNORECASE)
    return match and (Path(rel).parent / match.group(1)).as_posix().removeprefix("./")


def is_redirect(rel):
    return redirect_target(rel) is not None


def search_index():
    """searchindex.js 的内容（Search.setIndex 的参数）。"""
    text = page_source("searchindex.js")
    return json.loads(text[text.index("(") + 1 : text.rindex(")")])


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def screenshots():
    """artifacts/screenshots/ (CI keeps the folder)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def site():
    """The built site on 127.0.0.1 (a free port); yields its base URL."""
    assert (HTML / "index.html").is_file(), f"站点尚未构建（{HTML}）：先运行 make book"

    with served(HTML) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per pytest process. Missing Playwright or Chromium fails the test."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the environment is broken
        pytest.fail(f"Playwright is not installed ({exc}): pip install -r requirements.txt")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Visit:
    """A browser context that blocks and records other hosts, console errors and failed loads."""

    def __init__(self, browser, base, viewport, **options):
        self.base = base
        self.external, self.errors, self.failed, self.requested = [], [], [], []
        self.context = browser.new_context(viewport=viewport, service_workers="block", **options)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._request_failed)

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base):
            self.requested.append(url.removeprefix(self.base).split("?")[0])
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _console(self, msg):
        if msg.type == "error":
            self.errors.append(f"console: {msg.text}")

    def _response(self, response):
        if response.status >= 400:
            self.failed.append(f"HTTP {response.status} {response.url}")

    def _request_failed(self, request):
        if request.url.startswith(self.base):
            self.failed.append(f"failed {request.url}: {request.failure}")

    def open(self, rel):
        self.page.goto(self.base + rel, wait_until="load")
        target = redirect_target(rel)
        if target:
            self.page.wait_for_url(self.base + target)
        settle(self.page)
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, site):
    opened = []

    def make(viewport=DESKTOP, **options):
        v = Visit(browser, site, viewport, **options)
        opened.append(v)
        return v

    yield make
    for v in opened:
        v.close()


# ---------------------------------------------------------------- helpers

SETTLE_JS = """
async () => {
  // 懒加载的图片改为立即加载，并等它们解码完
  const imgs = Array.from(document.images);
  imgs.forEach((img) => { if (img.loading === "lazy") img.loading = "eager"; });
  await Promise.all(imgs.map((img) => img.decode().catch(() => null)));
  // MathJax 排版完成（公式已在构建时排版；只有控件标签里有 TeX 时页面才按需加载 MathJax）
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
    if (window.MathJax.typesetPromise) await window.MathJax.typesetPromise();
  }
  await document.fonts.ready;
  return true;
}
"""

EXPLORERS_DRAWN_JS = """
() => Array.from(document.querySelectorAll(".optimlab-live")).every((ex) => ex.querySelector("canvas"))
"""


def settle(page):
    page.wait_for_load_state("load")
    page.wait_for_function(EXPLORERS_DRAWN_JS, timeout=20_000)
    page.evaluate(SETTLE_JS)
    page.wait_for_timeout(200)


#: 用了 content-visibility: auto 的节与 API 条目（book/_static/optimlab.css）
CONTAINED = ".bd-article section section:not(:has(section)), .bd-article section > dl.py"

WITHOUT_CONTAINMENT_JS = """
async (selector) => {
  const contained = Array.from(document.querySelectorAll(selector))
    .filter((s) => getComputedStyle(s).contentVisibility === "auto");
  const style = document.createElement("style");
  style.textContent = "* { content-visibility: visible !important; }";
  document.head.appendChild(style);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  // 这些节的内容若比节本身宽，开着 content-visibility 时溢出的部分会被裁掉
  return contained.filter((s) => s.scrollWidth > s.clientWidth + 1).map((s) => `#${s.id} (${s.scrollWidth} > ${s.clientWidth})`);
}
"""


def without_containment(page):
    """Switch content-visibility off on the page; return the contained sections whose content overflows them."""
    return page.evaluate(WITHOUT_CONTAINMENT_JS, CONTAINED)


def shot_name(rel, suffix):
    return rel.removesuffix(".html").replace("/", "__") + f"-{suffix}.png"


def assert_clean(v, rel):
    assert v.external == [], f"{rel}: requests to other hosts: {v.external}"
    assert v.failed == [], f"{rel}: failed loads: {v.failed}"
    assert v.errors == [], f"{rel}: console errors: {v.errors}"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """A fresh artifacts/screenshots/ for each run: emptied once, by the main process (not by each xdist worker)."""
    if not hasattr(session.config, "workerinput") and SCREENSHOTS.exists():
        for old in SCREENSHOTS.glob("*.png"):
            old.unlink()
