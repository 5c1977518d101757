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


class JoinCJKLines(SphinxTransform):
    default_priority = 400

    def apply(self, **kwargs) -> None:
        for node in list(self.document.findall(nodes.Text)):
            parent = node.parent
            if parent is None or isinstance(parent, _SKIP) or "\n" not in node:
                continue
            joined = join_cjk_lines(str(node))
            if joined != str(node):
                parent.replace(node, nodes.Text(joined))


def setup(app: Sphinx) -> dict:
    app.add_transform(JoinCJKLines)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
