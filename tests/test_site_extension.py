"""book/_ext/optimlab_site.py 里不需要浏览器的部分：改写主题脚本与模板输出的纯函数。"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
# 缺了扩展或主题是错误，不是跳过的理由：导入失败时整个文件报错
import optimlab_site  # noqa: E402
import pydata_sphinx_theme  # noqa: E402

THEME_JS = (
    Path(pydata_sphinx_theme.__file__).parent
    / "theme" / "pydata_sphinx_theme" / "static" / "scripts" / "pydata-sphinx-theme.js"
)


def test_patch_removes_only_the_load_time_tab_stop_call():
    original = THEME_JS.read_text(encoding="utf-8")
    patched = optimlab_site.patch_theme_tab_stops(original)
    assert optimlab_site.THEME_TAB_STOPS_PATCHED in patched
    assert not optimlab_site.THEME_TAB_STOPS_CALL.search(patched)
    assert 'addEventListener("load"' not in patched.split(optimlab_site.THEME_TAB_STOPS_PATCHED)[-1]
    # 只换掉那一句：其余部分逐字不变，函数本身还在（窗口尺寸变化等不再由它处理，但代码不动）
    removed = optimlab_site.THEME_TAB_STOPS_CALL.search(original).group(0)
    assert patched == original.replace(removed, "void 0" + optimlab_site.THEME_TAB_STOPS_PATCHED)
    # 已经改过的文件（增量构建时 Sphinx 不一定重新复制）原样返回
    assert optimlab_site.patch_theme_tab_stops(patched) == patched


def test_patch_refuses_a_script_it_does_not_recognise():
    original = THEME_JS.read_text(encoding="utf-8")
    name = optimlab_site.THEME_TAB_STOPS_CALL.search(original).group(1)
    with pytest.raises(ValueError, match="1 处"):
        optimlab_site.patch_theme_tab_stops("console.log(1);")
    # 同样的调用，但被调用的函数不是 addTabStopsToScrollableElements
    other = original.replace(f"function {name}(){{", f"function {name}_gone(){{", 1)
    with pytest.raises(ValueError, match="不是 addTabStopsToScrollableElements"):
        optimlab_site.patch_theme_tab_stops(other)


HEAD = """  <meta name="viewport" content="width=device-width, initial-scale=1"/>
    <script src="../_static/searchtools.js"></script>
    <script src="../_static/language_data.js"></script>
    <script src="../searchindex.js"></script>
"""


def test_inline_search_scripts_are_dropped_unless_search_as_you_type():
    dropped = str(optimlab_site.drop_inline_search(HEAD))
    assert dropped == '  <meta name="viewport" content="width=device-width, initial-scale=1"/>\n'
    assert str(optimlab_site.drop_inline_search(HEAD, search_as_you_type=True)) == HEAD


def test_search_index_lists_pages_by_how_often_they_use_a_term():
    """Each term's page list is reordered by the number of uses (ties by page number); lists keep their members,
    and a term found on one page (stored as a plain number) is left alone."""
    index = {
        "terms": {"动量": [0, 1, 2], "adam": [1, 2], "muon": 2},
        "titleterms": {"动量": [0, 2]},
        "docnames": ["a", "b", "c"],
    }
    texts = {0: "动量", 1: "动量 动量 动量 adam", 2: "动量 动量 adam adam"}
    ranked = optimlab_site.rank_terms_by_use(index, texts)
    assert ranked["terms"] == {"动量": [1, 2, 0], "adam": [2, 1], "muon": 2}
    assert ranked["titleterms"] == {"动量": [2, 0]}
    assert ranked["docnames"] == index["docnames"]
    assert index["terms"]["动量"] == [0, 1, 2], "the input index is not modified"


def test_body_images_load_lazily_unless_they_say_otherwise():
    html = '<p><img alt="a" src="a.png" /><img loading="eager" src="b.png"></p>'
    out = optimlab_site.lazy_images(html)
    assert out == '<p><img loading="lazy" decoding="async" alt="a" src="a.png" /><img loading="eager" src="b.png"></p>'
