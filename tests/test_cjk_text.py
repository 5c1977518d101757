"""页面上的中文不被源文件的折行拆开（book/_ext/cjk_linebreaks.py）。

HTML 把段落里的换行显示成空格。构建出的页面里，文字节点中的换行原样保留，所以“汉字、换行、汉字”
就是一处会显示成“调好 学习率”的折行；作者有意写的空格（例如链接两侧）是空格而不是换行，不在此列。
"""

import re
import sys
from html.parser import HTMLParser

import pytest
from sitekit import CONTENT_PAGES, HTML, ROOT

HAN = "\u4e00-\u9fff"
SPLIT = re.compile(f"[{HAN}，。、；：（）“”][ \\t]*\\n[ \\t]*[{HAN}（“]")


class ProseText(HTMLParser):
    """文章正文（<article>）中不在代码、公式、脚本里的文字。"""

    SKIP = {"pre", "code", "script", "style", "mjx-container", "math", "svg"}

    def __init__(self):
        super().__init__()
        self.article = self.skip = 0
        self.chunks = []

    def handle_starttag(self, tag, attrs):
        self.chunks.append("\x00")  # 标签之间的换行是 HTML 的排版，不是正文里的折行
        if tag == "article":
            self.article += 1
        elif tag in self.SKIP:
            self.skip += 1

    def handle_endtag(self, tag):
        self.chunks.append("\x00")
        if tag == "article":
            self.article -= 1
        elif tag in self.SKIP:
            self.skip -= 1

    def handle_data(self, data):
        if self.article:
            self.chunks.append("\x00" if self.skip else data)  # 代码与公式换成占位符，不与两侧的字相连


def prose(rel):
    path = HTML / rel
    assert path.is_file(), f"站点缺少 {rel}（{HTML}）：先运行 make book"
    parser = ProseText()
    parser.feed(path.read_text(encoding="utf-8"))
    return "".join(parser.chunks)


def test_the_check_sees_a_split():
    assert SPLIT.search("调好\n学习率") and SPLIT.search("调好 \n 学习率")
    assert not SPLIT.search("调好学习率") and not SPLIT.search("本章的 链接 一节") and not SPLIT.search("第\nk 步")


def test_the_transform_joins_only_chinese_on_both_sides():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from cjk_linebreaks import join_cjk_lines

    assert join_cjk_lines("三个曲面上\n调好学习率，\n“收敛”") == "三个曲面上调好学习率，“收敛”"
    assert join_cjk_lines("和 digits\n上降到") == "和 digits\n上降到"  # 一侧是拉丁字母：保留
    assert join_cjk_lines("用\nAdam") == "用\nAdam"


def test_the_transform_sees_line_breaks_in_their_own_nodes():
    # MyST 把软换行解析成单独的 Text("\n")；Text 按字符串比较，所以几个 "\n" 节点互相“相等”
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from cjk_linebreaks import JoinCJKLines
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    doc = new_document("t", get_default_settings(Parser))
    para = nodes.paragraph()
    para += [nodes.Text("曲面上"), nodes.Text("\n"), nodes.Text("调好"), nodes.Text("\n"),
             nodes.literal(text="lr"), nodes.Text("\n"), nodes.strong(text="粗体"), nodes.Text("\n和")]
    doc += para
    JoinCJKLines(doc).apply()
    assert para.astext() == "曲面上调好\nlr\n粗体和"


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_no_line_break_space_between_chinese_characters(rel):
    text = prose(rel)
    assert len(text) > 200, f"{rel} 的正文几乎是空的"
    splits = [text[max(m.start() - 8, 0): m.end() + 8] for m in SPLIT.finditer(text)]
    assert not splits, f"{rel}：{len(splits)} 处汉字被换行拆开，例如 {splits[:5]}"
