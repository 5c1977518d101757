"""Reddi 等人的反例探索器：Adam 收敛到最差点 x = +1，AMSGrad 走向最优点 x* = −1。

问题与运行都在 :mod:`optimlab.online`\\ （:func:`~optimlab.online.run_reddi`）；本模块只选起点
:data:`REDDI_X0`、缓存结果并画图。
"""

from __future__ import annotations

import functools

import numpy as np

from ..online import OnlineRun, run_reddi
from ..optim import Adam
from .base import COLORS, OPTIMIZER_ERRORS, Explorer, error_message, fmt
from .controls import Control, Definition, define, make_controls

__all__ = ["ReddiExplorer", "reddi_runs", "REDDI_X0", "REDDI_DEF"]

#: 探索器的起点：区间 [−1, 1] 的中点（:func:`optimlab.online.run_reddi` 默认从最差点 +1 出发）。
REDDI_X0 = 0.0

REDDI_DEF = define(Definition(
    "reddi", "Reddi 反例：Adam 与 AMSGrad，x 投影到 [−1, 1]", "reddi",
    {"C": Control("float", "C", 3.0, 2.5, 10.0, 0.5),
     "lr": Control("log", "学习率 η", 0.5, -2, 0, 0.25),
     "decay": Control("checkbox", "η_t = η/√t", True),
     "beta1": Control("float", "β₁", 0.0, 0.0, 0.99, 0.01),
     "beta2": Control("float", "β₂", 0.1, 0.01, 0.999, 0.001)},
    series=("Adam", "AMSGrad")))


@functools.lru_cache(maxsize=256)
def reddi_runs(C: float, lr: float, beta1: float, beta2: float, steps: int, decay: bool = True,
               x0: float = REDDI_X0) -> dict[str, OnlineRun | Exception]:
    """Adam 与 AMSGrad 各一次 :func:`optimlab.online.run_reddi`\\ （按参数缓存）；超参数非法时值为异常对象。"""
    out: dict[str, OnlineRun | Exception] = {}
    for name, ams in (("Adam", False), ("AMSGrad", True)):
        try:
            out[name] = run_reddi(Adam, steps, C, lr=lr, sqrt_decay=decay, x0=x0, label=name,
                                  betas=(beta1, beta2), amsgrad=ams)
        except OPTIMIZER_ERRORS as err:
            out[name] = err
    return out


class ReddiExplorer(Explorer):
    """Reddi 等人的在线凸问题：Adam 收敛到最差点 x = +1，AMSGrad 走向最优点 x* = −1。"""

    definition = REDDI_DEF

    def __init__(self, steps: int = 300, C: float = 3.0, lr: float = 0.5, beta1: float = 0.0,
                 beta2: float = 0.1) -> None:
        super().__init__((8.6, 3.3))
        self.steps = steps
        self.controls.update(make_controls(self.definition, C=C, lr=lr, beta1=beta1, beta2=beta2))
        self.ax_x, self.ax_r = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.84, wspace=0.25)
        t = np.arange(steps + 1)
        self.lines = {}
        for name in self.definition.series:
            self.lines[name] = self._dyn(self.ax_x.plot(t, t * np.nan, color=COLORS[name], lw=1.2, label=name)[0])
            self.lines[name + "_regret"] = self._dyn(self.ax_r.plot(t, t * np.nan, color=COLORS[name], lw=1.2,
                                                                    label=name)[0])
        self.ax_x.axhline(-1, color="black", ls="--", lw=0.8)
        self.ax_x.text(steps, -0.93, "最优点 $x^*=-1$", ha="right", fontsize=8)
        self.ax_x.set_ylim(-1.1, 1.1)
        self.ax_x.set_xlim(0, steps)
        self.ax_x.set_xlabel("步数 $t$")
        self.ax_x.set_ylabel("$x_t$")
        self.ax_x.legend(loc="center right", fontsize=8)
        self.ax_x.grid(alpha=0.3)
        self.ax_r.set_xlim(0, steps)
        self.ax_r.set_xlabel("步数 $t$")
        self.ax_r.set_ylabel("平均遗憾 $R_t / t$")
        self.ax_r.grid(alpha=0.3)
        self.title = self._dyn(self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=10))
        self.status = self._dyn(self.ax_r.text(0.98, 0.97, "", transform=self.ax_r.transAxes, ha="right",
                                               va="top", fontsize=9, linespacing=1.4))
        self._ylim_C = None
        self._finish()

    def _compute(self) -> None:
        c = self.controls
        C, lr, b1, b2 = (float(c[k].value) for k in ("C", "lr", "beta1", "beta2"))
        decay = bool(c["decay"].value)
        res = reddi_runs(C, lr, b1, b2, self.steps, decay)
        if self._ylim_C != C:  # x 停在 +1 时每步的平均遗憾是 (2C - 4)/3
            self.ax_r.set_ylim(0, max(2 * C + 2, 1.0))
            self._ylim_C = C
            self._static_changed()
        self.result = res
        self.messages = []
        t = np.arange(self.steps + 1)
        for name in self.definition.series:
            run = res[name]
            if isinstance(run, Exception):
                self.lines[name].set_data([], [])
                self.lines[name + "_regret"].set_data([], [])
                self.messages.append(f"{name}：{error_message(run)}")
            else:
                self.lines[name].set_data(t, run.x)
                self.lines[name + "_regret"].set_data(t[1:], run.avg_regret)
                self.messages.append(f"{name}：x = {run.x[-1]:+.3f}")
        self._show_messages(alarm=("无法",))
        lr_text = f"ηₜ = η/√t，η = {fmt(lr)}" if decay else f"η = {fmt(lr)}"
        self.title.set_text(f"Reddi 反例：C = {fmt(C)}，{lr_text}，β₁ = {fmt(b1)}，β₂ = {fmt(b2)}")
