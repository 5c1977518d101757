"""静态网页上的实时探索器：把一个 Python 探索器（或 :class:`~optimlab.widgets.base.Tabs`）写成一段 HTML。

HTML 里是一段 JSON（``optimlab-live-spec``）：探索器的定义（:class:`~optimlab.widgets.controls.Definition`，
控件范围取探索器实际建出的控件，例如随构造参数 ``max_steps``、``epochs``、``resolution`` 变化的那些）、各控件的当前值、
构造参数（``steps`` 等）、图中各条线的颜色与线型（取自 matplotlib 图本身），以及从 Python 导出的数据
（:func:`optimlab.widgets.webdata.explorer_data`：torch 随机数生成的梯度噪声与回归数据集等）。
浏览器中的 ``optimlab/web/explorer.mjs`` 读它，用 ``optimlab/optim/rules.mjs`` 与 ``optimlab/web/*.mjs``
重新计算并画图；同一输入总是写出同样的字节。
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, replace
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.colors import to_hex

from .base import Explorer, Tabs
from .controls import Control

__all__ = ["live_html", "live_spec", "NOTE", "FALLBACK"]

#: 每个探索器下方的说明。
NOTE = ("这张图在你的浏览器里由 JavaScript 重新计算（float64，不需要 Jupyter 内核，也不联网）；"
        "测试在 Chromium 中把同一组 JavaScript 与 optimlab 逐步比对：多数设置逐位相同，其余相对误差 ≤ 10⁻¹²"
        "（对初值极敏感的设置，不超过 optimlab 自身在起点差 1 ulp 时的变化），发散在同一步。")
#: 浏览器不运行 JavaScript 时显示的一句话（探索器运行后隐藏）。
FALLBACK = "（交互图：需要浏览器运行 JavaScript）"

#: 各探索器对象上属于构造参数、前端要用的属性。
_OPTION_ATTRS = ("steps", "max_steps", "epochs", "batch_size")


def _effective(c: Control, widget: W.Widget | None) -> Control:
    """探索器实际建出的控件的范围（构造参数可以改变定义中的 ``hi``、``n`` 等）。"""
    if widget is None:
        return c
    if c.kind in ("float", "int", "log"):
        return replace(c, lo=widget.min, hi=widget.max, step=widget.step if c.kind != "int" else c.step)
    if c.kind in ("log_grid", "grid"):  # 网格的点本身写在 options 里（lrs、seconds），这里只记点数
        return replace(c, n=len(widget.options))
    return c


def _extra(ex: Explorer) -> dict[str, Any]:
    """前端要用、又不是控件的常数：各取自定义它们的 Python 模块（这里不写第二份）。"""
    from . import more, paths, reddi, schedulers, sensitivity
    from .base import _MESSAGES, LOSS_FLOOR
    from ..plotting import CONTOUR_OFFSET
    from ..sweep import SENSITIVITY_PARAMS

    name = ex.definition.name
    out: dict[str, Any] = {"messages": dict(_MESSAGES)}
    if name in ("sgd", "adam", "nadam", "adamw", "more_optimizers", "sensitivity"):
        kw = paths.draw_surface_contour.keywords
        out["contour"] = {"levels": kw["levels"], "resolution": kw["resolution"], "offset": CONTOUR_OFFSET}
        out["loss_floor"] = LOSS_FLOOR
    if name == "adamw":
        out["l2"] = {"h": list(paths._ADAMW_H), "target": list(paths.ADAMW_TARGET)}
    if name == "more_optimizers":
        out.update(suggested_lr=more.SUGGESTED_LR, baseline_lr=paths.ADAM_LR, baseline=more.BASELINE,
                   labels=more.CHOICES, excluded=more.EXCLUDED)
    if name == "sensitivity":
        out["lrs"] = [float(v) for v in ex.lrs]
        out["seconds"] = [float(v) for v in ex.seconds]
        out["second"] = {k: [SENSITIVITY_PARAMS[k], v[1]] for k, v in sensitivity.SENSITIVITY.items()}
    if name == "reddi":
        out["x0"] = reddi.REDDI_X0
    if name == "scheduler":
        out.update(labels=schedulers.SCHEDULE_LABELS, short_names=schedulers._SHORT_NAMES,
                   scheduler_controls={k: list(v) for k, v in schedulers.SCHEDULER_CONTROLS.items()},
                   optimizer_controls={k: list(v) for k, v in schedulers.OPTIMIZER_CONTROLS.items()},
                   base_label="常数 η₀（对照）")
    return out


def _colors(ex: Explorer) -> tuple[dict[str, str], list[str]]:
    """图中各条线的颜色（``#rrggbb``）与画成虚线的线：取自探索器的 matplotlib artist。"""
    arts: dict[str, Any] = dict(getattr(ex, "lines", {}))
    for key, attr in (("最小点", "_star"), ("起点", "_start"), ("path", "path_line"), ("L2", "l2_point")):
        if getattr(ex, attr, None) is not None:
            arts[key] = getattr(ex, attr)
    colors = {k: to_hex(a.get_color()) for k, a in arts.items()}
    dashed = [k for k, a in arts.items() if a.get_linestyle() in ("--", "dashed")]
    return colors, dashed


def _plain(x: Any) -> Any:
    """JSON 不认识的 numpy 数与元组。"""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def live_spec(ex: Explorer) -> dict[str, Any]:
    """探索器 ``ex`` 的页面数据（见模块说明）。"""
    from .webdata import explorer_data  # 导出的数据只在写页面时需要

    d = ex.definition
    controls = {k: _effective(c, ex.controls.get(k)) for k, c in d.controls.items() if k in ex.controls}
    values = {k: ex.controls[k].value for k in controls}
    options = {k: getattr(ex, k) for k in _OPTION_ATTRS if isinstance(getattr(ex, k, None), int)}
    options.update(_extra(ex))
    colors, dashed = _colors(ex)
    return {"name": d.name, "definition": asdict(replace(d, controls=controls)), "values": values,
            "options": options, "colors": colors, "dashed": dashed, "data": explorer_data(d.name, **options)}


def _dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_plain, allow_nan=False)
    return text.replace("</", "<\\/")  # 不让 JSON 里的 "</script>" 结束 <script>


def _one(ex: Explorer, tab: str | None = None) -> str:
    name = ex.definition.name
    attr = f' data-tab="{html.escape(tab)}"' if tab is not None else ""
    return (f'<div class="optimlab-live" data-explorer="{html.escape(name)}"{attr}>\n'
            f'<script type="application/json" class="optimlab-live-spec">{_dumps(live_spec(ex))}</script>\n'
            f'<p class="optimlab-live-fallback">{FALLBACK}</p>\n'
            f'<p class="optimlab-live-note">{NOTE}</p>\n</div>')


def live_html(explorer: Explorer | Tabs) -> str:
    """探索器（或一组标签页）在静态网页上的 HTML；浏览器中的 ``optimlab/web/explorer.mjs`` 让它动起来。"""
    if isinstance(explorer, Tabs):
        inner = "\n".join(_one(ex, title) for title, ex in explorer.explorers.items())
        return f'<div class="optimlab-live-tabs" data-tabs="{html.escape(explorer.name)}">\n{inner}\n</div>'
    return _one(explorer)
