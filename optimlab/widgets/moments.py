"""偏差校正探索器：β₁、β₂、噪声 σ 与步数 t，未校正的 :math:`m_t, v_t` 与校正后的 :math:`\\hat m_t, \\hat v_t`。

矩估计取自 :func:`optimlab.exercises.bias_correction.reference_moments`\\ （第 3 章的练习也用它）：
把梯度逐步交给 :class:`optimlab.Adam`，读出状态中的 ``exp_avg``、``exp_avg_sq``。
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import torch

from ..exercises.bias_correction import reference_moments
from .base import Explorer, fmt
from .controls import Control, Definition, define, make_controls

__all__ = ["BiasCorrectionExplorer", "moment_estimates", "noisy_gradients", "BIAS_CORRECTION_DEF"]

BIAS_CORRECTION_DEF = define(Definition(
    "bias_correction", "偏差校正：未校正的 m_t、v_t 与校正后的 m̂_t、v̂_t", "noisy_gradients",
    {"beta1": Control("float", "β₁", 0.9, 0.0, 0.999, 0.001),
     "beta2": Control("float", "β₂", 0.999, 0.5, 0.9999, 0.0001, ".4g"),
     "sigma": Control("float", "梯度噪声 σ", 0.5, 0.0, 2.0, 0.1),
     "t": Control("int", "步数 t", 50, 1, 300)}))


def noisy_gradients(n: int, sigma: float, mean: float = 1.0, seed: int = 0) -> np.ndarray:
    """带噪声的梯度序列 :math:`g_t = \\text{mean} + \\sigma\\,\\xi_t`，:math:`\\xi_t \\sim N(0, 1)`\\ （固定种子）。"""
    xi = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()
    return mean + sigma * xi


@functools.lru_cache(maxsize=256)
def moment_estimates(beta1: float, beta2: float, sigma: float, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    r"""梯度 :func:`noisy_gradients` ``(n, sigma)`` 与它的 :math:`m_t, v_t, \hat m_t, \hat v_t`\ （按参数缓存）。

    Returns:
        ``(g, {"m", "v", "m_hat", "v_hat"})``，每个长度为 ``n``，第 ``t-1`` 项对应第 ``t`` 步。
    """
    g = noisy_gradients(n, sigma)
    m, v, m_hat, v_hat = (x[:, 0].numpy() for x in reference_moments(torch.as_tensor(g)[:, None], beta1, beta2))
    return g, {"m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat}


class BiasCorrectionExplorer(Explorer):
    """β₁、β₂、噪声 σ 与步数 t：未校正的 :math:`m_t, v_t` 与校正后的 :math:`\\hat m_t, \\hat v_t`。"""

    definition = BIAS_CORRECTION_DEF

    def __init__(self, max_steps: int = 300, beta1: float = 0.9, beta2: float = 0.999, sigma: float = 0.5) -> None:
        super().__init__((8.6, 3.5))
        self.max_steps = max_steps
        t = replace(self.definition.controls["t"], hi=max_steps)
        self.controls.update(make_controls(self.definition, beta1=beta1, beta2=beta2, sigma=sigma,
                                           t=replace(t, default=min(t.default, max_steps))))
        self.ax_m, self.ax_v = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.78, wspace=0.22)
        t = np.arange(1, max_steps + 1)
        self.lines = {}
        for ax, key, sym, ylim in ((self.ax_m, "m", "m", (-0.5, 2.5)), (self.ax_v, "v", "v", (0.0, 6.0))):
            self.lines["g_" + key] = self._dyn(ax.plot(t, t * np.nan, ".", color="0.75", markersize=2,
                                                       label="$g_t$" if key == "m" else "$g_t^2$")[0])
            self.lines[key] = self._dyn(ax.plot(t, t * np.nan, color="#d62728", lw=1.3,
                                                label=f"未校正 ${sym}_t$")[0])
            self.lines[key + "_hat"] = self._dyn(ax.plot(t, t * np.nan, color="#1f77b4", lw=1.3,
                                                         label=f"校正后 $\\hat {sym}_t$")[0])
            self.lines["true_" + key] = self._dyn(ax.axhline(1.0, color="black", ls="--", lw=0.9,
                                                             label="真值 $E[g]$" if key == "m" else "真值 $E[g^2]$"))
            self.lines["cursor_" + key] = self._dyn(ax.axvline(10, color="0.4", lw=0.8))
            ax.set_xlim(0, max_steps)
            ax.set_ylim(*ylim)
            ax.set_xlabel("步数 $t$")
            ax.grid(alpha=0.3)
            ax.legend(loc="upper right", fontsize=8)
        self.ax_m.set_title("一阶矩 $m_t$", fontsize=10)
        self.ax_v.set_title("二阶矩 $v_t$", fontsize=10)
        self.title = self._dyn(self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=10))
        #: 读数行；出错时写出原因（基类的 ``status``）。
        self.readout = self.status = self._dyn(self.fig.text(0.5, 0.905, "", ha="center", va="top", fontsize=9,
                                                             linespacing=1.5))
        self._finish()

    def estimates(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        c = self.controls
        return moment_estimates(float(c["beta1"].value), float(c["beta2"].value), float(c["sigma"].value),
                                self.max_steps)

    def _compute(self) -> None:
        c = self.controls
        b1, b2, sigma, t = float(c["beta1"].value), float(c["beta2"].value), float(c["sigma"].value), int(c["t"].value)
        g, est = self.estimates()
        steps = np.arange(1, t + 1)
        self.lines["g_m"].set_data(steps, g[:t])
        self.lines["g_v"].set_data(steps, g[:t] ** 2)
        for key in ("m", "m_hat", "v", "v_hat"):
            self.lines[key].set_data(steps, est[key][:t])
        self.lines["true_m"].set_ydata([1.0, 1.0])
        self.lines["true_v"].set_ydata([1.0 + sigma**2] * 2)
        self.lines["cursor_m"].set_xdata([t, t])
        self.lines["cursor_v"].set_xdata([t, t])
        i = t - 1
        self.messages = []
        self.title.set_text(f"偏差校正：β₁ = {fmt(b1)}，β₂ = {fmt(b2)}，σ = {fmt(sigma)}，t = {t}")
        self.readout.set_color("black")
        self.readout.set_text(
            f"t = {t}：m = {est['m'][i]:.3f}，m̂ = {est['m_hat'][i]:.3f}，"
            f"v = {est['v'][i]:.3f}，v̂ = {est['v_hat'][i]:.3f}，"
            f"1 − β₁ᵗ = {1 - b1**t:.3g}，1 − β₂ᵗ = {1 - b2**t:.3g}")
