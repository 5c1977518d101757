"""把构建好的站点（``_build/html``）打印成一本 PDF：``_build/pdf/optimlab.pdf``。

路线：不再跑一次 Sphinx，也不用 TeX。按 ``_toc.yml`` 的顺序取出每一页的正文（``<article>``），
拼成一份打印用的 HTML：封面、目录（点击跳到该章）、各章正文；样式是站点自己的样式表加上
``book/_static/optimlab-print.css``（只给本脚本用：隐藏按钮与控件、代码自动换行、表格和图缩放到页宽）。
公式在构建站点时已排版成静态 CHTML，打印时原样画出。每个网页探索器（``<div class="optimlab-live">``）换成
它在浏览器里画出的初始画面（先在 Chromium 里打开那一页，给探索器的图截一张图，不含控件），下面附上在线版的链接（网址由 ``_config.yml`` 的 ``repository.url`` 推出，见 :func:`site_url`）。

然后由 Chromium（Playwright，``/usr/bin/chromium``）打印：A4、页脚页码、由各级标题生成的 PDF 书签
（``outline=True``）、带结构标签（``tagged=True``）。中文字体先由 ``tools/pdf_fonts.py`` 做成可嵌入的
TrueType 子集。打印一遍；书签的第一层必须正好是各章的标题（不是时报错）。

打印前在打印宽度下量一遍版面：代码、表格、图、公式凡是宽过版心的都记进日志并让构建失败——
PDF 不能横向滚动，宽出的部分会被裁掉。日志（同目录的 ``make_pdf.log``）还列出各章的起始页和每个探索器
的在线地址；``tests/test_pdf.py`` 检查成品。

用法::

    .venv/bin/python tools/make_pdf.py [--html _build/html] [--out _build/pdf/optimlab.pdf]
"""

from __future__ import annotations

import argparse
import html
import io
import re
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localserver import serve  # noqa: E402
from pdf_fonts import font_face_css, truetype_subsets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PRINT_CSS = ROOT / "book" / "_static" / "optimlab-print.css"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

#: 页边距（mm）。版心宽 = 210 - 左 - 右；打印前按这个宽度量版面
MARGIN_MM = {"top": 16, "bottom": 18, "left": 16, "right": 16}
A4_WIDTH_MM = 210
FOOTER = (
    '<div style="width: 100%; font-size: 8pt; color: #555; text-align: center; '
    "font-family: 'DejaVu Sans', sans-serif;\">"
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
SUBTITLE = "PDF 版"

ARTICLE = re.compile(r'<article class="bd-article">(.*)</article>', re.S)
STYLESHEET = re.compile(r'<link rel="stylesheet"[^>]*href="([^"]+)"[^>]*>')
#: 网页探索器（optimlab.widgets.page 的输出）
LIVE = 'class="optimlab-live"'
ASSISTIVE_MML = re.compile(r"<mjx-assistive-mml\b.*?</mjx-assistive-mml>", re.S)
TAG = re.compile(r"<[^>]+>")
STYLE = re.compile(r"<style\b.*?</style>", re.S | re.I)
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
PRINT_DOCS_BODY = re.compile(r'<div id="jb-print-docs-body" class="onlyprint">.*?</div>\s*</div>\s*</div>', re.S)


# ---------------------------------------------------------------- configuration


def load_config(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def site_url(config: dict) -> str:
    """GitHub Pages 上本书的网址，由 ``repository.url`` 推出（``.github/workflows/pages.yml`` 发布到这里）。

    ``https://github.com/OWNER/NAME`` -> ``https://owner.github.io/NAME/``；仓库名就是 ``OWNER.github.io`` 时
    是用户站点 ``https://owner.github.io/``。
    """
    url = config["repository"]["url"].rstrip("/").removesuffix(".git")
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", url)
    if not match:
        raise ValueError(f"repository.url 不是 GitHub 仓库地址：{url}")
    owner, name = match.groups()
    host = f"{owner.lower()}.github.io"
    return f"https://{host}/" if name.lower() == host else f"https://{host}/{name}/"


def toc_entries(root: Path = ROOT) -> list[tuple[str | None, str]]:
    """``_toc.yml`` 中的 (部分标题, 文档名)，按书中的顺序；根文档（前言）的部分标题是 None。"""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    entries = [(None, toc["root"])]

    def walk(items, caption):
        for item in items:
            entries.append((caption, item["file"]))
            walk(item.get("sections", []), caption)

    walk(toc.get("chapters", []), None)
    for part in toc.get("parts", []):
        walk(part.get("chapters", []), part.get("caption"))
    return entries


# ---------------------------------------------------------------- one chapter


#: 每个网页探索器画好了（每个都有画布），没有还在进行的计算（live.mjs 的 data-busy / data-computing）
EXPLORERS_DRAWN_JS = """
() => Array.from(document.querySelectorAll(".optimlab-live")).every((ex) =>
  ex.querySelector("canvas") && !ex.dataset.busy && !ex.dataset.computing)
"""
#: 纸上只要图：控件、播放条、标签栏与说明（打印版在图下另有一句）都不要；标签页里没选中的探索器也显示出来。
#: 视口外的节不跳过排版（content-visibility），截图才不会是空白
EXPLORERS_FOR_PRINT_CSS = """
.optimlab-live-controls, .optimlab-live-player, .optimlab-live-tabbar, .optimlab-live-note, .optimlab-live-fallback {
  display: none !important; }
* { content-visibility: visible !important; }
"""


def explorer_pictures(browser, local: str, chapters: list[dict]) -> dict[str, list[str]]:
    """在 Chromium 里打开有网页探索器的每一页（浅色主题，两倍像素密度，纸上清楚），等探索器画好，
    给每个探索器的图拍一张截图：页面 -> [PNG data URL, ...]（按探索器在页面上的顺序）。"""
    import base64

    context = browser.new_context(viewport={"width": 900, "height": 900}, device_scale_factor=2, color_scheme="light")
    page = context.new_page()
    page.route(re.compile(r"^(?!" + re.escape(local) + ").*"), lambda route: route.abort())
    out = {}
    for ch in chapters:
        if not ch["explorers"]:
            continue
        page.goto(local + ch["page"], wait_until="load")
        page.add_style_tag(content=EXPLORERS_FOR_PRINT_CSS)
        page.evaluate("() => document.querySelectorAll('.optimlab-live[hidden]').forEach((e) => { e.hidden = false; })")
        page.wait_for_function(EXPLORERS_DRAWN_JS, timeout=30_000)
        page.wait_for_timeout(300)
        explorers = page.locator(".optimlab-live")
        if explorers.count() != ch["explorers"]:
            raise SystemExit(f"{ch['page']}：应有 {ch['explorers']} 个探索器，页面上有 {explorers.count()} 个")
        shots = []
        for i in range(explorers.count()):
            explorers.nth(i).scroll_into_view_if_needed()
            page.wait_for_function(EXPLORERS_DRAWN_JS, timeout=30_000)
            page.wait_for_timeout(200)
            shots.append("data:image/png;base64," + base64.b64encode(explorers.nth(i).screenshot()).decode("ascii"))
        out[ch["page"]] = shots
    context.close()
    return out


def chapter_body(page_html: str, page: str) -> tuple[str, int]:
    """一页的正文（``<article>`` 的内容），去掉脚本。返回 (HTML, 网页探索器个数)；探索器在浏览器里
    换成它的画面（PREPARE_JS）。"""
    match = ARTICLE.search(page_html)
    if not match:
        raise SystemExit(f"{page}：没有 <article class=\"bd-article\">，不是本书的页面？")
    body = PRINT_DOCS_BODY.sub("", match.group(1), count=1)
    explorers = body.count(LIVE)
    # MathJax 给读屏软件的 MathML 副本：纸上看不见，却会让打印版面多出两成元素、文字层多出一份重复的公式
    return ASSISTIVE_MML.sub("", SCRIPT.sub("", body)), explorers


# ---------------------------------------------------------------- the print document


def _page(stylesheets: list[str], css: str, title: str, body: str) -> str:
    links = "\n".join(f'<link rel="stylesheet" href="/{href}">' for href in stylesheets)
    return f"""<!DOCTYPE html>
<html lang="zh-CN" data-theme="light" data-mode="light">
<head><meta charset="utf-8"><title>{html.escape(title)}</title>
{links}
<style>{css}</style></head>
<body class="print-book">
{body}
</body></html>"""


def book_document(html_dir: Path, config: dict, css: str) -> tuple[str, list[dict]]:
    """拼出打印用的整本 HTML：封面、目录（链接到各章）、各章正文；返回 (HTML, 各章信息)。
    各章的相对地址留给浏览器里的 PREPARE_JS 处理。"""
    chapters, sections, stylesheets = [], [], []
    for i, (part, doc) in enumerate(toc_entries()):
        page = f"{doc}.html"
        source = (html_dir / page).read_text(encoding="utf-8")
        if not stylesheets:
            base = Path(page).parent
            stylesheets = [(base / href).as_posix() for href in STYLESHEET.findall(source)]
        body, explorers = chapter_body(source, page)
        title = re.search(r"<h1>(.*?)<a class=\"headerlink\"", body, re.S)
        if not title:
            raise SystemExit(f"{page}：正文里没有一级标题")
        title = html.unescape(re.sub(r"<[^>]+>", "", title.group(1))).strip()
        chapters.append({"page": page, "title": title, "part": part, "explorers": explorers})
        sections.append(f'<section class="print-chapter" id="ch{i}" data-page="{page}">{body}</section>')

    rows, last_part = [], None
    for i, ch in enumerate(chapters):
        if ch["part"] and ch["part"] != last_part:
            rows.append(f'<li class="print-toc-part">{html.escape(ch["part"])}</li>')
            last_part = ch["part"]
        rows.append(f'<li><a href="#ch{i}">{html.escape(ch["title"])}</a></li>')
    url, title = site_url(config), html.escape(config["title"])
    return _page(stylesheets, css, config["title"], f"""<div class="print-cover">
  <p class="print-cover-title">{title}</p>
  <p class="print-cover-subtitle">{SUBTITLE}</p>
  <p class="print-cover-author">{html.escape(str(config.get("author", "")))}</p>
  <p class="print-cover-url">在线版（可交互的探索器）：<a href="{url}">{url}</a></p>
</div>
<nav class="print-toc"><p class="print-toc-heading">目录</p><ol>{"".join(rows)}</ol></nav>
<div class="bd-content"><div class="bd-article-container"><article class="bd-article">
{"".join(sections)}
</article></div></div>"""), chapters


#: 在浏览器里整理各章：id 加上章的前缀（各页的 id 会重复），站内链接改成 PDF 内的跳转或在线版的网址，
#: 相对地址的图片改成绝对地址，网页探索器换成它画出的画面（pictures）、下面加上在线版的链接，去掉按钮与控件，
#: 展开折叠的内容。
PREPARE_JS = """
({site, local, pictures}) => {
  const chapters = Array.from(document.querySelectorAll(".print-chapter"));
  const anchors = new Map(chapters.map((c) => [c.dataset.page, c.id]));
  const explorers = [];
  for (const chapter of chapters) {
    const page = chapter.dataset.page, prefix = chapter.id + "-", pageUrl = new URL(page, local);
    chapter.querySelectorAll(".optimlab-live").forEach((ex, k) => {
      const shot = document.createElement("div");
      shot.className = "print-explorer";
      const img = document.createElement("img");
      img.src = pictures[page][k]; img.alt = "探索器的初始画面";
      shot.append(img);
      ex.replaceWith(shot);
    });
    chapter.querySelectorAll(".print-explorer").forEach((ex) => {
      const section = ex.closest("section[id]:not(.print-chapter)");
      const live = site + page + (section ? "#" + section.id : "");
      const note = document.createElement("p");
      note.className = "print-explorer-link";
      note.append("上图是探索器的初始画面；拖动滑块、切换选项请打开在线版（在浏览器里直接计算）：");
      const a = document.createElement("a");
      a.href = live; a.textContent = live;
      note.append(a);
      ex.after(note);
      explorers.push(live);
    });
    chapter.querySelectorAll(".headerlink, button, style, .print-hide").forEach((e) => e.remove());
    chapter.querySelectorAll("details").forEach((d) => { d.open = true; });
    chapter.querySelectorAll("[id]").forEach((e) => { if (e !== chapter) e.id = prefix + e.id; });
    chapter.querySelectorAll("img[src]").forEach((img) => {
      img.loading = "eager";
      if (!img.getAttribute("src").startsWith("data:")) img.src = new URL(img.getAttribute("src"), pageUrl).href;
    });
    chapter.querySelectorAll("a[href]").forEach((a) => {
      const href = a.getAttribute("href");
      if (href.startsWith("#")) { a.href = "#" + prefix + href.slice(1); return; }
      const u = new URL(href, pageUrl);
      if (u.origin !== new URL(local).origin) return;
      const path = u.pathname.slice(1);
      if (anchors.has(path)) {
        a.href = "#" + (u.hash ? anchors.get(path) + "-" + u.hash.slice(1) : anchors.get(path));
      } else {
        a.href = site + path + u.hash;
      }
    });
  }
  // 链到不存在的锚点的站内跳转，退回到该章开头
  document.querySelectorAll('a[href^="#"]').forEach((a) => {
    if (a.getAttribute("href").length > 1 && !document.getElementById(a.getAttribute("href").slice(1))) {
      const chapter = a.getAttribute("href").slice(1).split("-")[0];
      a.href = "#" + chapter;
    }
  });
  return explorers;
}
"""

SETTLE_JS = """
async () => {
  await Promise.all(Array.from(document.images).map((img) => img.decode().catch(() => null)));
  await Promise.all(Array.from(document.fonts).map((f) => f.load().catch(() => null)));
  await document.fonts.ready;
  return Array.from(document.images).filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.src.slice(0, 120));
}
"""

#: 打印宽度下宽过版心的行间公式按比例缩小（最多缩到 MIN_ZOOM）；再找出仍宽过版心的元素（PDF 里会被裁掉）
MIN_ZOOM = 0.6
FIT_JS = """
(minZoom) => {
  const box = document.querySelector(".print-chapter").getBoundingClientRect();
  const zoomed = [];
  for (const m of document.querySelectorAll('.print-chapter mjx-container[display="true"]')) {
    const r = m.getBoundingClientRect(), avail = Math.min(r.right, box.right) - r.left;
    const w = m.firstElementChild.getBoundingClientRect().width;
    if (w > avail) {
      const zoom = Math.max(minZoom, Math.floor((avail / w) * 100) / 100);
      m.style.zoom = zoom;
      zoomed.push({chapter: m.closest(".print-chapter").dataset.page, zoom});
    }
  }
  const found = [];
  const skip = "mjx-assistive-mml, mjx-assistive-mml *";
  for (const el of document.querySelectorAll(".print-chapter *")) {
    if (el.matches(skip)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > box.right + 4 || r.left < box.left - 4) {
      if (found.some((f) => f.el.contains(el))) continue;
      const path = [];
      for (let e = el; e && !e.classList.contains("print-chapter"); e = e.parentElement) path.unshift(e.tagName.toLowerCase());
      found.push({el, what: path.slice(-4).join(">") + "." + (el.className.baseVal ?? el.className),
                  chapter: el.closest(".print-chapter").dataset.page,
                  text: (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 60),
                  width: Math.round(r.right - box.left)});
    }
  }
  return {width: Math.round(box.width), zoomed, found: found.map(({el, ...rest}) => rest)};
}
"""


# ---------------------------------------------------------------- printing


def chapter_pages(pdf: bytes) -> list[tuple[str, int]]:
    """PDF 书签的第一层（各章的一级标题）及其页码（从 1 起）。"""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    return [
        (item.title, reader.get_destination_page_number(item) + 1)
        for item in reader.outline
        if not isinstance(item, list)
    ]


def build(html_dir: Path, out: Path, log) -> dict:
    from playwright.sync_api import sync_playwright

    clock = [time.perf_counter()]

    def timing(what):
        now = time.perf_counter()
        log(f"time\t{what}\t{now - clock[0]:.1f} s")
        clock[0] = now

    config = load_config()
    document, chapters = book_document(html_dir, config, PRINT_CSS.read_text(encoding="utf-8"))
    timing("assemble html")
    # 中文字体：书中用到的字的 TrueType 子集（tools/pdf_fonts.py），由下面的路由交给浏览器
    text = html.unescape(TAG.sub("", STYLE.sub("", document)))
    fonts = truetype_subsets(text, out.parent / "fonts")
    font_urls = {name: f"/__optimlab_print__/fonts/{path.name}" for name, path in fonts.items()}
    document = document.replace("</head>", f"<style>{font_face_css(font_urls)}</style></head>", 1)
    timing("fonts")
    server, local = serve(html_dir)
    text_width = (A4_WIDTH_MM - MARGIN_MM["left"] - MARGIN_MM["right"]) / 25.4 * 96
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": round(text_width), "height": 1000})
            # 只读本地站点；打印用的 HTML 不写进站点目录，由路由直接交给浏览器
            page.route(re.compile(r"^(?!" + re.escape(local) + ").*"), lambda route: route.abort())
            entry = local + "__optimlab_print__/book.html"
            page.route(entry, lambda route: route.fulfill(body=document, content_type="text/html; charset=utf-8"))
            font_files = {path.name: path for path in fonts.values()}
            page.route(
                local + "__optimlab_print__/fonts/*",
                lambda route: route.fulfill(path=font_files[route.request.url.rsplit("/", 1)[1]]),
            )
            page.emulate_media(media="print")  # 从一开始就按打印样式排版，省掉一次屏幕版式
            page.goto(entry, wait_until="load")
            timing("load")
            pictures = explorer_pictures(browser, local, chapters)
            timing("explorers")
            explorers = page.evaluate(PREPARE_JS, {"site": site_url(config), "local": local, "pictures": pictures})
            broken = page.evaluate(SETTLE_JS)
            if broken:
                raise SystemExit(f"没有加载出来的图片：{broken}")
            overflow = page.evaluate(FIT_JS, MIN_ZOOM)
            for z in overflow["zoomed"]:
                log(f"zoom\t{z['chapter']}\t{z['zoom']}")
            for f in overflow["found"]:
                log(f"overflow\t{f['chapter']}\t{f['what']}\t{f['width']} > {overflow['width']} px\t{f['text']}")
            timing("layout")
            pdf = page.pdf(
                format="A4",
                margin={k: f"{v}mm" for k, v in MARGIN_MM.items()},
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=FOOTER,
                outline=True,
                tagged=True,
            )
            timing("print")
            # 浏览器各进程用掉的 CPU 时间（与机器上同时在跑的别的东西无关，比墙钟时间更能说明快慢）
            import psutil

            cpu = sum(sum(c.cpu_times()[:2]) for c in psutil.Process().children(recursive=True))
            log(f"cpu\tchromium\t{cpu:.1f} s")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()

    from pypdf import PdfReader

    found = chapter_pages(pdf)
    if [t for t, _ in found] != [ch["title"] for ch in chapters]:
        raise SystemExit(f"PDF 书签的第一层与各章标题不一致：{[t for t, _ in found]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    for ch, (_, n) in zip(chapters, found):
        log(f"chapter\t{n}\t{ch['page']}\t{ch['title']}")
    for live in explorers:
        log(f"explorer\t{live}")
    if overflow["found"]:
        out.replace(out.with_suffix(".overflow.pdf"))
        raise SystemExit(
            f"{len(overflow['found'])} 个元素宽过版心（{overflow['width']} px），打印时会被裁掉，见日志；"
            f"这一版改名为 {out.with_suffix('.overflow.pdf').name}"
        )
    return {"chapters": len(chapters), "explorers": len(explorers), "bytes": len(pdf), "pages": len(PdfReader(io.BytesIO(pdf)).pages)}


def main(argv=None):
    parser = argparse.ArgumentParser(description="把构建好的站点打印成一本 PDF")
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="构建好的站点（jupyter-book build 的输出）")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "optimlab.pdf")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        raise SystemExit(f"{args.html} 里没有构建好的站点：先运行 make book")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_path = args.out.with_name("make_pdf.log")
    start = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log_file:

        def log(line):
            print(line, file=log_file)

        try:
            info = build(args.html, args.out, log)
        except SystemExit as exc:
            log(f"error\t{exc}")
            args.out.unlink(missing_ok=True)
            raise
        seconds = time.perf_counter() - start
        log(f"done\t{seconds:.1f} s\t{info['bytes']} bytes")
    print(
        f"{args.out}：{info['pages']} 页，{info['chapters']} 章，{info['explorers']} 个探索器，{info['bytes'] / 1e6:.1f} MB，"
        f"{seconds:.1f} s（日志 {log_path}）"
    )


if __name__ == "__main__":
    sys.exit(main())
