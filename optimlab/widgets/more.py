"""《torch.optim 的其他优化器》（第 8–10 章）的交互式探索器。

:class:`MoreOptimizersExplorer` 是 :class:`optimlab.widgets.paths.PathExplorer` 的子类：等高线与轨迹、
损失曲线、同步运行与缓存、"发散（第 k 步）"/"无法运行"的提示都来自那里，本模块只加

* 一个优化器下拉菜单（:data:`CHOICES`：本部分的九个优化器中能在二维曲面上逐步运行的六个，再加 Adam）；
* 一条固定的基准线：Adam，学习率取 Adam 探索器在该曲面上的默认值（:data:`optimlab.widgets.paths.ADAM_LR`）；
* 切换优化器或曲面时，学习率跳到该组合的建议值（:data:`SUGGESTED_LR`）。

:data:`EXCLUDED` 说明另外三个为什么不在菜单里。书中从 :mod:`optimlab.widgets_more` 导入它。
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from .. import optim
from .base import fmt
from .controls import KAPPA, SURFACE, Control, Definition, define
from .paths import ADAM_LR, PathExplorer

__all__ = ["CHOICES", "EXCLUDED", "SUGGESTED_LR", "BASELINE", "MORE_DEF", "MoreOptimizersExplorer",
           "more_optimizers_explorer"]

#: 下拉菜单中的优化器（类名与 torch.optim 相同）与显示名。
CHOICES: dict[str, str] = {
    "RAdam": "RAdam",
    "Adamax": "Adamax",
    "Adadelta": "Adadelta",
    "ASGD": "ASGD",
    "Rprop": "Rprop",
    "Adafactor": "Adafactor",
    "Adam": "Adam（对照）",
}

#: 不在菜单里的三个优化器及原因（也显示在探索器里）。
EXCLUDED: dict[str, str] = {
    "LBFGS": "step() 必须传入 closure，一次 step 可以多次求函数值和梯度，与这里“每步一次梯度”的同步运行不可比",
    "SparseAdam": "只接受稀疏梯度（如 nn.Embedding(sparse=True)），曲面上的梯度是稠密的",
    "Muon": "只接受二维（矩阵）参数，这里的参数是平面上的一个点，即长度为 2 的向量",
}

#: 建议学习率的 log10（滑块刻度为 0.25）：在 10⁻⁴…10¹ 的刻度上逐个运行 200 步，挑出该曲面上结果较好、
#: 又不在发散边缘的取值（不是精调的最优值）。二次函数按 κ = 10 选取；κ 大时，SGD 一类（ASGD）
#: 以及 RAdam 前 5 步的动量 SGD 需要更小的 η。Adam 的建议值比基准线的 η 大，便于对比。
SUGGESTED_LR: dict[str, dict[str, float]] = {
    "RAdam": {"quadratic": -0.75, "rosenbrock": -2.25, "beale": -2.0},
    "Adamax": {"quadratic": -1.0, "rosenbrock": 0.0, "beale": 0.0},
    "Adadelta": {"quadratic": 1.0, "rosenbrock": 1.0, "beale": 1.0},
    "ASGD": {"quadratic": -1.0, "rosenbrock": -3.0, "beale": -1.5},
    "Rprop": {"quadratic": -2.0, "rosenbrock": -2.0, "beale": -2.0},
    "Adafactor": {"quadratic": -0.5, "rosenbrock": 0.0, "beale": -1.5},
    "Adam": {"quadratic": -0.5, "rosenbrock": -0.25, "beale": -0.5},
}

#: 基准线的名字（与所选的 Adam 分开，二者可以同时出现）。
BASELINE = "Adam 基准"

MORE_DEF = define(Definition(
    "more_optimizers", "torch.optim 的其他优化器在二维曲面上的轨迹，与 Adam 基准对比", "surface",
    {"surface": SURFACE, "kappa": KAPPA,
     "optimizer": Control("dropdown", "优化器", "RAdam", options=tuple((label, name) for name, label in CHOICES.items()),
                          width="200px"),
     "lr": Control("log", "学习率 η", 10.0 ** SUGGESTED_LR["RAdam"]["rosenbrock"], -4, 2, 0.25)},
    series=(*CHOICES, BASELINE),
    surface_defaults={"lr": {s: 10.0 ** v for s, v in SUGGESTED_LR["RAdam"].items()}}))

_COLORS = {"RAdam": "#d62728", "Adamax": "#9467bd", "Adadelta": "#2ca02c", "ASGD": "#1f77b4",
           "Rprop": "#ff7f0e", "Adafactor": "#8c564b", "Adam": "#e377c2", BASELINE: "#7f7f7f"}


def _note() -> str:
    items = "；".join(f"<b>{name}</b>：{why}" for name, why in EXCLUDED.items())
    return (f"<small>菜单里没有 torch.optim 的另外三个优化器——{items}。"
            "切换优化器或曲面时，学习率跳到该组合的建议值；灰线是固定的 Adam 基准。</small>")


class MoreOptimizersExplorer(PathExplorer):
    """在二维曲面上运行所选的优化器（学习率可调，其余超参数取 torch 的默认值），与 Adam 基准对比。

    Attributes:
        note: 控件下方说明排除了哪些优化器的 ``ipywidgets.HTML``。
    """

    definition = MORE_DEF

    def __init__(self, surface: str = "rosenbrock", optimizer: str = "RAdam", steps: int = 200,
                 lr: float | None = None, kappa: float = 10) -> None:
        if optimizer not in CHOICES:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose from {list(CHOICES)}")
        start = 10.0 ** SUGGESTED_LR[optimizer][surface] if lr is None else lr
        super().__init__(surface, steps, kappa, optimizer=optimizer, lr=start)
        for name in self.definition.series:  # 基类按 widgets 的配色画线；这里每个优化器一种颜色，基准为灰色
            for art in (self.lines[name], self.ends[name], self.loss_lines[name]):
                art.set_color(_COLORS[name])
        self.lines[BASELINE].set_linestyle("--")
        self.loss_lines[BASELINE].set_linestyle("--")
        self.note = W.HTML(_note())
        self._legend_for: str | None = None
        self._finish()

    def _layout(self) -> list[W.Widget]:
        c = self.controls
        return [W.HBox([c["surface"], c["kappa"]]), W.HBox([c["optimizer"], c["lr"]]), self.note]

    # --- 当前设置 ---------------------------------------------------------------------------
    def selected(self) -> str:
        """所选优化器的类名。"""
        return self.controls["optimizer"].value

    def suggested_lr(self, optimizer: str | None = None, surface: str | None = None) -> float:
        """``optimizer`` 在 ``surface`` 上的建议学习率（默认取当前的选择），恰好落在滑块的刻度上。"""
        optimizer = self.selected() if optimizer is None else optimizer
        surface = self.controls["surface"].value if surface is None else surface
        return 10.0 ** SUGGESTED_LR[optimizer][surface]

    def baseline_lr(self) -> float:
        """基准 Adam 的学习率：Adam 探索器在该曲面上的默认值。"""
        return ADAM_LR[self.controls["surface"].value]

    def _specs(self) -> list[tuple[str, type, dict[str, Any]]]:
        name = self.selected()
        return [(name, getattr(optim, name), {"lr": float(self.value("lr"))}),
                (BASELINE, optim.Adam, {"lr": self.baseline_lr()})]

    def _title(self) -> str:
        name = self.selected()
        return (f"{name}（{self.surface.name}）：η = {fmt(float(self.value('lr')))}，其余超参数取 torch 默认值"
                f"｜基准：Adam，η = {fmt(self.baseline_lr())}")

    # --- 计算与绘图 -------------------------------------------------------------------------
    def _compute(self) -> None:
        c = self.controls
        if self._changed is c["optimizer"] or self._changed is c["surface"]:
            self._holding = True  # 只改滑块的值，不触发第二次更新
            try:
                c["lr"].value = self.suggested_lr()
            finally:
                self._holding = False
        super()._compute()
        shown = {name for name, _, _ in self._specs()}
        for name in self.definition.series:
            if name not in shown:
                for art in (self.lines[name], self.ends[name], self.loss_lines[name]):
                    art.set_data([], [])
        name = self.selected()
        if self._legend_for != name:  # 图例属于静态部分：只列出所选优化器与基准
            handles = [self.loss_lines[name], self.loss_lines[BASELINE]]
            self.ax_loss.legend(handles, [CHOICES[name], BASELINE], loc="lower left", fontsize=8)
            self._legend_for = name
            self._static_changed()


def more_optimizers_explorer(surface: str = "rosenbrock", optimizer: str = "RAdam", steps: int = 200,
                             **kwargs) -> MoreOptimizersExplorer:
    """第 8–10 章的优化器在二维曲面上的轨迹探索器（见 :class:`MoreOptimizersExplorer`）。"""
    return MoreOptimizersExplorer(surface, steps=steps, optimizer=optimizer, **kwargs)
