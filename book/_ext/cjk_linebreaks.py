"""去掉段落中两个汉字之间的换行，让它不在页面上变成空格。

书的 Markdown 按约 120 列折行。HTML 把段落里的换行显示成一个空格，英文需要这个空格，中文不需要：
“调好学习率后的步数”在源文件里若折在“调好”之后，页面上就成了“调好 学习率”。这个转换在解析之后、
写出之前作用于文档树的文本节点：换行两侧都是汉字或中文标点时删掉它；一侧是拉丁字母、数字或代码时
保留（中英文之间留一个空格是常见的排版）。代码块、行内代码与公式不是普通文本节点，不受影响。
搜索索引与 PDF 都从同一棵文档树生成，所以也一并得到连续的文字。
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform

# 汉字（基本区与扩展 A）、中文标点（、。〈〉《》「」『』【】〔〕等）、全角标点（，：；！？（）等）、弯引号
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018\u2019\u201c\u201d\u2014\u2026"
_BREAK = re.compile(f"(?<=[{_CJK}])[ \\t]*\\n[ \\t]*(?=[{_CJK}])")
_SKIP = (nodes.literal_block, nodes.literal, nodes.math, nodes.math_block, nodes.raw, nodes.comment)


def join_cjk_lines(text: str) -> str:
    """删掉两侧都是中文字符的换行（连同它两边的空白）。"""
    return _BREAK.sub("", text)


def _edge(node: nodes.Node, last: bool) -> str:
    """节点文字的最后（``last``）或第一个字符；代码、公式算作非中文。"""
    if isinstance(node, _SKIP):
        return ""
    text = node.astext() if isinstance(node, nodes.Element) else str(node)
    return (text[-1:] if last else text[:1]) if text else ""


class JoinCJKLines(SphinxTransform):
    """MyST 把段落里的换行解析成单独的 ``Text("\\n")`` 节点（也可能在同一个节点里）：两种都处理。"""

    default_priority = 760  # 在 SmartQuotes（750）之后："…" 已经换成中文引号

    def apply(self, **kwargs) -> None:
        for node in list(self.document.findall(nodes.Text)):
            parent = node.parent
            if parent is None or isinstance(parent, _SKIP) or "\n" not in node:
                continue
            # 按身份找位置：Text 是 str 的子类，index()、replace() 按字符串相等比较，会找错节点
            i = next(k for k, child in enumerate(parent.children) if child is node)
            # 换行可能在节点的开头或结尾，另一侧的字在相邻的节点里（如 **粗体** 之后）：带上两边的字再判断
            before = (_edge(parent[i - 1], last=True) if i > 0 else "") or "\x00"
            after = (_edge(parent[i + 1], last=False) if i + 1 < len(parent) else "") or "\x00"
            text = join_cjk_lines(before + str(node) + after)[1:-1]
            if text != str(node):
                parent[i] = nodes.Text(text)


def setup(app: Sphinx) -> dict:
    app.add_transform(JoinCJKLines)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
