"""The PDF edition (``make pdf``, tools/make_pdf.py) and the 下载 PDF link on every page of the site.

The PDF is read with poppler's ``pdffonts`` and ``pdftotext`` and with pypdf; what it must contain comes from
the book's sources (``_toc.yml``, the chapters' first ``# `` heading) and from the built pages. Every test fails,
never skips, when the PDF or the site is missing: ``make test`` builds both first.
"""

from __future__ import annotations

import functools
import html
import json
import re
import subprocess
import sys
from urllib.parse import urljoin

import pytest

from sitekit import HTML, PAGES, ROOT, is_redirect, toc_docnames

#: make pdf writes the PDF beside the site (_build/pdf/ for _build/html/; OPTIMLAB_SITE moves both)
PDF = HTML.parent / "pdf" / "optimlab.pdf"
IN_SITE = HTML / "_downloads" / "optimlab.pdf"

sys.path.insert(0, str(ROOT / "tools"))
from make_pdf import LIVE, load_config, site_url  # noqa: E402

#: needs the built site and PDF, and reads the whole PDF: not part of make check
pytestmark = pytest.mark.slow

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def chapters():
    """(文档名, 一级标题)，按 _toc.yml 的顺序；标题取自源文件（笔记本或 Markdown）的第一个 ``# `` 标题。"""
    found = []
    for doc in toc_docnames():
        if (ROOT / f"{doc}.ipynb").is_file():
            nb = json.loads((ROOT / f"{doc}.ipynb").read_text(encoding="utf-8"))
            lines = [line for cell in nb["cells"] if cell["cell_type"] == "markdown" for line in "".join(cell["source"]).splitlines()]
        else:
            lines = (ROOT / f"{doc}.md").read_text(encoding="utf-8").splitlines()
        title = next(line[2:].strip() for line in lines if line.startswith("# "))
        found.append((doc, title))
    return found


def plain(text):
    """Without whitespace: pdftotext breaks lines where the PDF does."""
    return re.sub(r"\s+", "", text)


@functools.lru_cache(maxsize=None)
def article(page):
    """A built page's article, without scripts, styles, MathJax's MathML copy and the theme's print-only header."""
    source = (HTML / page).read_text(encoding="utf-8")
    body = re.search(r'<article class="bd-article">(.*)</article>', source, re.S).group(1)
    body = re.sub(r'<div id="jb-print-docs-body".*?<div id="print-main-content">', "", body, flags=re.S)
    return re.sub(r"<(script|style|mjx-assistive-mml)\b.*?</\1>", "", body, flags=re.S)


def article_text(page):
    return html.unescape(re.sub(r"<[^>]+>", "", article(page)))


def figures():
    """Pictures in the chapters' articles: figures, and one or more canvases per explorer (counted as one)."""
    return sum(article(f"{doc}.html").count("<img") + article(f"{doc}.html").count(LIVE) for doc, _ in chapters())


@pytest.fixture(scope="module")
def pdf():
    assert PDF.is_file(), f"{PDF} 不存在：先运行 make pdf"
    from pypdf import PdfReader

    return PdfReader(PDF)


@pytest.fixture(scope="module")
def pages_text():
    """pdftotext's text of each page (the PDF's text layer, as a reader's copy or search sees it)."""
    assert PDF.is_file(), f"{PDF} 不存在：先运行 make pdf"
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(PDF), "-"], capture_output=True, text=True, check=True)
    return out.stdout.split("\f")[:-1]


def test_fonts_are_embedded_and_the_chinese_ones_are_cjk_fonts():
    assert PDF.is_file(), f"{PDF} 不存在：先运行 make pdf"
    out = subprocess.run(["pdffonts", str(PDF)], capture_output=True, text=True, check=True).stdout
    fonts = [line for line in out.splitlines()[2:] if line.strip()]
    assert fonts, out
    for line in fonts:
        emb = line.split()[-5]
        assert emb == "yes", f"not embedded: {line}"
    cjk = [line.split()[0] for line in fonts if "CJK" in line.split()[0]]
    # 正文与标题两种中文字体（tools/pdf_fonts.py 的 FACES），嵌入为 TrueType 子集，不是无名的 Type 3 字形
    assert any("SerifCJK" in name for name in cjk) and any("SansCJK" in name for name in cjk), out
    assert all("TrueType" in line for line in fonts if "CJK" in line.split()[0]), out


def test_every_chapter_title_is_in_the_text(pages_text):
    text = plain("".join(pages_text))
    missing = [title for _, title in chapters() if plain(title) not in text]
    assert missing == [], f"chapter titles not in pdftotext output: {missing}"


def test_no_missing_glyphs(pages_text):
    """No replacement character, and every CJK character of the site's chapters is in the PDF's text layer:
    a character whose glyph was missing would come out as nothing, a box or another character."""
    text = "".join(pages_text)
    assert "\ufffd" not in text
    in_pdf = set(CJK.findall(text))
    in_site = set()
    for doc, _ in chapters():
        in_site |= set(CJK.findall(article_text(f"{doc}.html")))
    assert len(in_site) > 500, "the site's chapters have hardly any Chinese text: not built?"
    assert sorted(in_site - in_pdf) == []


def test_page_count_fits_the_content(pdf):
    """Between what the chapters' text fills at a dense 2,500 characters a page and a loose 500 characters a page
    plus a page for each figure and two for each chapter (its first page, its last half-empty page)."""
    docs = chapters()
    chars = sum(len(plain(article_text(f"{doc}.html"))) for doc, _ in docs)
    n_figures = figures()
    low, high = max(len(docs) + 2, chars // 2500), chars // 500 + n_figures + 2 * len(docs)
    assert low <= len(pdf.pages) <= high, f"{len(pdf.pages)} pages for {chars} characters, {n_figures} figures: not in [{low}, {high}]"


def test_bookmarks_and_contents_lead_to_each_chapter(pdf, pages_text):
    """One top-level bookmark per chapter, in the book's order, on the page where the chapter's title is;
    the table of contents links to the same pages."""
    outline = [item for item in pdf.outline if not isinstance(item, list)]
    titles = [title for _, title in chapters()]
    assert [item.title for item in outline] == titles
    starts = [pdf.get_destination_page_number(item) for item in outline]
    assert starts == sorted(starts)
    for title, start in zip(titles, starts):
        assert plain(title) in plain(pages_text[start]), f"bookmark {title} -> page {start + 1}"
    contents = next(i for i, text in enumerate(pages_text) if "目录" in text and all(plain(t) in plain(text) for t in titles[:3]))
    targets = []
    for annot in pdf.pages[contents].get("/Annots", []):
        dest = annot.get_object().get("/Dest")
        if dest is not None:
            targets.append(pdf.get_destination_page_number(pdf.named_destinations[str(dest)]))
    assert targets[: len(starts)] == starts, f"contents links to pages {targets}, chapters start on {starts}"


def test_each_explorer_has_its_picture_and_a_link_to_the_live_page(pdf, pages_text):
    """Every explorer of the site (computed in the browser) becomes a picture in the PDF
    with a note under it that links to its section on the published site."""
    site = site_url(load_config())
    expected = {}
    for doc, _ in chapters():
        source = (HTML / f"{doc}.html").read_text(encoding="utf-8")
        n = source.count(LIVE)
        if n:
            expected[f"{site}{doc}.html"] = n
    assert expected, "no page of the site has an explorer"
    # 每个探索器下面一句说明（“上图是探索器的初始画面……”），加上正文里本来就有的同样字样
    in_text = sum(plain(article_text(f"{doc}.html")).count("探索器的初始画面") for doc, _ in chapters())
    assert plain("".join(pages_text)).count("探索器的初始画面") == in_text + sum(expected.values())
    links = set()
    for page in pdf.pages:
        for annot in page.get("/Annots", []):
            uri = annot.get_object().get("/A", {}).get("/URI")
            if uri and uri.startswith(site):
                links.add(uri.split("#")[0])
    assert sorted(set(expected) - links) == [], "explorers without a link to their live page"
    images = {
        xobj.idnum
        for page in pdf.pages
        for xobj in (page.get("/Resources", {}).get("/XObject", {}) or {}).values()
        if xobj.get_object().get("/Subtype") == "/Image"
    }
    # 正文的图与动画各是一幅；控件探索器的画面在控件状态里，另外再加
    assert len(images) >= figures(), f"{len(images)} images in the PDF, {figures()} in the chapters"


def test_every_page_links_to_the_pdf():
    """Every page of the site has the 下载 PDF button, and its address, relative to the page, is the PDF."""
    assert (HTML / "index.html").is_file(), "站点尚未构建：先运行 make book"
    assert IN_SITE.is_file() and IN_SITE.read_bytes() == PDF.read_bytes(), f"{IN_SITE} is not the PDF: run make pdf"
    for rel in PAGES:
        if is_redirect(rel):
            continue  # index.html 只是跳转
        links = re.findall(r'<a href="([^"]+)"[^>]*title="下载 PDF"', (HTML / rel).read_text(encoding="utf-8"))
        assert len(links) == 1, f"{rel}: {len(links)} 下载 PDF links"
        target = urljoin(f"http://site/{rel}", links[0]).removeprefix("http://site/")
        assert (HTML / target).resolve() == IN_SITE.resolve(), f"{rel}: 下载 PDF points to {target}"
