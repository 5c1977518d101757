"""书中的交互式探索器：ipywidgets 控件 + matplotlib 图。

每个探索器都是 :class:`Explorer` 的子类，由同名函数构造（如 :func:`sgd_explorer`），在 Jupyter 中直接显示即可。
按探索器的家族分成几个模块：

* :mod:`~optimlab.widgets.base`：:class:`Explorer` 基类、渲染、同步运行与缓存、消息与严格模式；
* :mod:`~optimlab.widgets.controls`：探索器的定义（控件、范围、默认值、中文标签、问题）是纯数据，
  :func:`definitions_json` 把它们写成 JSON，供另一个前端读取；
* :mod:`~optimlab.widgets.paths`：二维曲面上的 SGD、Adam、NAdam、AdamW 轨迹；
* :mod:`~optimlab.widgets.moments`、:mod:`~optimlab.widgets.reddi`、:mod:`~optimlab.widgets.schedulers`、
  :mod:`~optimlab.widgets.sensitivity`、:mod:`~optimlab.widgets.more`：偏差校正、Reddi 反例、学习率调度器、
  敏感度图、第 8–10 章的其他优化器（书中从 :mod:`optimlab.widgets_more` 导入）。

设计要点：

* 图是一个不经过 pyplot 的 ``Figure``\\ （Agg 画布），渲染成 PNG 放进 ``ipywidgets.Image``，
  因此与 ``%matplotlib inline`` 兼容，也不会在单元格末尾多画一张图；
* 等高线、坐标轴等 **静态** 部分只画一次并缓存成位图；移动控件时只更新轨迹、曲线和文字
  （``animated`` 的 artist），再贴回位图（blitting）；
* 优化器在同一曲面上的几次运行 **同步** 进行（:func:`run_lockstep`，即 :func:`optimlab.trajectory.run_many`），
  结果与逐个调用 :func:`optimlab.trajectory.run` 逐位相同，并按超参数缓存；
* 问题本身不在这里：Reddi 的问题在 :mod:`optimlab.online`，参考矩估计在
  :mod:`optimlab.exercises.bias_correction`，调度器训练在 :mod:`optimlab.training`，敏感度网格在
  :mod:`optimlab.sweep`，等高线在 :mod:`optimlab.plotting`；
* 发散显示为"发散（第 k 步）"，非法超参数（:data:`OPTIMIZER_ERRORS`）显示为"无法运行：……"；
  其他异常在严格模式（:data:`optimlab.widgets.base.STRICT`，测试打开）下照常抛出。

网页上的探索器（静态网站，没有内核）由 :mod:`~optimlab.widgets.page` 写出：同一份定义、浏览器里运行的
JavaScript（``optimlab/optim/rules.mjs`` 与 ``optimlab/web/``），数据来自 :mod:`~optimlab.widgets.webdata`。

依赖方向：optim ← trajectory ← plotting ← widgets。
"""

from __future__ import annotations

from collections.abc import Callable

from ..sweep import sensitivity_grid
from ..training import regression_lr_limit, regression_optimum, scheduler_run
from .base import (
    LOSS_FLOOR,
    OPTIMIZER_ERRORS,
    RED,
    Explorer,
    Tabs,
    compact_png,
    divergence_message,
    error_message,
    run_lockstep,
)
from .controls import DEFINITIONS, Control, Definition, definitions_json
from .more import MoreOptimizersExplorer, more_optimizers_explorer
from .moments import BiasCorrectionExplorer, moment_estimates, noisy_gradients
from .paths import AdamExplorer, AdamWExplorer, NAdamExplorer, PathExplorer, SGDExplorer, scaled_quadratic
from .reddi import ReddiExplorer, reddi_runs
from .schedulers import SCHEDULE_LABELS, SCHEDULERS, SchedulerExplorer
from .sensitivity import SENSITIVITY, SensitivityExplorer

__all__ = [
    "Explorer",
    "PathExplorer",
    "Tabs",
    "Control",
    "Definition",
    "DEFINITIONS",
    "definitions_json",
    "OPTIMIZER_ERRORS",
    "LOSS_FLOOR",
    "RED",
    "compact_png",
    "error_message",
    "divergence_message",
    "run_lockstep",
    "moment_estimates",
    "noisy_gradients",
    "scaled_quadratic",
    "reddi_runs",
    "scheduler_run",
    "regression_optimum",
    "regression_lr_limit",
    "sensitivity_grid",
    "SCHEDULERS",
    "SCHEDULE_LABELS",
    "SENSITIVITY",
    "SGDExplorer",
    "AdamExplorer",
    "NAdamExplorer",
    "AdamWExplorer",
    "BiasCorrectionExplorer",
    "ReddiExplorer",
    "SchedulerExplorer",
    "SensitivityExplorer",
    "MoreOptimizersExplorer",
    "more_optimizers_explorer",
    "sgd_explorer",
    "adam_explorer",
    "bias_correction_explorer",
    "reddi_explorer",
    "adamw_explorer",
    "nadam_explorer",
    "variants_explorer",
    "scheduler_explorer",
    "sensitivity_explorer",
    "EXPLORERS",
]


def sgd_explorer(surface: str = "rosenbrock", steps: int = 200, **kwargs) -> SGDExplorer:
    """SGD 探索器：学习率、动量、阻尼、Nesterov、权重衰减；曲面可选（二次函数的条件数 κ 可调）。"""
    return SGDExplorer(surface, steps, **kwargs)


def adam_explorer(surface: str = "rosenbrock", steps: int = 200, **kwargs) -> AdamExplorer:
    """Adam 探索器：η、β₁、β₂、ε，与 SGD 动量（μ = β₁）和 RMSprop（α = β₂）对比。"""
    return AdamExplorer(surface, steps, **kwargs)


def bias_correction_explorer(max_steps: int = 300, **kwargs) -> BiasCorrectionExplorer:
    """偏差校正探索器：β₁、β₂、梯度噪声与步数 t，对比 m_t、v_t 与 m̂_t、v̂_t。"""
    return BiasCorrectionExplorer(max_steps, **kwargs)


def reddi_explorer(steps: int = 300, **kwargs) -> ReddiExplorer:
    """Reddi 反例探索器：Adam 与 AMSGrad，x 投影到 [−1, 1]。"""
    return ReddiExplorer(steps, **kwargs)


def adamw_explorer(steps: int = 200, **kwargs) -> AdamWExplorer:
    """AdamW 与 Adam + L2 探索器：权重衰减 λ 与梯度尺度 s。"""
    return AdamWExplorer(steps, **kwargs)


def nadam_explorer(surface: str = "rosenbrock", steps: int = 200, **kwargs) -> NAdamExplorer:
    """NAdam 与 Adam 探索器。"""
    return NAdamExplorer(surface, steps, **kwargs)


def variants_explorer() -> Tabs:
    """变体一章的三个探索器放在一组标签页里：AMSGrad、AdamW、NAdam。"""
    return Tabs({"AMSGrad 与 Adam": reddi_explorer(), "AdamW 与 L2": adamw_explorer(),
                 "NAdam 与 Adam": nadam_explorer()}, "variants")


def scheduler_explorer(kind: str = "step", **kwargs) -> SchedulerExplorer:
    """学习率调度器探索器：StepLR、ReduceLROnPlateau、CosineAnnealingLR、OneCycleLR（可循环动量 / β₁）
    的形状及其对 SGD 或 Adam 训练的影响。"""
    return SchedulerExplorer(kind, **kwargs)


def sensitivity_explorer(surface: str = "rosenbrock", optimizer: str = "Adam", **kwargs) -> SensitivityExplorer:
    """优化器选择探索器：lr × β₁（或 μ、α）的敏感度图，与所选设置的轨迹。"""
    return SensitivityExplorer(surface, optimizer, **kwargs)


#: 名称 → 构造函数（基准脚本与测试用）。
EXPLORERS: dict[str, Callable[..., Explorer]] = {
    "sgd": sgd_explorer,
    "adam": adam_explorer,
    "bias_correction": bias_correction_explorer,
    "reddi": reddi_explorer,
    "adamw": adamw_explorer,
    "nadam": nadam_explorer,
    "scheduler": scheduler_explorer,
    "sensitivity": sensitivity_explorer,
}
