"""深色模式：主题切到 dark 之后，每一页的每张图（笔记本输出的图、探索器的画面）和探索器的文字都看得清。

每一页的图按原始像素大小一张接一张固定在视口左侧截屏（主题与 book/_static/optimlab.css 给它们的滤镜、底色照常作用，
截图与图片像素一一对应）。从图片本身的像素找出“文字像素”：浅色模式下（图放在白纸上）与图的底色对比度够 4.5:1 的
无彩色像素，即文字、刻度、坐标轴；再在截图里量这些像素与它们周围底色（窗口内底色像素的平均）的对比度（WCAG 2
的相对亮度公式）。一张图取这些像素对比度的 5% 分位数，要求不低于 4.5:1。探索器的控件文字（标签、读数、按钮）
用计算出的颜色与有效背景色算对比度。书里的图现在都是白底不透明的；另有一张由页面上的图做成的透明背景版本，
检查 optimlab.css 垫的白底（去掉这条规则，它只有约 4:1）。
"""

from __future__ import annotations

import base64
import io
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image
from sitekit import CONTENT_PAGES, HTML, SCREENSHOTS, assert_clean, expected, shot_name

WCAG_TEXT = 4.5
#: 量图时的视口：比最宽的图宽，图按原始像素大小、设备像素比 1 截屏，截图与图片像素一一对应
MEASURE = {"width": 1440, "height": 900}
FIGURE_PAGES = [rel for rel in CONTENT_PAGES if sum(expected(rel)[k] for k in ("images", "explorers"))]
FIGURES = ".cell_output img"
#: 每张图的结果（页面, 序号, 对比度）与每页控件文字的最低对比度，测试结束时打印最差的
RESULTS, CONTROLS = [], []

FIGURES_JS = """
async (selector) => {
  const figures = [];
  let top = 0;
  for (const img of document.querySelectorAll(selector)) {
    // 控件里暂时不显示的图（未选中的标签页）不量
    if (!img.checkVisibility()) { figures.push({shown: false}); continue; }
    // 图所在的节若因 content-visibility: auto 被跳过，固定定位的它也不绘制：沿途的祖先都改成 visible
    for (let e = img.parentElement; e; e = e.parentElement) {
      if (getComputedStyle(e).contentVisibility === "auto") e.style.contentVisibility = "visible";
    }
    // 图片本身的像素：文件与 data: 地址由 Python 直接读；控件画面（blob: 地址）经 canvas 取出
    let src = img.src;
    if (src.startsWith("blob:")) {
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      canvas.getContext("2d").drawImage(img, 0, 0);
      src = canvas.toDataURL("image/png");
    }
    figures.push({shown: true, src, top, width: img.naturalWidth, height: img.naturalHeight});
    top += img.naturalHeight;
  }
  // 每张图按原始大小固定在视口左侧，一张接一张往下排（仍是原来的元素，主题与 optimlab.css 给它的滤镜、底色照常作用）
  const shown = Array.from(document.querySelectorAll(selector)).filter((img, i) => figures[i].shown);
  shown.forEach((img, k) => {
    const f = figures.filter((g) => g.shown)[k];
    img.style.cssText += `;position:fixed;left:0;top:${f.top}px;width:${f.width}px;height:${f.height}px;` +
      "max-width:none;max-height:none;margin:0;padding:0;border:0;z-index:2147483647;transform:none";
  });
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return figures;
}
"""


def shoot_figures(page):
    """Every figure of the page at its natural size, as shown: [(index, source RGBA, screenshot RGB, screenshot PNG)]."""
    figures = page.evaluate(FIGURES_JS, FIGURES)
    shown = [f for f in figures if f["shown"]]
    if not shown:
        return []
    height = shown[-1]["top"] + shown[-1]["height"]
    page.set_viewport_size({"width": MEASURE["width"], "height": max(height, 100)})
    shot = Image.open(io.BytesIO(page.screenshot(clip={"x": 0, "y": 0, "width": MEASURE["width"], "height": height}))).convert("RGB")
    out = []
    for i, f in enumerate(figures):
        if f["shown"]:
            source = np.asarray(Image.open(image_bytes(page, f["src"])).convert("RGBA"))
            crop = shot.crop((0, f["top"], f["width"], f["top"] + f["height"]))
            out.append((i, source, np.asarray(crop), crop))
    return out


def image_bytes(page, src):
    """The bytes of an image: a data: address decoded, an image of the site read from the built site."""
    if src.startswith("data:"):
        return io.BytesIO(base64.b64decode(src.split(",", 1)[1]))
    path = urlparse(src).path.lstrip("/")
    return open(HTML / unquote(path), "rb")

CONTROL_TEXT_JS = """
() => {
  const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  // 有效背景：从元素往上找第一个不透明的背景色（半透明的与下面的混合）
  const background = (el) => {
    let layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length === 3 || c[3] > 0)) { layers.push(c); if (c.length === 3 || c[3] >= 1) break; }
    }
    let color = [255, 255, 255];
    for (const c of layers.reverse()) { const a = c.length === 4 ? c[3] : 1; color = color.map((v, k) => v * (1 - a) + c[k] * a); }
    return color;
  };
  const out = [];
  const roots = document.querySelectorAll(".cell_output .optimlab-live");
  for (const root of roots) {
    for (const el of root.querySelectorAll("*")) {
      const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || !el.checkVisibility()) continue;
      const fg = rgba(getComputedStyle(el).color), bg = background(el);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      out.push({text: el.textContent.trim().slice(0, 30), ratio: (a + 0.05) / (b + 0.05), fg, bg});
    }
  }
  return out;
}
"""


#: sRGB 0..255 -> linear light (WCAG 2)
_LINEAR = np.where(np.arange(256) / 255 <= 0.04045, np.arange(256) / 255 / 12.92, ((np.arange(256) / 255 + 0.055) / 1.055) ** 2.4)


def luminance(rgb):
    """WCAG 2 relative luminance of sRGB values in 0..255 (any shape ending in 3; rounded to whole levels)."""
    c = _LINEAR[np.clip(np.rint(rgb), 0, 255).astype(np.intp)]
    return c @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a, b):
    la, lb = luminance(a), luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def window_mean(values, mask, radius):
    """Mean of ``values`` over the pixels of ``mask`` in a (2r+1)² window around each pixel, and their count."""
    pad = lambda a: np.pad(a, [(radius + 1, radius)] + [(radius + 1, radius)] + [(0, 0)] * (a.ndim - 2))  # noqa: E731
    def box(a):
        s = pad(a).cumsum(0).cumsum(1)
        k = 2 * radius + 1
        return s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]
    m = mask.astype(float)
    count = box(m)
    total = box(values * m[..., None])
    return total / np.maximum(count, 1)[..., None], count


def text_contrast(source, shown, radius=4):
    """Contrast of a figure's text pixels against their surroundings, as shown.

    ``source``: the image's own RGBA pixels; ``shown``: the screenshot of it (RGB, same size). Text pixels are the
    neutral (grey or black) pixels that stand out by at least 4.5:1 from the figure's background colour when the image
    lies on white (light mode); their background is the mean of the background pixels in the window around them.
    Returns the per-pixel contrasts as shown (empty when the figure has no text pixel).
    """
    rgb, alpha = source[..., :3].astype(float), source[..., 3:4].astype(float) / 255
    light = rgb * alpha + 255 * (1 - alpha)  # the image over the light theme's white page
    levels = np.rint(light).astype(np.int64)
    packed = (levels[..., 0] << 16) | (levels[..., 1] << 8) | levels[..., 2]
    top = np.bincount(packed.ravel()).argmax()
    paper = np.array([top >> 16, (top >> 8) & 255, top & 255])  # the figure's background (facecolor, or white where transparent)
    ground = np.abs(light - paper).max(-1) <= 6
    light_bg, n = window_mean(light, ground, radius)
    neutral = (rgb.max(-1) - rgb.min(-1)) <= 24
    ink = neutral & (alpha[..., 0] >= 0.5) & ~ground & (n >= 4)
    ink[ink] = contrast(light[ink], light_bg[ink]) >= WCAG_TEXT
    shown_bg, _ = window_mean(shown.astype(float), ground, radius)
    return contrast(shown[ink].astype(float), shown_bg[ink])


@pytest.fixture(scope="module")
def worst():
    yield RESULTS
    if RESULTS:
        rel, i, ratio = min(RESULTS, key=lambda r: r[2])
        print(f"\ndark mode: {len(RESULTS)} figures; worst text contrast {ratio:.2f}:1 ({rel}, figure {i})")
    if CONTROLS:
        rel, c = min(CONTROLS, key=lambda r: r[1]["ratio"])
        print(f"dark mode: explorer text, worst {c['ratio']:.2f}:1 ({rel}: {c['text']!r}, {c['fg']} on {c['bg']})")


@pytest.mark.parametrize("rel", FIGURE_PAGES)
def test_dark_mode_figures_and_explorers_stay_legible(visit, rel, worst):
    v = visit(MEASURE, color_scheme="dark")
    # 读者在主题开关里选了“深色”（pydata-sphinx-theme 把选择存在 localStorage，页面加载时读取）
    v.context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
    page = v.open(rel)
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark", f"{rel}: the theme did not switch"
    want = expected(rel)
    n = page.locator(FIGURES).count()
    assert n >= want["images"], f"{rel}: {n} figures on the page, the notebook has {want}"
    controls = page.evaluate(CONTROL_TEXT_JS)
    page.screenshot(path=str(SCREENSHOTS / shot_name(rel, "dark")), full_page=False)
    failing = []
    for i, source, shown, crop in shoot_figures(page):
        ratios = text_contrast(source, shown)
        assert ratios.size > 50, f"{rel}: figure {i} has no text pixels to measure ({ratios.size})"
        ratio = float(np.percentile(ratios, 5))
        RESULTS.append((rel, i, ratio))
        if ratio < WCAG_TEXT:
            failing.append(f"figure {i}: {ratio:.2f}:1")
            crop.save(SCREENSHOTS / shot_name(rel, f"dark-figure{i}"))
    assert RESULTS and RESULTS[-1][0] == rel, f"{rel}: no figure was measured"
    if want["explorers"]:
        assert controls, f"{rel}: explorers without any text to check"
    dim = [c for c in controls if c["ratio"] < WCAG_TEXT]
    CONTROLS.extend((rel, c) for c in controls)
    assert failing == [], f"{rel}: figures whose text is hard to read in dark mode: {failing}"
    assert dim == [], f"{rel}: explorer text below {WCAG_TEXT}:1 in dark mode: {dim[:5]}"
    assert_clean(v, rel)


TRANSPARENT_FIGURE_JS = """
async (selector) => {
  // 页面上第一张图的透明背景版本（白色像素改成透明，就像 savefig(transparent=True) 的图），放在它前面
  const first = document.querySelector(selector);
  const canvas = document.createElement("canvas");
  canvas.width = first.naturalWidth; canvas.height = first.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(first, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
  for (let k = 0; k < data.data.length; k += 4) {
    if (data.data[k] >= 250 && data.data[k + 1] >= 250 && data.data[k + 2] >= 250) data.data[k + 3] = 0;
  }
  ctx.putImageData(data, 0, 0);
  const img = new Image();
  img.src = canvas.toDataURL("image/png");
  await img.decode();
  first.before(img);
  return Array.from(document.querySelectorAll(selector)).indexOf(img);
}
"""


def test_dark_mode_plate_under_transparent_figures(visit):
    """The book's figures are opaque today; a figure with a transparent background (matplotlib's default for
    savefig(transparent=True), or an inline backend with a transparent facecolor) must stay legible too."""
    rel = FIGURE_PAGES[0]
    v = visit(MEASURE, color_scheme="dark")
    v.context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
    page = v.open(rel)
    i = page.evaluate(TRANSPARENT_FIGURE_JS, FIGURES)
    [(_, source, shown, _)] = [f for f in shoot_figures(page) if f[0] == i]
    assert source[..., 3].min() == 0, "the test figure is not transparent"
    ratios = text_contrast(source, shown)
    assert ratios.size > 50
    ratio = float(np.percentile(ratios, 5))
    print(f"\ndark mode: a transparent figure's text, {ratio:.2f}:1")
    assert ratio >= WCAG_TEXT, f"text on a transparent figure in dark mode: {ratio:.2f}:1"
    assert_clean(v, rel)
