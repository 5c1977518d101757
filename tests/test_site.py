"""在真实浏览器里检查静态站点：Debian 的 Chromium（无头），由 Playwright 驱动（站点、浏览器与页面访问见 sitekit.py）。

应当有的页面来自 ``_toc.yml``，页面上应当有的图片、动画、控件与公式来自笔记本（``sitekit.expected``）：站点缺页、
缺元素，或 Playwright、Chromium 不在时，测试失败而不是跳过。每一页都打开两次（桌面宽度与 375×812 的手机），
截图存到 ``artifacts/screenshots/``。先运行 ``make book``（``make test`` 会在站点缺失或过期时自动构建）。
"""

from __future__ import annotations

import re

import pytest
from sitekit import (
    CONTAINED,
    CONTENT_PAGES,
    DESKTOP,
    HTML,
    NOTEBOOK_PAGES,
    PAGES,
    PHONE,
    ROOT,
    SCREENSHOTS,
    assert_clean,
    expected,
    is_redirect,
    page_source,
    shot_name,
    source_of,
    without_containment,
)

VISIBLE_TEXT_JS = """
() => {
  const main = document.querySelector("main") || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll("pre, code, script, style, mjx-container, .highlight").forEach((n) => n.remove());
  return clone.textContent;
}
"""


def has_sections(rel):
    """The page's source has second-level headings (or autodoc entries), so optimlab.css contains some of its parts."""
    if rel not in CONTENT_PAGES:
        return False
    text = source_of(rel.removesuffix(".html")).read_text(encoding="utf-8")
    return bool(re.search(r'(^|")##+ ', text, re.MULTILINE)) or "automodule" in text


# ---------------------------------------------------------------- every page


def test_site_has_every_page_of_the_toc():
    """The built pages are exactly those of _toc.yml plus Sphinx's own (search, index, module index)."""
    skip = {"_static", "_sources", "_images", "_downloads"}
    built = sorted(
        p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html") if not (set(p.relative_to(HTML).parts) & skip)
    )
    assert len(CONTENT_PAGES) > 10 and NOTEBOOK_PAGES
    assert sorted(PAGES) == built, f"expected from _toc.yml: {sorted(PAGES)}, built: {built}"


@pytest.mark.parametrize("rel", PAGES)
def test_page_desktop(visit, rel):
    """No other host, no console error, every image loads, math typeset, every explorer drawn in the browser."""
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
    if has_sections(rel):
        assert contained, f"{rel}: no section is contained (content-visibility: auto)"
    assert [c for c in contained if c != "auto"] == [], f"{rel}: sections not content-visibility: auto: {contained}"
    assert clipped == [], f"{rel}: these sections have content wider than themselves: {clipped}"

    broken = page.evaluate(
        "() => Array.from(document.images).filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.src)"
    )
    assert broken == [], f"{rel}: images that did not load: {broken}"
    want = expected(rel) if rel in CONTENT_PAGES else {"images": 0, "explorers": 0, "math": False}
    shown = page.evaluate(
        "() => ({images: document.querySelectorAll('.cell_output img').length,"
        " explorers: Array.from(document.querySelectorAll('.cell_output .optimlab-live'))"
        "   .filter((ex) => ex.querySelector('canvas')).length})"
    )
    assert shown["images"] >= want["images"], f"{rel}: the notebook has {want['images']} pictures, the page shows {shown}"
    assert shown["explorers"] == want["explorers"], f"{rel}: the notebook has {want['explorers']} explorers, the page draws {shown}"

    text = page.evaluate(VISIBLE_TEXT_JS)
    for raw in ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\frac"):
        assert raw not in text, f"{rel}: raw TeX {raw!r} is visible"
    if want["math"]:
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

    # 网页上没有内核：不保存 ipywidgets 的控件状态（拖得动却不会重画的控件），不加载控件管理器；
    # 探索器的模块只在有探索器的页面加载
    source = page_source(rel)
    assert "application/vnd.jupyter.widget-state+json" not in source, f"{rel}: saved widget state"
    assert "jupyter-widgets" not in page.evaluate("() => document.body.innerHTML"), f"{rel}: ipywidgets markup on the page"
    explorer_js = [u for u in v.requested if u.startswith("_static/optimlab/")]
    if not is_redirect(rel):
        assert bool(explorer_js) == bool(want["explorers"]), f"{rel}: explorer modules loaded: {explorer_js}"

    # 页面体量：不加载主题的 fontawesome.js（1.5 MB）；搜索脚本（含 searchindex.js）只在搜索页加载
    assert not [u for u in v.requested if u.endswith("fontawesome.js")], f"{rel}: loads fontawesome.js"
    search_js = [u for u in v.requested if u in ("searchindex.js", "_static/searchtools.js", "_static/language_data.js")]
    if rel != "search.html" and not is_redirect(rel):
        assert search_js == [], f"{rel}: loads the search scripts {search_js}"


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
    rel = NOTEBOOK_PAGES[0]
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


PHONE_LAYOUT_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const scrollsX = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  // 一个元素看得见的框：它自己可横向滚动时是它自己，否则是最近的可横向滚动的祖先（没有就是它自己）
  const box = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) if (scrollsX(e)) return e;
    return el;
  };
  const what = (el) => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ")[0] : "");
  const blocks = Array.from(document.querySelectorAll("main pre, main table, main mjx-container[display='true']"))
    .filter((el) => el.getClientRects().length > 0);
  const outside = [], stuck = [];
  let scrolling = 0;
  for (const el of blocks) {
    const r = box(el).getBoundingClientRect();
    if (r.left < -1 || r.right > width + 1) outside.push(`${what(el)} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
    if (el.scrollWidth > el.clientWidth + 1 || box(el) !== el) {
      const b = box(el);
      if (b.scrollWidth > b.clientWidth + 1) {
        if (scrollsX(b)) scrolling += 1;
        else stuck.push(what(el));
      }
    }
  }
  const explorers = Array.from(document.querySelectorAll(
    ".cell_output .optimlab-live, .cell_output .optimlab-live canvas"))
    .filter((el) => el.checkVisibility())
    .map((el) => { const r = el.getBoundingClientRect(); return {what: what(el), left: r.left, right: r.right, width: r.width}; });
  return {
    scroll: document.scrollingElement.scrollWidth, client: document.scrollingElement.clientWidth,
    blocks: blocks.length, outside, stuck, scrolling, explorers,
  };
}
"""

SIDEBAR_JS = """
() => {
  const bar = document.querySelector(".bd-sidebar-primary");
  const r = bar.getBoundingClientRect();
  return {open: bar.checkVisibility() && r.width > 100 && r.left >= -1 && r.right <= document.documentElement.clientWidth + 1,
          links: Array.from(bar.querySelectorAll("nav a.reference.internal")).filter((a) => a.checkVisibility()).length};
}
"""


@pytest.mark.parametrize("rel", PAGES)
def test_page_phone(visit, rel):
    """At 375×812 with touch: nothing scrolls the page sideways; wide code, tables and formulas scroll inside themselves;
    every picture and explorer of the notebook fits the screen; an explorer's slider follows a tap and the picture
    changes; the primary sidebar opens from its toggle and lists the book's pages."""
    v = visit(PHONE, has_touch=True, is_mobile=True)
    page = v.open(rel)
    assert_clean(v, rel)
    # content-visibility: auto 的节带绘制包含，溢出节边界的内容会被裁掉而不是撑宽页面：关掉它再量
    # （也让整页截图里视口外的节排版出来）
    clipped = without_containment(page)
    page.screenshot(path=str(SCREENSHOTS / shot_name(rel, "375px")), full_page=True)
    assert clipped == [], f"{rel}: at 375 px these sections have content wider than themselves: {clipped}"
    layout = page.evaluate(PHONE_LAYOUT_JS)
    if layout["scroll"] > layout["client"]:
        culprits = page.evaluate(
            """() => Array.from(document.querySelectorAll("main *")).filter((e) => {
                 const r = e.getBoundingClientRect(); return r.right > document.documentElement.clientWidth + 1;
               }).slice(0, 5).map((e) => e.tagName + "." + e.className)"""
        )
        pytest.fail(f"{rel}: page scrolls sideways at 375 px ({layout['scroll']} > {layout['client']}); widest: {culprits}")
    assert layout["outside"] == [], f"{rel}: blocks that stick out of the screen: {layout['outside']}"
    assert layout["stuck"] == [], f"{rel}: wider than their box but not scrollable: {layout['stuck']}"
    want = expected(rel) if rel in CONTENT_PAGES else {"images": 0, "explorers": 0}
    if want["images"] or want["explorers"]:
        # 代码一定有比 375 px 宽的行：确实有在自身内部横向滚动的块
        assert layout["scrolling"] > 0, f"{rel}: no code block scrolls inside itself at 375 px ({layout['blocks']} blocks)"
    explorers = layout["explorers"]
    live = page.locator(".cell_output .optimlab-live").count()  # 标签页里没选中的也算（它们不可见，不参加下面的宽度检查）
    assert live == want["explorers"], f"{rel}: {live} explorers at 375 px, the notebook has {want['explorers']}"
    assert not want["explorers"] or [e for e in explorers if e["what"].startswith("div.optimlab-live")], rel
    wide = [e for e in explorers if e["left"] < -1 or e["right"] > layout["client"] + 1 or e["width"] == 0]
    assert wide == [], f"{rel}: explorers that do not fit 375 px: {wide}"

    if want["explorers"]:
        live = page.locator(".optimlab-live").first
        slider, canvas = live.locator('input[type="range"]:enabled').first, live.locator("canvas").first
        slider.scroll_into_view_if_needed()
        before, value, box = canvas.evaluate("(c) => c.toDataURL()"), slider.input_value(), slider.bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
        page.wait_for_timeout(150)
        assert slider.input_value() != value, f"{rel}: tapping the explorer's first slider did not move it"
        assert canvas.evaluate("(c) => c.toDataURL()") != before, f"{rel}: tapping the slider changed nothing drawn"

    if not is_redirect(rel):
        page.evaluate("() => window.scrollTo(0, 0)")
        assert not page.evaluate(SIDEBAR_JS)["open"], f"{rel}: the primary sidebar is open before its toggle is touched"
        toggle = page.locator(".primary-toggle:visible")
        assert toggle.count() >= 1, f"{rel}: no visible primary sidebar toggle at 375 px"
        toggle.first.tap()
        page.wait_for_function(f"() => ({SIDEBAR_JS.strip()})().open", timeout=5_000)
        links = page.evaluate(SIDEBAR_JS)["links"]
        assert links >= len(CONTENT_PAGES) - 1, f"{rel}: the open sidebar lists {links} pages"
    assert_clean(v, rel)

# ---------------------------------------------------------------- launch buttons

def _repository():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = config["repository"]["url"].rstrip("/")
    return url.split("github.com/")[-1], config["repository"].get("branch", "main")


@pytest.mark.parametrize("rel", NOTEBOOK_PAGES)
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


def test_thebe_loads_from_the_site(visit):
    """Clicking "Launch Thebe" loads Thebe from _static/vendor; only then is Binder contacted."""
    v = visit(DESKTOP)
    page = v.open(NOTEBOOK_PAGES[0])
    assert v.external == []
    page.evaluate("() => initThebeSBT()")
    page.wait_for_function("() => typeof window.thebelab !== 'undefined'", timeout=20_000)
    assert page.evaluate("() => THEBE_JS_URL").endswith("_static/vendor/thebe/index.js")
    page.wait_for_timeout(1000)
    assert [url for url in v.external if "mybinder.org" not in url] == [], v.external


# ---------------------------------------------------------------- interface text (search: test_search.py)


def test_interface_text_is_chinese():
    """The toggle buttons (hints, collapsed code) speak Chinese, not the extensions' English defaults."""
    toggled = [rel for rel in PAGES if "toggleHintShow" in page_source(rel)]
    assert toggled, "no page loads sphinx-togglebutton's hint text"
    for rel in PAGES:
        src = page_source(rel)
        for english in ("Click to show", "Click to hide", "Show code cell", "Hide code cell"):
            assert english not in src, f"{rel}: {english!r}"
    for rel in toggled:
        assert "toggleHintShow = '点击展开'" in page_source(rel), rel


# ---------------------------------------------------------------- what the load-time measures must not break


def longest_page():
    """The content page with the most contained sections (the one where skipping matters most)."""
    return max(CONTENT_PAGES, key=lambda rel: page_source(rel).count("<section"))


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
@pytest.mark.parametrize("rel", ["book/api.html", "book/04_variants.html"])
def test_containment_moves_nothing(visit, rel):
    """Once every section has been laid out, the page is laid out exactly as without content-visibility:
    the margins moved onto the sections in optimlab.css keep the spacing, and nothing is clipped."""
    assert rel in CONTENT_PAGES, f"{rel} is no longer in _toc.yml: pick the two longest pages again"
    v = visit(PHONE)
    page = v.open(rel)
    scroll_through(page, PHONE)
    contained = page.evaluate(POSITIONS_JS)
    clipped = without_containment(page)
    plain = page.evaluate(POSITIONS_JS)
    assert clipped == []
    assert_nothing_moves(rel, PHONE, contained, plain)
