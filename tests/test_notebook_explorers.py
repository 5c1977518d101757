"""笔记本里存储的探索器输出来自当前代码：网页显示的 ``text/html``（探索器定义与数据）与重新运行单元格的结果一字不差。

探索器单元格带 ``nbval-ignore-output``（ipywidgets 视图的 model id 每次不同），nbval 不比较它们的输出；
这里单独比较 ``text/html``。过期时用 ``tools/explorer_outputs.py`` 重新生成。
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from explorer_outputs import bundle, explorer_cells  # noqa: E402

LIVE = 'class="optimlab-live"'
CELLS = [
    pytest.param(path, i, id=f"{path.stem}-{i}")
    for path in sorted((ROOT / "book").glob("*.ipynb"))
    for i, _ in explorer_cells(json.loads(path.read_text(encoding="utf-8")))
]


def test_every_explorer_chapter_has_its_cell():
    chapters = {p.values[0].stem for p in CELLS}
    assert chapters >= {"01_sgd", "02_adam", "03_bias_correction", "04_variants", "05_pytorch_adam",
                        "06_choosing", "08_adam_family"}, chapters


@pytest.mark.parametrize("path, index", CELLS)
def test_stored_explorer_html_is_current(path, index):
    cell = json.loads(path.read_text(encoding="utf-8"))["cells"][index]
    assert "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []), "explorer cells are not compared by nbval"
    (output,) = [o for o in cell["outputs"] if o["output_type"] == "execute_result"]
    stored = "".join(output["data"].get("text/html", []))
    assert LIVE in stored, f"{path.name} cell {index}: no live explorer in the stored output"
    assert "application/vnd.jupyter.widget-view+json" in output["data"], "the Jupyter side (ipywidgets) is missing"
    fresh = bundle("".join(cell["source"]))["text/html"]
    assert stored == fresh, f"{path.name} cell {index}: stored explorer HTML is stale; run tools/explorer_outputs.py"
