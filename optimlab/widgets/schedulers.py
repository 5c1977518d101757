"""学习率调度器探索器：调度器的形状（左）及其对一次小批量 SGD 训练的影响（右，与常数学习率对比）。

训练本身（:func:`optimlab.training.scheduler_run`）与噪声下限（:func:`optimlab.training.regression_optimum`）
在 :mod:`optimlab.training`；本模块只画图。
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import ipywidgets as W
import numpy as np

from ..training import History, regression_lr_limit, regression_optimum, scheduler_run
from .base import OPTIMIZER_ERRORS, Explorer, divergence_message, error_message, fmt
from .controls import Control, Definition, define, make_controls

__all__ = ["SchedulerExplorer", "SCHEDULERS", "SCHEDULE_LABELS", "SCHEDULER_DEF"]

SCHEDULERS = (("常数（不调度）", "constant"), ("StepLR", "step"), ("CosineAnnealingLR", "cosine"),
              ("OneCycleLR", "onecycle"))

#: 图例中调度曲线的名字（每个调度器一个，灰色虚线是常数 η₀ 的对照）。
SCHEDULE_LABELS = {"constant": "常数 η₀（不调度）", "step": "StepLR",
                   "cosine": "CosineAnnealingLR（余弦）", "onecycle": "OneCycleLR"}
_SHORT_NAMES = {"constant": "常数 η₀", "step": "StepLR", "cosine": "余弦", "onecycle": "OneCycle"}

#: 每个调度器自己的控件（其余调度器的控件此时不可用）。
SCHEDULER_CONTROLS = {"step": ("step_size", "gamma"), "cosine": ("T_max",), "onecycle": ("max_lr", "pct_start")}

SCHEDULER_DEF = define(Definition(
    "scheduler", "学习率调度器：StepLR、CosineAnnealingLR、OneCycleLR 的形状及其对训练的影响", "linear_regression",
    {"kind": Control("dropdown", "调度器", "step", options=SCHEDULERS),
     "lr": Control("log", "初始学习率 η₀", 0.03, -3, 0, 0.25),
     "step_size": Control("int", "StepLR step_size", 10, 1, 30),
     "gamma": Control("float", "StepLR gamma", 0.3, 0.05, 1.0, 0.05),
     "T_max": Control("int", "余弦 T_max", 30, 1, 60),
     "max_lr": Control("log", "OneCycle max_lr", 0.1, -3, 0, 0.25),
     "pct_start": Control("float", "OneCycle pct_start", 0.3, 0.05, 0.95, 0.05)}))


class SchedulerExplorer(Explorer):
    """学习率调度器的形状（左）及其对一次小批量 SGD 训练的影响（右，与常数学习率对比）。"""

    definition = SCHEDULER_DEF

    def __init__(self, kind: str = "step", epochs: int = 30, batch_size: int = 20) -> None:
        super().__init__((8.6, 3.5))
        self.epochs, self.batch_size = epochs, batch_size
        T_max = replace(self.definition.controls["T_max"], default=epochs, hi=2 * epochs)
        self.controls.update(make_controls(self.definition, kind=kind, T_max=T_max))
        self.ax_lr, self.ax_loss = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.84, wspace=0.25)
        self.n_updates = epochs * math.ceil(200 / batch_size)
        base_label = "常数 $\\eta_0$（对照）"
        self.lines = {
            "lr": self._dyn(self.ax_lr.plot([], [], color="#d62728", lw=1.4)[0]),
            "lr_base": self._dyn(self.ax_lr.plot([], [], color="0.5", lw=1.0, ls="--",
                                                 label=base_label)[0]),
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
        return [W.HBox([c["kind"], c["lr"]]), W.HBox([c["step_size"], c["gamma"]]),
                W.HBox([c["T_max"], c["max_lr"], c["pct_start"]])]

    def settings(self) -> dict[str, Any]:
        c = self.controls
        kind = c["kind"].value
        s: dict[str, Any] = {"kind": kind, "lr": float(c["lr"].value)}
        for name in SCHEDULER_CONTROLS.get(kind, ()):
            s[name] = int(c[name].value) if isinstance(c[name], W.IntSlider) else float(c[name].value)
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
        self.messages = []
        self._legends(kind)
        hist = self.history(**s)
        runs = [("", hist, _SHORT_NAMES[kind])]
        if kind != "constant":  # 常数学习率时调度曲线就是对照曲线，只画一条
            runs.append(("_base", self.history(kind="constant", lr=s["lr"]), "常数 η₀"))
        for suffix, h, name in runs:
            if isinstance(h, Exception):
                self.lines["lr" + suffix].set_data([], [])
                self.lines["loss" + suffix].set_data([], [])
                self.messages.append(f"{name}：{error_message(h)}")
                continue
            lr = np.maximum(np.asarray(h.lr, dtype=float), 1e-12)
            self.lines["lr" + suffix].set_data(np.arange(len(lr)), lr)
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
        if not isinstance(hist, Exception):
            self._notes(s, hist)
        self.history_ = hist
        self._show_messages()
        label = dict((v, k) for k, v in SCHEDULERS)[kind]
        detail = {"constant": f"η₀ = {fmt(s['lr'])}",
                  "step": f"η₀ = {fmt(s['lr'])}，step_size = {s.get('step_size')}，gamma = {fmt(s.get('gamma', 0))}",
                  "cosine": f"η₀ = {fmt(s['lr'])}，T_max = {s.get('T_max')}",
                  "onecycle": f"max_lr = {fmt(s.get('max_lr', 0))}，pct_start = {fmt(s.get('pct_start', 0))}"}[kind]
        self.title.set_text(f"{label}：{detail}（SGD，批量 {self.batch_size}，{self.epochs} 轮）")

    def _notes(self, s: dict[str, Any], hist: History) -> None:
        """峰值学习率超过稳定上限、余弦的 T_max 与轮数不同：在消息中说明后果。"""
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
