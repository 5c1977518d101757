"""网页上的实时探索器（optimlab/web/explorer.mjs）在 Chromium 里真的动：每个控件都改变画面，起点拖得动，
收敛图点得动，播放与单步改变画面，方向键移动获得焦点的滑块，手机宽度（375 px）上同样如此，没有控制台错误。

探索器的清单来自 :data:`optimlab.widgets.controls.DEFINITIONS`：每个定义找到用它的 ``Explorer`` 子类，以默认参数
构造，:func:`optimlab.widgets.page.live_html` 写成一页，与仓库根目录一起在 127.0.0.1 上提供（模块按站点上的
相对位置导入）；其他主机的请求一律拦截。最后一个测试检查构建出的站点：笔记本里有探索器输出的每一章，页面上的
每个控件在 1280 px 与 375 px 宽时都改变画面（站点或探索器缺失时失败）。所有测试共用 sitekit 的一个 Chromium。
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from sitekit import DESKTOP, NOTEBOOK_PAGES, PHONE, SCREENSHOTS, assert_clean, source_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from localserver import serve  # noqa: E402

pytestmark = pytest.mark.browser

# ---------------------------------------------------------------- driving an explorer in the page

#: 在页面里移动一个探索器的每个控件。画面的指纹是它的画布像素的哈希（收敛图除外：它在后台线程里一行一行地
#: 算出，何时算完与控件无关），等“画完且空闲”（没有待画的帧、主线程没有分帧的工作：data-busy 为空）之后再取。
#: 禁用的控件先切换下拉菜单直到它可用（如 κ 只在二次函数上可用）。
DRIVER_JS = r"""
(() => {
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  async function idle(root) {
    for (let i = 0; i < 600; i++) {
      await frame();
      if (!root.dataset.busy) { await frame(); return; }
    }
    throw new Error("explorer stays busy");
  }
  function hash(root) {
    let h = 2166136261;
    for (const c of root.querySelectorAll("canvas:not(.optimlab-live-map)")) {
      if (!c.width || !c.height) continue;
      const d = new Uint32Array(c.getContext("2d").getImageData(0, 0, c.width, c.height).data.buffer);
      for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 16777619);
    }
    return h >>> 0;
  }
  function fire(input) {
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }
  /** 换一个取值：滑块到离当前值最远的一端，开关取反，下拉菜单换下一项。 */
  function move(input) {
    if (input.type === "checkbox") input.checked = !input.checked;
    else if (input.tagName === "SELECT") input.selectedIndex = (input.selectedIndex + 1) % input.options.length;
    else {
      const v = Number(input.value), lo = Number(input.min), hi = Number(input.max);
      input.value = hi - v > v - lo ? hi : lo;
    }
    fire(input);
  }
  async function enable(root, input) {
    for (const sel of root.querySelectorAll("select")) {
      if (sel === input) continue;
      for (let k = 0; k < sel.options.length && input.disabled; k++) { move(sel); await idle(root); }
      if (!input.disabled) return;
    }
  }
  return {
    idle, hash, move,
    /** 每个控件：[名字, 改变画面?, 移动后的读数] */
    async controls(root) {
      const out = [];
      for (const input of root.querySelectorAll(".optimlab-live-controls input[data-control], .optimlab-live-controls select[data-control]")) {
        if (input.disabled) await enable(root, input);
        await idle(root);
        const before = hash(root);
        move(input);
        await idle(root);
        out.push([input.dataset.control, !input.disabled && hash(root) !== before]);
      }
      return out;
    },
  };
})()
"""


def install(page):
    page.evaluate(f"() => {{ window.__drive = {DRIVER_JS}; }}")


def check_every_control(page, index=None):
    """页面上（或第 ``index`` 个）每个探索器的每个控件移动后画面都变了；返回 {探索器: [控件]}。"""
    install(page)
    result = page.evaluate(
        """async (index) => {
          const roots = Array.from(document.querySelectorAll(".optimlab-live"));
          const out = {};
          for (const [i, root] of roots.entries()) {
            if (index !== null && i !== index) continue;
            const tab = root.closest(".optimlab-live-tabs");
            if (tab) tab.querySelector(`.optimlab-live-tabbar button:nth-child(${roots.filter((r) => r.closest(".optimlab-live-tabs") === tab).indexOf(root) + 1})`).click();
            root.scrollIntoView();
            out[`${i}:${root.dataset.explorer}`] = await window.__drive.controls(root);
          }
          return out;
        }""",
        index,
    )
    dead = {name: [c for c, changed in rows if not changed] for name, rows in result.items()}
    assert all(rows for rows in result.values()), f"explorers without controls: {result}"
    assert not any(dead.values()), f"controls that do not change the picture: {dead}"
    return result


# ---------------------------------------------------------------- the explorers, from the definitions


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@functools.lru_cache(maxsize=None)
def explorers():
    """名称 → 以默认参数构造的探索器：每个定义一个（定义登记在 DEFINITIONS；用它的类自己声明 ``definition``）。"""
    import optimlab.widgets_more  # noqa: F401  第 8–10 章的探索器在这里登记
    from optimlab.widgets.base import Explorer
    from optimlab.widgets.controls import DEFINITIONS

    classes = {c.definition.name: c for c in _subclasses(Explorer) if "definition" in c.__dict__}
    assert set(classes) == set(DEFINITIONS), f"definitions without an explorer class: {set(DEFINITIONS) - set(classes)}"
    out = {}
    for name, cls in classes.items():
        # 敏感度图只算所选的那一张网格（书中的探索器预先算好全部曲面 × 优化器，与网页无关）
        kw = {"precompute": False} if "precompute" in inspect.signature(cls).parameters else {}
        out[name] = cls(**kw)
    return out


NAMES = sorted(__import__("optimlab.widgets.controls", fromlist=["DEFINITIONS"]).DEFINITIONS)


def live_page(body: str) -> str:
    """一页：explorer.css、探索器的 HTML 与 explorer.mjs（从仓库根目录提供，路径同站点上的相对布局）。"""
    return ('<!doctype html><html data-theme="light"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="stylesheet" href="/optimlab/web/explorer.css"></head><body style="margin: 0 8px">'
            f'{body}<script type="module" src="/optimlab/web/explorer.mjs"></script></body></html>')


@pytest.fixture(scope="module")
def pages():
    """{name: HTML}：每个探索器一页，再加一页标签页（第 4 章的做法）。"""
    from optimlab.widgets.base import Tabs
    from optimlab.widgets.page import live_html

    ex = explorers()
    out = {name: live_page(live_html(ex[name])) for name in NAMES}
    out["tabs"] = live_page(live_html(Tabs({"甲": ex["reddi"], "乙": ex["adamw"]}, "tabs")))
    return out


@pytest.fixture(scope="module")
def live(browser, pages):
    """一个浏览器上下文：仓库根目录 + /live/<name>.html；记录其他主机、失败的加载与控制台错误。"""
    server, base = serve(ROOT)
    seen = {"external": [], "errors": [], "failed": []}
    context = browser.new_context(viewport=DESKTOP, service_workers="block")

    def route(r):
        url = r.request.url
        if url.startswith(base + "live/"):
            r.fulfill(status=200, content_type="text/html", body=pages[url.removeprefix(base + "live/").removesuffix(".html")])
        elif url.startswith(base):
            r.continue_()
        else:
            seen["external"].append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("response", lambda r: r.status >= 400 and seen["failed"].append(f"{r.status} {r.url}"))

    def open_(name, viewport=DESKTOP):
        page.set_viewport_size(viewport)
        page.goto(f"{base}live/{name}.html")
        page.wait_for_function("() => Array.from(document.querySelectorAll('.optimlab-live')).every((e) => e.dataset.live)")
        install(page)
        return page

    yield open_, seen
    context.close()
    server.shutdown()
    server.server_close()
    assert seen == {"external": [], "errors": [], "failed": []}


def picture(page, root=".optimlab-live"):
    return page.evaluate("async (sel) => { const r = document.querySelector(sel); await window.__drive.idle(r); return window.__drive.hash(r); }", root)


@pytest.mark.parametrize("name", NAMES)
def test_every_control_changes_the_picture(live, name):
    """桌面宽度与 375 px：每个控件都改变画面；运行后回退文字隐藏；手机上不横向溢出。"""
    open_, seen = live
    page = open_(name, DESKTOP)
    assert page.locator(".optimlab-live-fallback").is_hidden()
    for viewport in (DESKTOP, PHONE):  # 同一页，改变宽度（探索器随之重排、重画）
        page.set_viewport_size(viewport)
        check_every_control(page)
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= viewport["width"], f"{name} at {viewport['width']} px: the page is {wide} px wide"
        assert seen["errors"] == [], seen["errors"]


@pytest.mark.parametrize("name", [n for n in NAMES if n in ("sgd", "sensitivity", "adamw")])
def test_dragging_the_start_point_changes_the_trajectory(live, name):
    open_, _ = live
    page = open_(name)
    canvas = page.locator("canvas[style*='touch-action: none']").first
    canvas.scroll_into_view_if_needed()
    before = picture(page)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4, steps=4)
    page.mouse.up()
    assert picture(page) != before


@pytest.mark.parametrize("name, y", [("sgd", "momentum"), ("adam", "beta1"), ("sensitivity", "second")])
def test_clicking_the_map_sets_the_learning_rate_and_the_second_hyperparameter(live, name, y):
    open_, _ = live
    page = open_(name)
    picture(page)
    read = "(n) => Object.fromEntries(Array.from(document.querySelectorAll('.optimlab-live-controls input[type=range]')).map((i) => [i.dataset.control, i.value]))"
    before = page.evaluate(read, None)
    canvas = page.locator("canvas.optimlab-live-map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.3})
    picture(page)
    after = page.evaluate(read, None)
    assert after["lr"] != before["lr"] and after[y] != before[y], (before, after)


@pytest.mark.parametrize("name", ["sgd", "bias_correction", "scheduler"])
def test_play_and_single_step_change_the_picture(live, name):
    open_, _ = live
    page = open_(name)
    full = picture(page)
    page.get_by_role("button", name="« 从头").click()
    start = picture(page)
    assert start != full
    page.get_by_role("button", name="单步 ›").click()
    stepped = picture(page)
    assert stepped != start
    page.get_by_role("button", name="▶ 播放").click()
    page.wait_for_timeout(400)
    playing = page.evaluate("() => window.__drive.hash(document.querySelector('.optimlab-live'))")
    page.get_by_role("button", name="‖ 暂停").click()
    assert playing != stepped


def test_arrow_key_on_a_focused_slider(live):
    open_, _ = live
    page = open_("sgd")
    before = picture(page)
    slider = page.locator("input[data-control=lr]")
    value = slider.input_value()
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert slider.input_value() != value
    assert picture(page) != before


def test_tabs_show_one_explorer_at_a_time(live):
    open_, _ = live
    page = open_("tabs")
    assert page.locator(".optimlab-live-tabbar [role=tab]").all_inner_texts() == ["甲", "乙"]
    assert page.locator(".optimlab-live:visible").count() == 1
    page.get_by_role("tab", name="乙").click()
    assert page.locator(".optimlab-live[data-explorer=adamw]").is_visible()
    check_every_control(page, index=1)


def test_dark_theme_redraws(live):
    open_, _ = live
    page = open_("sgd")
    light = picture(page)
    page.evaluate("() => { document.documentElement.dataset.theme = 'dark'; }")
    assert picture(page) != light


# ---------------------------------------------------------------- the built site


def explorer_pages():
    """笔记本里有探索器输出（text/html 中含 optimlab-live）的章节页，及每页的探索器个数。"""
    out = {}
    for rel in NOTEBOOK_PAGES:
        cells = json.loads(source_of(rel.removesuffix(".html")).read_text(encoding="utf-8"))["cells"]
        n = sum("".join(o.get("data", {}).get("text/html", [])).count('class="optimlab-live"')
                for c in cells for o in c.get("outputs", []))
        if n:
            out[rel] = n
    return out


def test_built_site_every_control_changes_the_picture(visit):
    """构建出的站点：每一章的每个探索器都在运行，每个控件在 1280 px 与 375 px 宽时都改变画面。"""
    want = explorer_pages()
    assert want, "no notebook has a live explorer output (optimlab.widgets.page.live_html)"
    for rel, n in want.items():
        v = visit(DESKTOP)
        page = v.page
        page.goto(v.base + rel)  # 不等图片解码与字体（test_site.py 检查那些）
        page.wait_for_function(
            "(n) => document.querySelectorAll('.optimlab-live[data-live]').length >= n", arg=n, timeout=10_000)
        for viewport in (DESKTOP, PHONE):  # 同一页，改变宽度
            page.set_viewport_size(viewport)
            check_every_control(page)
        page.screenshot(path=str(SCREENSHOTS / (rel.replace("/", "__")[:-5] + "-live-phone.png")))
        assert_clean(v, rel)
