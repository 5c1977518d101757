"""中文搜索：浏览器里按索引的词表切分查询（book/_static/optimlab-search.js），读者的查询找到讲它的那一页。

tests/search_queries.json 是读者会输入的查询（优化器名、参数名、概念、中英混合、不带空格），各配一页应当回答它的
页面；排名用搜索页上 Sphinx 自己的 Search._parseQuery / _performSearch（经 optimlab-search.js 切分与加分）算出，
与结果列表显示的顺序相同。
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import quote

from sitekit import DESKTOP, PHONE, ROOT, assert_clean, page_source, search_index, toc_docnames

QUERIES = json.loads((Path(__file__).with_name("search_queries.json")).read_text(encoding="utf-8"))["queries"]
#: 至少这么多查询的页面要在前三个结果里
HIT_RATE = 0.95
#: 结果列表里不该出现的 TeX 源码：命令（\eta、\frac）与 $ 定界符
RAW_TEX = re.compile(r"\\[A-Za-z]{2,}|\$[^$\s][^$]*\$")


def open_search(v, query=""):
    """Open search.html (with ?q= when given) and wait until the index is loaded and the results are listed."""
    page = v.page
    page.goto(v.base + "search.html" + (f"?q={quote(query)}" if query else ""), wait_until="load")
    page.wait_for_function("() => typeof Search !== 'undefined' && Search.hasIndex() && window.optimlabSearch && optimlabSearch.vocab", timeout=20_000)
    if query:
        page.wait_for_function(
            "() => /\\d/.test((document.querySelector('#search-results .search-summary') || {}).innerText || '')",
            timeout=20_000,
        )
    return page


def test_queries_are_many_and_point_at_pages_of_the_book():
    kinds = {q["kind"] for q in QUERIES}
    assert len(QUERIES) >= 50
    assert kinds == {"optimizer", "parameter", "concept", "mixed", "unspaced"}
    assert len({q["q"] for q in QUERIES}) == len(QUERIES)
    docs = set(toc_docnames())
    assert {q["page"] for q in QUERIES} <= docs
    # 不带空格的查询确实要切分：整串不是索引里的一个词
    index = search_index()
    for q in QUERIES:
        if q["kind"] == "unspaced":
            assert q["q"].lower() not in index["terms"] and q["q"].lower() not in index["titleterms"], q


def test_queries_find_their_page_in_the_top_three(visit):
    v = visit(DESKTOP)
    page = open_search(v)
    ranked = page.evaluate("(qs) => qs.map((q) => optimlabSearch.rank(q))", [q["q"] for q in QUERIES])
    misses = []
    for q, r in zip(QUERIES, ranked):
        if q["page"] not in r["docs"][:3]:
            misses.append(f'{q["q"]!r} ({q["kind"]}) -> {r["terms"]}: {r["docs"][:3]}, want {q["page"]}')
    hit_rate = 1 - len(misses) / len(QUERIES)
    print(f"\nsearch hit rate {hit_rate:.1%} ({len(QUERIES) - len(misses)}/{len(QUERIES)}); misses:", *misses, sep="\n  ")
    assert_clean(v, "search.html")
    assert hit_rate >= HIT_RATE, "\n".join(misses)


def test_unspaced_query_is_segmented_by_the_index_vocabulary(visit):
    """偏差校正学习率 is cut into the two index terms; Latin words stay whole; a single unknown character is dropped."""
    v = visit(DESKTOP)
    page = open_search(v)
    split = page.evaluate("(qs) => qs.map((q) => splitQuery(q))", ["偏差校正学习率", "Adam学习率", "weight_decay 的作用"])
    assert split == [["偏差校正", "学习率"], ["Adam", "学习率"], ["weight_decay", "作用"]]
    # Sphinx's own splitter keeps 偏差校正学习率 whole, and that finds nothing
    assert page.evaluate(
        "() => { const r = Search._performSearch('偏差校正学习率', new Set(['偏差校正学习率']), new Set(), new Set(), new Set()); return r.length; }"
    ) == 0


def main_text(rel):
    """The text the search page makes its snippets from (a page's <main>, without scripts and styles)."""
    match = re.search(r"<main\b[^>]*>(.*?)</main>", page_source(rel), re.DOTALL)
    return html.unescape(re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", "", match.group(1), flags=re.DOTALL | re.IGNORECASE))


#: a word whose first use on some pages sits next to TeX in code (matplotlib labels such as "$f(\theta_t) - f^*$")
SNIPPET_WORD = "set_ylabel"


def test_search_results_show_text_not_tex(visit):
    """Result titles and snippets show η, not \\eta or $...$."""
    index = search_index()
    tex_titles = [t for t in index["alltitles"] if RAW_TEX.search(t)]
    assert tex_titles, "no section title carries TeX: the title check below checks nothing"
    near_tex = [
        rel for rel in (d + ".html" for d in toc_docnames())
        if SNIPPET_WORD in (text := main_text(rel)) and RAW_TEX.search(text[text.index(SNIPPET_WORD) : text.index(SNIPPET_WORD) + 100])
    ]
    assert near_tex, f"no page uses {SNIPPET_WORD} next to TeX: the snippet check below checks nothing"

    v = visit(DESKTOP)
    page = open_search(v, SNIPPET_WORD)
    page.wait_for_function(
        "(n) => document.querySelectorAll('#search-results ul.search li p.context').length >= n", arg=len(near_tex), timeout=20_000
    )
    texts = page.eval_on_selector_all("#search-results ul.search li", "els => els.map((e) => e.innerText)")
    assert len(texts) >= len(near_tex)
    raw = [m.group(0) for t in texts for m in [RAW_TEX.search(t)] if m]
    assert raw == [], f"raw TeX in search results: {raw[:5]}"
    titles = page.evaluate("() => [...Search._index.titles, ...Object.keys(Search._index.alltitles)]")
    assert [t for t in titles if RAW_TEX.search(t)] == []
    assert_clean(v, "search.html")


def test_search_index_keeps_dictionary_words():
    """jieba with book/zh_dict.txt indexes whole terms such as 偏差校正, so a search for them matches."""
    index = search_index()
    terms = set(index["terms"]) | set(index["titleterms"])
    words = [line.split()[0] for line in (ROOT / "book" / "zh_dict.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    text = "".join(page_source(d + ".html") for d in toc_docnames())
    used = [w for w in words if w in text]
    assert len(used) >= len(words) // 2, f"most dictionary words do not occur in the book: {set(words) - set(used)}"
    missing = [w for w in used if w not in terms]
    assert missing == [], f"dictionary words in the book but not terms of the search index: {missing}"


def test_unspaced_query_lists_the_chapter_and_opens_it_highlighted(visit):
    """Typed without spaces on the search page, 偏差校正学习率 lists the bias-correction chapter among the first three;
    clicking it opens the chapter with both words highlighted (sphinx_highlight.js only does that on pages that do
    not load the search scripts)."""
    chapter = "book/03_bias_correction.html"
    v = visit(DESKTOP)
    page = open_search(v, "偏差校正学习率")
    hrefs = page.eval_on_selector_all("#search-results ul.search li > a", "els => els.map((a) => a.getAttribute('href'))")
    assert any(chapter.split("/")[-1] in h for h in hrefs[:3]), hrefs
    link = page.locator(f'#search-results ul.search li a[href*="{Path(chapter).name}"]').first
    with page.expect_navigation(wait_until="load"):
        link.click()
    page.wait_for_function("() => document.querySelectorAll('span.highlighted').length > 0", timeout=10_000)
    words = page.eval_on_selector_all("span.highlighted", "els => els.map((e) => e.textContent.toLowerCase())")
    assert set(words) == {"偏差校正", "学习率"}, sorted(set(words))
    assert_clean(v, chapter)


def test_phone_search_from_the_header(visit):
    """At 375 px the header's search button opens the search field; typing a query lists the right page."""
    v = visit(PHONE, has_touch=True, is_mobile=True)
    page = v.open("book/intro.html")
    button = page.locator("button.search-button__button:visible, .search-button-field:visible, button[aria-label*='搜索']:visible").first
    assert button.count() == 1, "no visible search button in the header at 375 px"
    button.click()
    field = page.locator(".search-button__search-container input[name='q']:visible, form.bd-search input[name='q']:visible").first
    field.wait_for(state="visible", timeout=5_000)
    field.fill("偏差校正学习率")
    with page.expect_navigation(wait_until="load"):
        field.press("Enter")
    assert "search.html" in page.url
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results ul.search li').length > 0", timeout=20_000
    )
    hrefs = page.eval_on_selector_all("#search-results ul.search li > a", "els => els.map((a) => a.getAttribute('href'))")
    assert any("03_bias_correction" in h for h in hrefs[:3]), hrefs
    width = page.evaluate("() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth")
    assert width <= 0, f"the search page scrolls sideways at 375 px by {width}px"
    assert_clean(v, "search.html")
