"""笔记本里探索器单元格的输出：由当前代码重新生成，并写回笔记本。

探索器单元格（``from optimlab.widgets import sgd_explorer`` 之后 ``sgd_explorer("rosenbrock")`` 一类）的输出有两部分：
ipywidgets 视图（Jupyter 与 Binder 里用 optimlab + torch 实时计算）与 ``text/html``（:mod:`optimlab.widgets.page`：
同一份探索器定义加上网页上由浏览器计算所需的数据）。静态网站显示后者（``_config.yml`` 的
``nb_mime_priority_overrides``）。这两部分只由代码决定，不需要重新执行整本笔记本：本脚本在一个新进程里运行
这些单元格的源码，把输出写回去。``tests/test_notebook_explorers.py`` 检查存储的 ``text/html`` 与当前代码一致。

用法::

    .venv/bin/python tools/explorer_outputs.py [book/01_sgd.ipynb ...]   # 默认：book/ 下的全部笔记本
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
#: 探索器单元格：源码从 optimlab.widgets（或 optimlab.widgets_more）导入一个 ``*_explorer``
MARKERS = ("from optimlab.widgets import", "from optimlab.widgets_more import")


def is_explorer_cell(cell: dict) -> bool:
    source = "".join(cell.get("source", []))
    return cell["cell_type"] == "code" and any(m in source for m in MARKERS) and "_explorer" in source


def explorer_cells(notebook: dict) -> list[tuple[int, dict]]:
    return [(i, c) for i, c in enumerate(notebook["cells"]) if is_explorer_cell(c)]


def bundle(source: str) -> dict:
    """运行单元格源码，返回最后一个表达式的值的显示数据（``_repr_mimebundle_``）。"""
    import ast

    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if last is None:
        raise ValueError("探索器单元格必须以一个表达式结尾")
    scope: dict = {}
    exec(compile(tree, "<cell>", "exec"), scope)
    value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), scope)
    data = value._repr_mimebundle_()
    return dict(data[0] if isinstance(data, tuple) else data)


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def refresh(path: Path) -> int:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = explorer_cells(notebook)
    for _, cell in cells:
        data = bundle("".join(cell["source"]))
        count = cell.get("execution_count") or 1
        stored = {k: (_lines(v) if isinstance(v, str) and k.startswith("text/") else v) for k, v in data.items()}
        cell["outputs"] = [{"data": stored, "execution_count": count, "metadata": {}, "output_type": "execute_result"}]
    if cells:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(cells)


def main(argv=None):
    parser = argparse.ArgumentParser(description="重新生成笔记本里探索器单元格的输出")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    for path in paths:
        n = refresh(path)
        if n:
            print(f"{path}：{n} 个探索器单元格", file=sys.stderr)


if __name__ == "__main__":
    main()
