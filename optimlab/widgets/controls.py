"""探索器的定义是纯数据：控件、范围、默认值、中文标签与所运行的问题。

:class:`Control` 与 :class:`Definition` 只含数、字符串与元组；:func:`definitions_json` 把全部定义写成 JSON，
供另一个前端（网页上的 JavaScript 探索器）读取，``make_controls`` 由同一份数据建出 ipywidgets 控件，
两个前端因此不会各说各的。各探索器模块用 ``define`` 登记自己的定义。
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import ipywidgets as W
import numpy as np

from .base import fmt

# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Control:
    """一个控件。``kind``：

    * ``"log"``：对数滑块，取值 :math:`10^{lo} … 10^{hi}`，指数步长 ``step``；
    * ``"float"`` / ``"int"``：线性滑块 ``lo … hi``，步长 ``step``，读数格式 ``fmt``；
    * ``"checkbox"``：开关；``"dropdown"`` / ``"choice"``：下拉菜单 / 选择滑块，``options`` 为 ``(显示名, 值)``；
    * ``"log_grid"`` / ``"grid"``：在 ``lo … hi`` 上取 ``n`` 个点（对数 / 线性）的选择滑块，值是点的下标。
    """

    kind: str
    label: str
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    fmt: str = ".3g"
    options: tuple = ()
    n: int | None = None
    width: str = ""


@dataclass(frozen=True)
class Definition:
    """一个探索器：``problem`` 是它运行的问题，``controls`` 按显示顺序排列，
    ``surface_defaults[控件名][曲面名]`` 是随所选曲面变化的默认值。"""

    name: str
    title: str
    problem: str
    controls: dict[str, Control]
    series: tuple[str, ...] = ()
    surface_defaults: dict[str, dict[str, float]] = field(default_factory=dict)

    def default(self, name: str, surface: str | None = None) -> Any:
        per = self.surface_defaults.get(name, {})
        return per[surface] if surface in per else self.controls[name].default


#: 名称 → 定义（各探索器模块登记自己的定义）。
DEFINITIONS: dict[str, Definition] = {}


def define(d: Definition) -> Definition:
    DEFINITIONS[d.name] = d
    return d


def definitions_json() -> str:
    """全部探索器的定义，写成 JSON（另一个前端读取它）。"""
    return json.dumps({k: asdict(d) for k, d in DEFINITIONS.items()}, ensure_ascii=False, indent=1)


def grid_values(c: Control) -> np.ndarray:
    """``log_grid`` / ``grid`` 控件的 ``n`` 个点。"""
    return np.logspace(c.lo, c.hi, c.n) if c.kind == "log_grid" else np.linspace(c.lo, c.hi, c.n)


_STYLE = {"description_width": "initial"}


def make_control(c: Control, value: Any = None) -> W.Widget:
    """由定义建出 ipywidgets 控件；``value`` 为 ``None`` 时取定义的默认值。"""
    value = c.default if value is None else value
    common = {"description": c.label, "style": _STYLE}
    if c.kind == "log":
        # 初值对齐到滑块的刻度 10^(lo + k·step)：否则浏览器显示对齐后的值，而图用的是未对齐的值
        k = round((math.log10(value) - c.lo) / c.step)
        return W.FloatLogSlider(value=10.0 ** (c.lo + k * c.step), base=10, min=c.lo, max=c.hi, step=c.step,
                                readout_format=".2g", continuous_update=True, **common)
    if c.kind == "float":
        return W.FloatSlider(value=value, min=c.lo, max=c.hi, step=c.step, readout_format=c.fmt,
                             continuous_update=True, **common)
    if c.kind == "int":
        return W.IntSlider(value=value, min=c.lo, max=c.hi, continuous_update=True, **common)
    if c.kind == "checkbox":
        return W.Checkbox(value=value, description=c.label, indent=False)
    if c.kind == "dropdown":
        layout = W.Layout(width=c.width) if c.width else W.Layout()
        return W.Dropdown(options=list(c.options), value=value, layout=layout, **common)
    if c.kind == "choice":
        return W.SelectionSlider(options=list(c.options), value=value, continuous_update=True, **common)
    if c.kind in ("log_grid", "grid"):
        vals = grid_values(c)
        if c.kind == "log_grid":
            options, at = [(fmt(v), i) for i, v in enumerate(vals)], np.abs(np.log10(vals) - math.log10(value))
        else:
            options, at = [(f"{v:.3f}", i) for i, v in enumerate(vals)], np.abs(vals - value)
        return W.SelectionSlider(options=options, value=int(np.argmin(at)), continuous_update=True, **common)
    raise ValueError(f"unknown control kind {c.kind!r}")


def make_controls(d: Definition, on: str | None = None, skip: Sequence[str] = (),
                  **values: Any) -> dict[str, W.Widget]:
    """定义 ``d`` 的全部控件（``skip`` 中的除外），默认值取曲面 ``on`` 上的；``values`` 中不为 ``None``
    的项替换默认值，``Control`` 替换该控件的定义（如随构造参数变化的范围）。"""
    out = {}
    for name, c in d.controls.items():
        if name in skip:
            continue
        v = values.get(name)
        if isinstance(v, Control):
            out[name] = make_control(v)
        else:
            out[name] = make_control(c, d.default(name, on) if v is None else v)
    return out


#: 曲面下拉菜单与条件数滑块（轨迹探索器与敏感度图共用）。
SURFACES = (("二次函数", "quadratic"), ("Rosenbrock", "rosenbrock"), ("Beale", "beale"))
SURFACE = Control("dropdown", "曲面", "rosenbrock", options=SURFACES, width="200px")
KAPPA = Control("choice", "条件数 κ", 10, options=(1, 2, 5, 10, 20, 50, 100))
