"""学习率调度器探索器：调度器的形状（左）及其对一次小批量 SGD 或 Adam 训练的影响（右，与常数学习率对比）。

调度器有 StepLR、ReduceLROnPlateau、CosineAnnealingLR 与 OneCycleLR；OneCycleLR 可以同时让 SGD 的动量或
Adam 的 β₁ 反向循环（``cycle_momentum``），左图用右侧的纵轴画出每次更新时的动量。

训练本身（:func:`optimlab.training.scheduler_run`）与噪声下限（:func:`optimlab.training.regression_optimum`）
在 :mod:`optimlab.training`；本模块只画图。
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import ipywidgets as W
import numpy as np

from ..training import History, ScheduleHistory, regression_lr_limit, regression_optimum, scheduler_run
from .base import OPTIMIZER_ERRORS, Explorer, divergence_message, error_message, fmt
from .controls import Control, Definition, define, make_controls

__all__ = ["SchedulerExplorer", "SCHEDULERS", "SCHEDULE_LABELS", "SCHEDULER_DEF"]

SCHEDULERS = (("常数（不调度）", "constant"), ("StepLR", "step"), ("ReduceLROnPlateau", "plateau"),
              ("CosineAnnealingLR", "cosine"), ("OneCycleLR", "onecycle"))
OPTIMIZERS = (("SGD", "sgd"), ("Adam", "adam"))

#: 图例中调度曲线的名字（每个调度器一个，灰色虚线是常数 η₀ 的对照）。
SCHEDULE_LABELS = {"constant": "常数 η₀（不调度）", "step": "StepLR", "plateau": "ReduceLROnPlateau",
                   "cosine": "CosineAnnealingLR（余弦）", "onecycle": "OneCycleLR"}
_SHORT_NAMES = {"constant": "常数 η₀", "step": "StepLR", "plateau": "Plateau", "cosine": "余弦",
                "onecycle": "OneCycle"}
MOMENTUM_COLOR = "#2ca02c"

#: 每个调度器自己的控件（其余调度器的控件此时不可用）。
SCHEDULER_CONTROLS = {"step": ("step_size", "gamma"), "plateau": ("factor", "patience"), "cosine": ("T_max",),
                      "onecycle": ("max_lr", "pct_start", "cycle_momentum")}
#: 每个优化器自己的控件。
OPTIMIZER_CONTROLS = {"sgd": ("momentum",), "adam": ("beta1",)}

SCHEDULER_DEF = define(Definition(
    "scheduler", "学习率调度器：StepLR、ReduceLROnPlateau、CosineAnnealingLR、OneCycleLR 的形状及其对训练的影响", "linear_regression",
    {"kind": Control("dropdown", "调度器", "step", options=SCHEDULERS),
     "lr": Control("log", "初始学习率 η₀", 0.03, -3, 0, 0.25),
     "optimizer": Control("dropdown", "优化器", "sgd", options=OPTIMIZERS),
     "momentum": Control("float", "SGD 动量 μ", 0.0, 0.0, 0.99, 0.01),
     "beta1": Control("float", "Adam β₁", 0.9, 0.0, 0.99, 0.01),
     "step_size": Control("int", "StepLR step_size", 10, 1, 30),
     "gamma": Control("float", "StepLR gamma", 0.3, 0.05, 1.0, 0.05),
     "factor": Control("float", "Plateau factor", 0.5, 0.05, 0.95, 0.05),
     "patience": Control("int", "Plateau patience", 2, 0, 10),
     "T_max": Control("int", "余弦 T_max", 30, 1, 60),
     "max_lr": Control("log", "OneCycle max_lr", 0.1, -3, 0, 0.25),
     "pct_start": Control("float", "OneCycle pct_start", 0.3, 0.05, 0.95, 0.05),
     "cycle_momentum": Control("checkbox", "OneCycle 动量循环（cycle_momentum）", False)}))


class SchedulerExplorer(Explorer):
    """学习率调度器的形状（左）及其对一次小批量 SGD 或 Adam 训练的影响（右，与常数学习率对比）。"""

    definition = SCHEDULER_DEF

    def __init__(self, kind: str = "step", epochs: int = 30, batch_size: int = 20) -> None:
        super().__init__((8.6, 3.5))
        self.epochs, self.batch_size = epochs, batch_size
        T_max = replace(self.definition.controls["T_max"], default=epochs, hi=2 * epochs)
        self.controls.update(make_controls(self.definition, kind=kind, T_max=T_max))
        self.ax_lr, self.ax_loss = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.84, wspace=0.45)
        self.ax_mom = self.ax_lr.twinx()  # 动量 μ 或 β₁（线性纵轴，右侧）
        self.ax_mom.set_ylim(0, 1)
        self.ax_mom.set_ylabel("动量 μ / β₁", color=MOMENTUM_COLOR, fontsize=9, labelpad=2)
        self.ax_mom.tick_params(axis="y", colors=MOMENTUM_COLOR, labelsize=8)
        self.n_updates = epochs * math.ceil(200 / batch_size)
        base_label = "常数 $\\eta_0$（对照）"
        self.lines = {
            "lr": self._dyn(self.ax_lr.plot([], [], color="#d62728", lw=1.4)[0]),
            "lr_base": self._dyn(self.ax_lr.plot([], [], color="0.5", lw=1.0, ls="--",
                                                 label=base_label)[0]),
            "momentum": self._dyn(self.ax_mom.plot([], [], color=MOMENTUM_COLOR, lw=1.2, ls=":")[0]),
            "loss": self._dyn(self.ax_loss.plot([], [], "-o", ms=2.5, color="#d62728", lw=1.4)[0]),
            "loss_base": self._dyn(self.ax_loss.plot([], [], marker="o", ms=2.5, color="0.5", lw=1.0,
                                                     ls="--", label=base_label)[0]),
        }
        self._legend_kind: str | None = None
        self.ax_lr.set_xlim(0, self.n_updates)
        self.ax_lr.set_xlabel("更新次数")
        self.ax_lr.set_ylabel("学习率")
        self.ax_lr.set_yscale("log")
        self.ax_lr.set_ylim(1e-5, 2.0)
        self.ax_lr.grid(alpha=0.3)
        self.ax_loss.set_xlim(0, epochs)
        self.ax_loss.set_yscale("log")
        self.ax_loss.set_ylim(1e-6, 1e5)
        self.ax_loss.set_xlabel("轮数（epoch）")
        self.ax_loss.set_ylabel("超额损失 $L - L^*$")
        self.loss_floor = regression_optimum()
        self.ax_loss.grid(alpha=0.3)
        self.lr_limit = regression_lr_limit()
        self.title = self._dyn(self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=10))
        self.status = self._dyn(self.ax_loss.text(
            0.03, 0.97, "", transform=self.ax_loss.transAxes, ha="left", va="top", fontsize=9,
            linespacing=1.4, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 2}))
        self._finish()

    def _layout(self):
        c = self.controls
        return [W.HBox([c["kind"], c["lr"]]), W.HBox([c["optimizer"], c["momentum"], c["beta1"]]),
                W.HBox([c["step_size"], c["gamma"]]), W.HBox([c["factor"], c["patience"]]), W.HBox([c["T_max"]]),
                W.HBox([c["max_lr"], c["pct_start"], c["cycle_momentum"]])]

    def settings(self) -> dict[str, Any]:
        c = self.controls
        kind = c["kind"].value
        opt = c["optimizer"].value
        s: dict[str, Any] = {"kind": kind, "lr": float(c["lr"].value)}
        if opt != "sgd":  # 默认的 SGD 不写出，与扩展前的调用（及其缓存）相同
            s["optimizer"] = opt
        for name in OPTIMIZER_CONTROLS[opt] + SCHEDULER_CONTROLS.get(kind, ()):
            w = c[name]
            kind_of = int if isinstance(w, W.IntSlider) else bool if isinstance(w, W.Checkbox) else float
            s[name] = kind_of(w.value)
        if opt == "sgd" and s["momentum"] == 0:
            del s["momentum"]
        return s

    def history(self, **settings) -> History | Exception:
        """:func:`optimlab.training.scheduler_run`\\ （按参数缓存）；超参数非法时为异常对象。"""
        try:
            return scheduler_run(**settings, epochs=self.epochs, batch_size=self.batch_size)
        except OPTIMIZER_ERRORS as err:
            return err

    def _compute(self) -> None:
        c = self.controls
        s = self.settings()
        kind = s["kind"]
        for k, names in SCHEDULER_CONTROLS.items():
            for name in names:
                c[name].disabled = kind != k
        c["lr"].disabled = kind == "onecycle"
        cycling = kind == "onecycle" and s.get("cycle_momentum", False)  # 调度器改写动量：滑块不起作用
        for k, names in OPTIMIZER_CONTROLS.items():
            for name in names:
                c[name].disabled = cycling or c["optimizer"].value != k
        self.messages = []
        self._legends(kind)
        hist = self.history(**s)
        runs = [("", hist, _SHORT_NAMES[kind])]
        if kind != "constant":  # 常数学习率时调度曲线就是对照曲线，只画一条
            base = {k: v for k, v in s.items() if k in ("lr", "optimizer", "momentum", "beta1")}
            runs.append(("_base", self.history(kind="constant", **base), "常数 η₀"))
        for suffix, h, name in runs:
            if isinstance(h, Exception):
                self.lines["lr" + suffix].set_data([], [])
                self.lines["loss" + suffix].set_data([], [])
                self.messages.append(f"{name}：{error_message(h)}")
                continue
            lr = np.maximum(np.asarray(h.lr, dtype=float), 1e-12)
            self.lines["lr" + suffix].set_data(np.arange(len(lr)), lr)
            if not suffix:  # 动量曲线：SGD 没有动量且不循环时（恒为 0）不画
                mom = np.asarray(h.momentum, dtype=float)
                shown = bool(mom.any())
                self.lines["momentum"].set_data((np.arange(len(mom)), mom) if shown else ([], []))
            loss = np.asarray(h.epoch_loss, dtype=float) - self.loss_floor  # 超额损失
            self.lines["loss" + suffix].set_data(np.arange(len(loss)), np.maximum(loss, 1e-12))
            if h.diverged_at is not None:
                self.messages.append(f"{name}：{divergence_message(h.diverged_at)}")
                continue
            msg = f"{name}：最终超额损失 {fmt(loss[-1])}"
            k = int(np.argmax(loss))
            if k > 0:  # 训练中途损失比起点还高：学习率一度超过了稳定上限
                msg += f"\n  （第 {k} 轮曾升到 {fmt(loss[k])}）"
            self.messages.append(msg)
        if isinstance(hist, Exception):
            self.lines["momentum"].set_data([], [])
        else:
            self._notes(s, hist)
        self.history_ = hist
        self._show_messages()
        label = dict((v, k) for k, v in SCHEDULERS)[kind]
        detail = {"constant": f"η₀ = {fmt(s['lr'])}",
                  "step": f"η₀ = {fmt(s['lr'])}，step_size = {s.get('step_size')}，gamma = {fmt(s.get('gamma', 0))}",
                  "plateau": f"η₀ = {fmt(s['lr'])}，factor = {fmt(s.get('factor', 0))}，patience = {s.get('patience')}",
                  "cosine": f"η₀ = {fmt(s['lr'])}，T_max = {s.get('T_max')}",
                  "onecycle": f"max_lr = {fmt(s.get('max_lr', 0))}，pct_start = {fmt(s.get('pct_start', 0))}"}[kind]
        self.title.set_text(f"{label}：{detail}（{self._optimizer_text(s)}，批量 {self.batch_size}，{self.epochs} 轮）")

    @staticmethod
    def _optimizer_text(s: dict[str, Any]) -> str:
        """标题中的优化器：SGD（及其动量）或 Adam 的 β₁；OneCycle 循环动量时写出循环的范围。"""
        name, sym = ("Adam", "β₁") if s.get("optimizer") == "adam" else ("SGD", "μ")
        if s["kind"] == "onecycle" and s.get("cycle_momentum"):
            return f"{name}，{sym} 在 0.95 与 0.85 间循环"
        value = s.get("beta1") if name == "Adam" else s.get("momentum")
        return f"{name}，{sym} = {fmt(value)}" if value else name

    def _notes(self, s: dict[str, Any], hist: ScheduleHistory) -> None:
        """峰值学习率超过稳定上限、余弦的 T_max 与轮数不同：在消息中说明后果。"""
        if s["kind"] == "plateau":
            cuts = hist.reductions
            if cuts:
                shown = "、".join(map(str, cuts[:6])) + ("……" if len(cuts) > 6 else "")
                self.messages.append(f"第 {shown} 轮末损失停滞，学习率 ×{fmt(s['factor'])}")
        peak = max(hist.lr)
        if peak > self.lr_limit:
            self.messages.append(f"峰值学习率 {fmt(peak)} 超过\n  全批量稳定上限 2/λ_max ≈ {fmt(self.lr_limit)}")
        if s["kind"] == "cosine" and s["T_max"] != self.epochs:  # torch 的余弦在 T_max 之后并不停下
            T = s["T_max"]
            if T < self.epochs:
                self.messages.append(f"T_max = {T} < {self.epochs} 轮：第 {T} 轮后\n"
                                     f"  学习率沿余弦回升（周期 2·T_max = {2 * T} 轮）")
            else:
                self.messages.append(f"T_max = {T} > {self.epochs} 轮：最后一轮的\n"
                                     f"  学习率还有 η₀ 的 {hist.lr[-1] / s['lr']:.0%}")

    def _legends(self, kind: str) -> None:
        """图例（左图，两图共用颜色）写出所选调度器的名字；常数学习率时不画对照曲线。

        图例属于静态部分，换调度器时重画。
        """
        if kind == self._legend_kind:
            return
        self._legend_kind = kind
        show_base = kind != "constant"
        for name in ("lr", "loss"):
            self.lines[name].set_label(SCHEDULE_LABELS[kind])
            self.lines[name + "_base"].set_visible(show_base)
            if not show_base:
                self.lines[name + "_base"].set_data([], [])
        handles = [self.lines["lr"]] + ([self.lines["lr_base"]] if show_base else [])
        self.ax_lr.legend(handles=handles, loc="lower left", fontsize=8)
        self._static_changed()

