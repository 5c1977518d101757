"""在真实浏览器里检查静态站点：Debian 的 Chromium（无头），由 Playwright 驱动。

站点 ``_build/html`` 由本文件在 127.0.0.1 的空闲端口上提供；其他主机的请求一律拦截并记为失败。
每一页都打开两次（桌面宽度与 390 px 手机宽度），并把截图存到 ``artifacts/screenshots/``。
先运行 ``make book``（``make test`` 会在站点缺失或过期时自动构建）。
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
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
PHONE = {"width": 390, "height": 844}

#: 搜索词 -> 讲授它的章节（章节页面构建出来之后，搜索结果必须包含它）
SEARCH_TERMS = {
    "偏差校正": "book/03_bias_correction.html",
    "动量": "book/01_sgd.html",
    "学习率": "book/01_sgd.html",
}


def discover_pages():
    """所有构建出的 HTML 页面（相对 _build/html 的路径），不含 _static 等资源目录。"""
    if not (HTML / "index.html").is_file():
        return []
    skip = {"_static", "_sources", "_images", "_downloads"}
    return sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if not (set(p.relative_to(HTML).parts) & skip)
    )


PAGES = discover_pages()


def page_source(rel):
    return (HTML / rel).read_text(encoding="utf-8")


def is_notebook_page(rel):
    return (HTML / "_sources" / rel).with_suffix(".ipynb").is_file()


def redirect_target(rel):
    """The page a meta-refresh page (index.html) sends the reader to, or None."""
    if rel is None or not rel.endswith(".html") or "?" in rel:
        return None
    match = re.search(r'http-equiv="Refresh" content="\d+;\s*url=([^"]+)"', page_source(rel), re.IGNORECASE)
    return match and (Path(rel).parent / match.group(1)).as_posix().removeprefix("./")


def is_redirect(rel):
    return redirect_target(rel) is not None


def has_math(rel):
    return bool(re.search(r'class="math[ "]', page_source(rel)))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session", autouse=True)
def screenshots():
    """A fresh artifacts/screenshots/ for this run (CI keeps the folder)."""
    if SCREENSHOTS.exists():
        for old in SCREENSHOTS.glob("*.png"):
            old.unlink()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def site():
    """The built site on 127.0.0.1 (a free port); yields its base URL."""
    assert (HTML / "index.html").is_file(), "站点尚未构建：先运行 make book"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(HTML))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make test does)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Visit:
    """A browser context that blocks and records other hosts, console errors and failed loads."""

    def __init__(self, browser, base, viewport):
        self.base = base
        self.external, self.errors, self.failed, self.requested = [], [], [], []
        self.context = browser.new_context(viewport=viewport, service_workers="block")
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

    def make(viewport=DESKTOP):
        v = Visit(browser, site, viewport)
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

WIDGETS_RENDERED_JS = """
() => {
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
  const rendered = document.querySelectorAll(".widget-subarea > *, .jupyter-widgets.widget-container");
  return views.length === 0 || rendered.length >= views.length;
}
"""

VISIBLE_TEXT_JS = """
() => {
  const main = document.querySelector("main") || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll("pre, code, script, style, mjx-container, .highlight").forEach((n) => n.remove());
  return clone.textContent;
}
"""


def settle(page):
    page.wait_for_load_state("load")
    if page.evaluate("() => !!document.querySelector('script[type=\"application/vnd.jupyter.widget-view+json\"]')"):
        page.wait_for_function(WIDGETS_RENDERED_JS, timeout=20_000)
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


# ---------------------------------------------------------------- every page


def test_site_has_pages():
    assert PAGES, "站点尚未构建：先运行 make book"
    assert "search.html" in PAGES


@pytest.mark.parametrize("rel", PAGES)
def test_page_desktop(visit, rel):
    """No other host, no console error, every image loads, math typeset, widgets rendered."""
    v = visit(DESKTOP)
    page = v.open(rel)
    # 正文的节开着 content-visibility: auto（视口外的节不排版）
    contained = page.evaluate(
        "(sel) => Array.from(document.querySelectorAll(sel)).map((s) => getComputedStyle(s).contentVisibility)", CONTAINED
    )
    # 同一次加载里也检查：每一节都排版过一次之后，关掉 content-visibility 什么也不移动（书页）
    check_layout = rel.startswith("book/")
    if check_layout:
        scroll_through(page, DESKTOP)
        positions = page.evaluate(POSITIONS_JS)
    # 截图前关掉它：整页截图不会让视口外跳过的节排版，那些节会是空白；同时找出内容比节宽的节（开着时溢出会被裁掉）
    clipped = without_containment(page)
    if check_layout:
        assert_nothing_moves(rel, DESKTOP, positions, page.evaluate(POSITIONS_JS))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / shot_name(rel, "desktop")), full_page=True)

    assert_clean(v, rel)
    assert all(c == "auto" for c in contained), f"{rel}: sections not content-visibility: auto: {contained}"
    assert clipped == [], f"{rel}: these sections have content wider than themselves: {clipped}"

    broken = page.evaluate(
        "() => Array.from(document.images).filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.src)"
    )
    assert broken == [], f"{rel}: images that did not load: {broken}"

    text = page.evaluate(VISIBLE_TEXT_JS)
    for raw in ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\frac"):
        assert raw not in text, f"{rel}: raw TeX {raw!r} is visible"
    if has_math(rel) and not is_redirect(rel):
        # 公式在构建时排版成静态 CHTML：每个 .math 元素里有一个 mjx-container，没有 TeX 错误
        n_math = page.locator(".math").count()
        n_typeset = page.locator(".math > mjx-container[jax='CHTML']").count()
        assert n_typeset == n_math > 0, f"{rel}: {n_math} math elements but {n_typeset} typeset"
        assert page.locator("mjx-merror, [data-mjx-error]").count() == 0, f"{rel}: MathJax reported a TeX error"
        # 公式真的画出来了：有宽度，MathJax 的字体已加载（不是方框或回退字体）
        empty = page.evaluate(
            "() => Array.from(document.querySelectorAll('.math > mjx-container'))"
            ".filter((c) => c.getBoundingClientRect().width < 1 && c.offsetParent !== null).length"
        )
        assert empty == 0, f"{rel}: {empty} visible formulas have no width"
        fonts = page.evaluate(
            "() => Array.from(document.fonts).filter((f) => f.status === 'loaded').map((f) => f.family)"
        )
        assert any(f.startswith("MJXTEX") for f in fonts), f"{rel}: no MathJax font loaded: {fonts}"
        # 页面不再加载 MathJax 本身（控件标签里有 TeX 时才在 load 之后按需加载）
        assert not [u for u in v.requested if u.startswith("_static/vendor/mathjax/") and u.endswith(".js")], (
            f"{rel}: loads client-side MathJax"
        )

    has_widgets = "application/vnd.jupyter.widget-state+json" in page_source(rel)
    if has_widgets:
        assert page.locator(".jupyter-widgets").count() > 0, f"{rel}: embedded widgets did not render"
        assert "Error displaying widget" not in page.inner_text("body")
        assert page.locator(".jupyter-widgets-disconnected").count() == 0 or page.evaluate(
            "() => getComputedStyle(document.querySelector('.jupyter-widgets-disconnected'), '::before').content"
        ) in ("none", "normal"), f"{rel}: widgets show the 'disconnected' marker"

    # 页面体量：不加载主题的 fontawesome.js（1.5 MB），控件管理器只在有控件状态的页面加载；
    # 搜索脚本（含 searchindex.js）只在搜索页加载
    assert not [u for u in v.requested if u.endswith("fontawesome.js")], f"{rel}: loads fontawesome.js"
    search_js = [u for u in v.requested if u in ("searchindex.js", "_static/searchtools.js", "_static/language_data.js")]
    if rel != "search.html" and not is_redirect(rel):
        assert search_js == [], f"{rel}: loads the search scripts {search_js}"
    manager = [u for u in v.requested if u.startswith("_static/vendor/widgets/")]
    if not is_redirect(rel):
        assert bool(manager) == has_widgets, f"{rel}: widget manager loaded: {manager}, widget state: {has_widgets}"


THEME_ICONS_JS = """
() => Array.from(document.querySelectorAll("i.fa-solid, i.fas, i.fab, i.fa-brands"))
  .filter((i) => i.getBoundingClientRect().width > 0)
  .map((i) => {
    const before = getComputedStyle(i, "::before");
    return {cls: i.className, content: before.content, font: before.fontFamily, weight: before.fontWeight,
            width: i.getBoundingClientRect().width};
  })
"""


def test_theme_icons_render_from_the_web_font(visit):
    """Without the theme's fontawesome.js the header icons are drawn by Font Awesome's web font."""
    rel = NOTEBOOK_PAGES[0] if NOTEBOOK_PAGES else "search.html"
    page = visit(DESKTOP).open(rel)
    icons = page.evaluate(THEME_ICONS_JS)
    assert len(icons) >= 5, icons
    for icon in icons:
        assert icon["content"] not in ("none", "normal", '""'), icon
        assert "Font Awesome" in icon["font"], icon
        assert icon["width"] >= 8, icon
    fonts = page.evaluate(
        "() => Array.from(document.fonts).filter((f) => f.status === 'loaded').map((f) => f.family)"
    )
    assert any("Font Awesome 6 Free" in f for f in fonts), fonts
    assert any("Font Awesome 6 Brands" in f for f in fonts), fonts


@pytest.mark.parametrize("rel", PAGES)
def test_page_phone_width(visit, rel):
    """At 390 px nothing forces the page to scroll sideways."""
    v = visit(PHONE)
    page = v.open(rel)
    assert_clean(v, rel)
    # content-visibility: auto 的节带绘制包含，溢出节边界的内容会被裁掉而不是撑宽页面：关掉它再量
    # （也让整页截图里视口外的节排版出来）
    clipped = without_containment(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / shot_name(rel, "390px")), full_page=True)
    assert clipped == [], f"{rel}: at 390 px these sections have content wider than themselves: {clipped}"
    width = page.evaluate(
        "() => ({scroll: document.scrollingElement.scrollWidth, client: document.scrollingElement.clientWidth})"
    )
    if width["scroll"] > width["client"]:
        culprits = page.evaluate(
            """() => Array.from(document.querySelectorAll("main *")).filter((e) => {
                 const r = e.getBoundingClientRect(); return r.right > document.documentElement.clientWidth + 1;
               }).slice(0, 5).map((e) => e.tagName + "." + e.className)"""
        )
        pytest.fail(f"{rel}: page scrolls sideways at 390 px ({width}); widest: {culprits}")


# ---------------------------------------------------------------- launch buttons

NOTEBOOK_PAGES = [rel for rel in PAGES if is_notebook_page(rel)]


def _repository():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = config["repository"]["url"].rstrip("/")
    return url.split("github.com/")[-1], config["repository"].get("branch", "main")


@pytest.mark.parametrize("rel", NOTEBOOK_PAGES or [pytest.param(None, marks=pytest.mark.skip("no notebook page"))])
def test_launch_buttons(visit, rel):
    """Binder and Thebe buttons sit in the page header; Binder points at this notebook in the repository."""
    repo, branch = _repository()
    page = visit(DESKTOP).open(rel)
    assert page.locator(".dropdown-launch-buttons button.dropdown-toggle").is_visible()
    binder = page.locator('.dropdown-launch-buttons a[href*="mybinder.org/v2/gh/"]')
    assert binder.count() == 1
    href = binder.get_attribute("href")
    assert href.startswith(f"https://mybinder.org/v2/gh/{repo}/{branch}?")
    assert href.endswith(rel.removesuffix(".html") + ".ipynb")
    assert page.locator(".dropdown-launch-buttons .btn-launch-thebe").count() == 1
    # 源码仓库按钮
    assert page.locator(f'a[href="https://github.com/{repo}"]').count() >= 1


@pytest.mark.skipif(not NOTEBOOK_PAGES, reason="no notebook page")
def test_thebe_loads_from_the_site(visit):
    """Clicking "Launch Thebe" loads Thebe from _static/vendor; only then is Binder contacted."""
    v = visit(DESKTOP)
    page = v.open(NOTEBOOK_PAGES[0])
    assert v.external == []
    page.evaluate("() => initThebeSBT()")
    page.wait_for_function("() => typeof window.thebelab !== 'undefined'", timeout=20_000)
    assert page.evaluate("() => THEBE_JS_URL").endswith("_static/vendor/thebe/index.js")
    page.wait_for_timeout(1000)
    assert all("mybinder.org" in url for url in v.external), v.external


# ---------------------------------------------------------------- search


def search_results(v, term):
    page = v.open(f"search.html?q={quote(term)}")
    page.wait_for_function(
        "() => { const s = document.querySelector('#search-results'); "
        "return s && (s.querySelector('ul.search li') || /\\d|没有|未找到|not/i.test(s.innerText)); }",
        timeout=20_000,
    )
    page.wait_for_timeout(300)
    hrefs = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map((a) => a.href)")
    return sorted({h.split("?")[0].split("#")[0].removeprefix(v.base) for h in hrefs})


def pages_mentioning(term):
    return [rel for rel in PAGES if rel.startswith("book/") and term in page_source(rel)]


@pytest.mark.parametrize("term", list(SEARCH_TERMS))
def test_chinese_search(visit, term):
    chapter = SEARCH_TERMS[term]
    mentioning = pages_mentioning(term)
    if not mentioning:
        pytest.skip(f"no page mentions {term} yet")
    v = visit(DESKTOP)
    results = search_results(v, term)
    v.page.screenshot(path=str(SCREENSHOTS / f"search-{term}-desktop.png"), full_page=True)
    assert_clean(v, "search.html")
    assert results, f"search for {term} found nothing, though {mentioning} mention it"
    assert set(results) <= set(PAGES)
    if chapter in PAGES:
        assert chapter in results, f"search for {term}: {results} lacks {chapter}"


def test_search_index_keeps_dictionary_words():
    """jieba with book/zh_dict.txt indexes whole terms such as 偏差校正, so a search for them matches."""
    index = (HTML / "searchindex.js").read_text(encoding="utf-8")
    data = json.loads(index[index.index("(") + 1 : index.rindex(")")])
    terms = set(data["terms"]) | set(data["titleterms"])
    present = [t for t in SEARCH_TERMS if pages_mentioning(t)]
    if not present:
        pytest.skip("no page mentions the search terms yet")
    for term in present:
        assert term in terms, f"{term} is not a term of the search index"


def test_interface_text_is_chinese():
    """The toggle buttons (hints, collapsed code) speak Chinese, not the extensions' English defaults."""
    assert PAGES, "the site is not built"
    toggled = [rel for rel in PAGES if "toggleHintShow" in page_source(rel)]
    assert toggled, "no page loads sphinx-togglebutton's hint text"
    for rel in PAGES:
        src = page_source(rel)
        for english in ("Click to show", "Click to hide", "Show code cell", "Hide code cell"):
            assert english not in src, f"{rel}: {english!r}"
    for rel in toggled:
        assert "toggleHintShow = '点击展开'" in page_source(rel), rel


# ---------------------------------------------------------------- static explorers


def animation_pages():
    return [rel for rel in PAGES if 'class="animation"' in page_source(rel)]


def test_static_explorer_sliders_change_the_picture(visit):
    """Every matplotlib to_jshtml animation: moving its slider shows another frame."""
    pages = animation_pages()
    if not pages:
        pytest.skip("no page has a static explorer (to_jshtml animation) yet")
    for rel in pages:
        v = visit(DESKTOP)
        page = v.open(rel)
        animations = page.locator("div.animation")
        assert animations.count() > 0
        for i in range(animations.count()):
            anim = animations.nth(i)
            anim.scroll_into_view_if_needed()
            img = anim.locator("img").first
            slider = anim.locator('input[type="range"]').first
            before = img.get_attribute("src")
            assert before and before.startswith("data:image"), f"{rel}: animation {i} shows no frame"
            top = int(slider.get_attribute("max"))
            assert top > 0, f"{rel}: animation {i} has a single frame"
            slider.evaluate(
                "(s, v) => { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); "
                "s.dispatchEvent(new Event('change', {bubbles: true})); }",
                top,
            )
            page.wait_for_timeout(100)
            after = img.get_attribute("src")
            assert after != before, f"{rel}: moving animation {i}'s slider did not change the picture"
        assert_clean(v, rel)


# ---------------------------------------------------------------- what the load-time measures must not break


def longest_page():
    """The content page with the most contained sections (the one where skipping matters most)."""
    pages = [rel for rel in PAGES if rel.startswith("book/") and not is_redirect(rel)]
    return max(pages, key=lambda rel: page_source(rel).count("<section"), default=None)


TAB_STOPS_JS = """
() => Array.from(document.querySelectorAll("pre, .cell_output > .output, .pst-scrollable-table-container"))
  .filter((el) => el.checkVisibility({contentVisibilityAuto: true}))
  .map((el) => ({
    overflows: el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight,
    tabindex: el.getAttribute("tabindex"),
    what: el.tagName + "." + el.className,
    skippedAtLoad: el.dataset.skippedAtLoad === "1",
  }))
"""


def test_offscreen_sections_are_skipped_and_get_tab_stops_when_shown(visit):
    """Sections far below the fold are not laid out at load; once scrolled to, their scrollable code blocks
    become tab stops (optimlab-tabstops.js, which replaces the theme's whole-page check)."""
    rel = longest_page()
    if rel is None:
        pytest.skip("no content page yet")
    v = visit(PHONE)
    page = v.open(rel)
    skipped = page.evaluate(
        "(sel) => Array.from(document.querySelectorAll(sel))"
        ".filter((s) => s.firstElementChild && !s.firstElementChild.checkVisibility({contentVisibilityAuto: true})).length",
        CONTAINED,
    )
    assert skipped > 0, f"{rel}: no section is skipped at load"
    # the theme's own load-time check is switched off in the built theme script
    theme = (HTML / "_static" / "scripts" / "pydata-sphinx-theme.js").read_text(encoding="utf-8")
    assert "optimlab: addTabStopsToScrollableElements" in theme
    assert 'window.addEventListener("load",' not in theme.split("optimlab: addTabStops")[-1]

    # 记下 load 时被跳过的代码块与输出，再滚到页面末尾：那里的元素只能靠节开始排版时的按需检查拿到 Tab 顺序
    # （先等控件渲染引起的那次延迟 300 ms 的全页检查过去）
    page.wait_for_timeout(700)
    page.evaluate(
        """() => document.querySelectorAll("pre, .cell_output > .output, .pst-scrollable-table-container")
             .forEach((el) => { if (!el.checkVisibility({contentVisibilityAuto: true})) el.dataset.skippedAtLoad = "1"; })"""
    )
    page.evaluate(
        """async () => {
             const blocks = document.querySelectorAll("pre");
             blocks[blocks.length - 1].scrollIntoView();
             for (let i = 0; i < 3; i++) await new Promise((r) => requestAnimationFrame(r));
           }"""
    )
    page.wait_for_timeout(300)
    checked = page.evaluate(TAB_STOPS_JS)
    late = [c for c in checked if c["skippedAtLoad"]]
    assert late, f"{rel}: nothing that was skipped at load got laid out after scrolling to the end"
    wrong = [c for c in checked if c["tabindex"] != ("0" if c["overflows"] else "-1")]
    assert wrong == [], f"{rel}: wrong tab stops: {wrong[:5]}"
    assert any(c["overflows"] for c in late), f"{rel}: no scrollable block near the end at 390 px to check"
    assert_clean(v, rel)


def test_link_to_a_late_section_lands_on_its_heading(visit):
    """Following a link to a heading near the end of a long page puts the heading where it would be without
    content-visibility (the sections before it have not been laid out), with the same space above it."""
    rel = longest_page()
    if rel is None:
        pytest.skip("no content page yet")
    ids = re.findall(r'<section id="([^"]+)"', page_source(rel))
    target = ids[-2] if len(ids) > 2 else ids[-1]
    where = """(id) => {
      const s = document.getElementById(id), h = s.querySelector('h1, h2, h3, h4, h5, h6');
      const before = s.previousElementSibling;
      return {top: h.getBoundingClientRect().top, gap: before ? h.getBoundingClientRect().top - before.getBoundingClientRect().bottom : null};
    }"""
    for viewport in (DESKTOP, PHONE):
        v = visit(viewport)
        page = v.open(f"{rel}#{target}")
        page.wait_for_timeout(300)
        contained = page.evaluate(where, target)
        without_containment(page)
        page.evaluate("(id) => document.getElementById(id).scrollIntoView()", target)
        page.wait_for_timeout(300)
        plain = page.evaluate(where, target)
        assert 0 <= contained["top"] < viewport["height"] / 3, f"{rel}#{target}: heading at {contained}"
        assert abs(contained["top"] - plain["top"]) <= 1, f"{rel}#{target} at {viewport['width']} px: {contained} vs {plain}"
        if plain["gap"] is not None:
            assert abs(contained["gap"] - plain["gap"]) <= 1, f"{rel}#{target}: space above the heading {contained} vs {plain}"
        assert_clean(v, rel)


POSITIONS_JS = """
() => Array.from(document.querySelectorAll(".bd-article :is(h1, h2, h3, h4, h5, h6, dt, p, pre, img, table, li)"))
  .map((e) => Math.round(e.getBoundingClientRect().top + window.scrollY))
"""


SCROLL_THROUGH_JS = """
async (step) => {
  // 每滚一次等三帧：浏览器在渲染帧里判断哪些节到了视口附近，下一帧才排版它们
  const frames = async (n) => { for (let i = 0; i < n; i++) await new Promise((r) => requestAnimationFrame(r)); };
  for (let y = 0; y < document.documentElement.scrollHeight; y += step) {
    window.scrollTo(0, y);
    await frames(3);
  }
  window.scrollTo(0, 0);
  await frames(3);
}
"""


def scroll_through(page, viewport):
    """Scroll the whole page by half screens, so that every skipped section is laid out once."""
    page.evaluate(SCROLL_THROUGH_JS, viewport["height"] // 2)


def assert_nothing_moves(rel, viewport, contained, plain):
    """Element positions with content-visibility on (every section laid out once) equal those with it off."""
    assert len(contained) == len(plain) > 0, f"{rel}: no element to compare"
    moved = [(i, a, b) for i, (a, b) in enumerate(zip(contained, plain)) if abs(a - b) > 1]
    assert moved == [], f"{rel} at {viewport['width']} px: {len(moved)} elements move when containment is off: {moved[:5]}"


# 桌面宽度的同一检查在 test_page_desktop 里，与截图共用一次页面加载；这里是手机宽度下最长的两页。
@pytest.mark.parametrize("rel", [rel for rel in PAGES if rel in ("book/api.html", "book/04_variants.html")])
def test_containment_moves_nothing(visit, rel):
    """Once every section has been laid out, the page is laid out exactly as without content-visibility:
    the margins moved onto the sections in optimlab.css keep the spacing, and nothing is clipped."""
    v = visit(PHONE)
    page = v.open(rel)
    scroll_through(page, PHONE)
    contained = page.evaluate(POSITIONS_JS)
    clipped = without_containment(page)
    plain = page.evaluate(POSITIONS_JS)
    assert clipped == []
    assert_nothing_moves(rel, PHONE, contained, plain)


def test_search_result_opens_with_the_term_highlighted(visit):
    """Clicking a search result opens the chapter with the searched word highlighted (sphinx_highlight.js only
    does that on pages that do not load the search scripts)."""
    term, chapter = "偏差校正", SEARCH_TERMS["偏差校正"]
    if chapter not in PAGES or not pages_mentioning(term):
        pytest.skip("the chapter is not built yet")
    v = visit(DESKTOP)
    search_results(v, term)
    link = v.page.locator(f'#search-results ul.search li a[href*="{Path(chapter).name}"]').first
    with v.page.expect_navigation(wait_until="load"):
        link.click()
    v.page.wait_for_function("() => document.querySelectorAll('span.highlighted').length > 0", timeout=10_000)
    words = v.page.eval_on_selector_all("span.highlighted", "els => els.map((e) => e.textContent)")
    assert words and all(w.lower() == term for w in words), words
    assert_clean(v, chapter)
