"""比较优化器时用到的测量工具：状态内存、达到目标损失的步数与时间、学习率敏感度。

这些函数只做测量、返回数字或数组，不画图。书中《优化器选择》一章用它们重新推导原笔记里的对比表。

- ``memory``：状态内存；
- ``surfaces``：二维曲面上的学习率扫描与敏感度（LBFGS 按求值次数计步的规则在 ``evaluations``）；
- ``runs``：真实数据上的训练（轮数、混沌检查、时间、准确率）；
- ``report``：把测量写成文字与表格。
"""

from ..training import Combined, hidden_muon
from .memory import StateMemory, measure_state, state_nbytes
from .report import agreed_round, markdown_table, median_range
from .runs import (Twins, accuracy, epochs_to, fit_lbfgs, fit_timed, fit_twins, is_chaotic,
                   median_losses, train_twins)
from .surfaces import (best_by_steps, lbfgs_surface, scan_lrs, sensitivity_width, steps_to,
                       sweep_surface, usable_width, width_decades)

__all__ = [
    "StateMemory",
    "state_nbytes",
    "measure_state",
    "Combined",
    "hidden_muon",
    "sweep_surface",
    "lbfgs_surface",
    "steps_to",
    "best_by_steps",
    "width_decades",
    "usable_width",
    "scan_lrs",
    "sensitivity_width",
    "epochs_to",
    "median_losses",
    "Twins",
    "train_twins",
    "fit_twins",
    "is_chaotic",
    "fit_timed",
    "fit_lbfgs",
    "accuracy",
    "agreed_round",
    "median_range",
    "markdown_table",
]
