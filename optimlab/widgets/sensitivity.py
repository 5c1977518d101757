"""优化器选择探索器：lr × β₁（或 μ、α）网格上的最终损失（敏感度图）与所选设置的轨迹。

网格由 :func:`optimlab.sweep.sensitivity_grid` 一次批量算出；本模块只缓存和画图。
"""

from __future__ import annotations

import functools
from dataclasses import replace

import ipywidgets as W
import matplotlib
import numpy as np
from matplotlib.colors import LogNorm

from .. import problems
from ..optim import SGD, Adam, NAdam, RMSprop
from ..sweep import SweepResult, sensitivity_grid
from .base import Explorer, RunCache, divergence_message, error_message, fmt
from .controls import SURFACE, Control, Definition, define, grid_values, make_controls
from .paths import draw_surface_contour

__all__ = ["SensitivityExplorer", "SENSITIVITY", "SENSITIVITY_DEF", "cached_sensitivity_grid"]

#: 敏感度图中每个优化器的第二个超参数：(坐标轴标签, 图中文字, 优化器类, 构造优化器的超参数)。
#: 第二个超参数在批量扫描中的名字见 :data:`optimlab.sweep.SENSITIVITY_PARAMS`。
SENSITIVITY = {
    "SGD": ("动量 μ", "动量 μ", SGD, lambda lr, b: {"lr": lr, "momentum": b}),
    "Adam": ("$\\beta_1$", "β₁", Adam, lambda lr, b: {"lr": lr, "betas": (b, 0.999)}),
    "RMSprop": ("平滑系数 α", "平滑系数 α", RMSprop, lambda lr, b: {"lr": lr, "alpha": b}),
    "NAdam": ("$\\beta_1$", "β₁", NAdam, lambda lr, b: {"lr": lr, "betas": (b, 0.999)}),
}

SENSITIVITY_DEF = define(Definition(
    "sensitivity", "优化器选择：lr × β₁（或 μ、α）的敏感度图，与所选设置的轨迹", "surface",
    {"surface": SURFACE,
     "optimizer": Control("dropdown", "优化器", "Adam", options=tuple((k, k) for k in SENSITIVITY), width="200px"),
     "lr": Control("log_grid", "学习率 η", 1e-2, -4, 0, n=50),
     "second": Control("grid", "β₁ / μ / α", 0.9, 0.0, 0.99, n=50)}))


@functools.lru_cache(maxsize=64)
def cached_sensitivity_grid(surface_name: str, optimizer: str, lr: tuple[float, ...], second: tuple[float, ...],
                            steps: int = 300) -> SweepResult:
    """:func:`optimlab.sweep.sensitivity_grid` 的缓存版本（同一进程中每个曲面 × 优化器 × 网格只算一次）。"""
    return sensitivity_grid(problems.surface(surface_name), optimizer, np.array(lr), np.array(second), steps)


class SensitivityExplorer(Explorer):
    """左：lr × β（或 μ、α）网格上的最终损失 :math:`f - f^*`\\ （对数色标，发散为灰色）；
    右：十字准星所选设置的轨迹。切换曲面或优化器只替换图像数据，网格按需计算一次后缓存。"""

    definition = SENSITIVITY_DEF

    def __init__(self, surface: str = "rosenbrock", optimizer: str = "Adam", resolution: int = 50,
                 steps: int = 300, lr_range: tuple[float, float] = (-4, 0), precompute: bool = True) -> None:
        super().__init__((8.6, 3.6))
        self.steps = steps
        d = self.definition.controls
        lr_ctrl = replace(d["lr"], lo=lr_range[0], hi=lr_range[1], n=resolution)
        second_ctrl = replace(d["second"], n=resolution)
        self.lrs, self.seconds = grid_values(lr_ctrl), grid_values(second_ctrl)
        self.cache = RunCache()
        self.controls.update(make_controls(self.definition, surface=surface, optimizer=optimizer, lr=lr_ctrl,
                                           second=second_ctrl))
        self.ax_map, self.ax_path = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
        self.fig.subplots_adjust(left=0.08, right=0.97, bottom=0.14, top=0.84, wspace=0.3)
        self.norm = LogNorm(1e-8, 1e2)
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.6", over="0.6")
        extent = (np.log10(self.lrs[0]), np.log10(self.lrs[-1]), self.seconds[0], self.seconds[-1])
        self.image_artist = self._dyn(self.ax_map.imshow(np.full((resolution, resolution), np.nan), origin="lower",
                                                         aspect="auto", extent=extent, cmap=cmap, norm=self.norm,
                                                         interpolation="nearest"))
        self.fig.colorbar(self.image_artist, ax=self.ax_map, label="最终 $f - f^*$（灰色：发散）", pad=0.02)
        self.cross = self._dyn(self.ax_map.plot([], [], "+", color="white", markersize=12, mew=2)[0])
        self.ax_map.set_xlabel("$\\log_{10}\\eta$")
        (self.path_line,) = self.ax_path.plot([], [], "-o", markersize=1.5, lw=1.1, color="#d62728")
        self._dyn(self.path_line)
        self.title = self._dyn(self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=10))
        self.status = self._dyn(self.ax_path.text(0.02, 0.03, "", transform=self.ax_path.transAxes, fontsize=9,
                                                  va="bottom", color="black"))
        self._cs = self._star = None
        self._shown: tuple | None = None
        if precompute:  # 先把所有曲面 × 优化器的网格算好，之后切换只替换图像数据
            for _, sname in SURFACE.options:
                for oname in SENSITIVITY:
                    self.grid(sname, oname)
        self._finish()

    def _layout(self):
        c = self.controls
        return [W.HBox([c["surface"], c["optimizer"]]), W.HBox([c["lr"], c["second"]])]

    def grid(self, surface_name: str, optimizer: str) -> SweepResult:
        return cached_sensitivity_grid(surface_name, optimizer, tuple(self.lrs), tuple(self.seconds), self.steps)

    def _compute(self) -> None:
        c = self.controls
        sname, oname = c["surface"].value, c["optimizer"].value
        surf = problems.surface(sname)
        g = self.grid(sname, oname)
        if self._shown != (sname, oname):
            if self._shown is None or self._shown[0] != sname:
                if self._cs is not None:
                    self._cs.remove()
                    self._star.remove()
                self._cs = draw_surface_contour(self.ax_path, surf)
                (self._star,) = self.ax_path.plot(*surf.minimizer, "*", color="crimson", markersize=11)
                self.ax_path.set_xlim(surf.xlim)
                self.ax_path.set_ylim(surf.ylim)
                self.ax_path.set_title(surf.name, fontsize=10)
            self.ax_map.set_ylabel(SENSITIVITY[oname][0])
            self.ax_map.set_title(f"{oname}：{self.steps} 步后的 $f - f^*$", fontsize=10)
            self._shown = (sname, oname)
            self._static_changed()
        with np.errstate(invalid="ignore"):
            gap = np.where(np.isfinite(g.final_loss), np.maximum(g.final_loss - surf.f_min, 1e-8), np.inf)
        self.image_artist.set_data(gap.T)  # 行：第二个超参数，列：lr
        i, j = int(c["lr"].value), int(c["second"].value)
        lr, b = float(self.lrs[i]), float(self.seconds[j])
        self.cross.set_data([np.log10(lr)], [b])
        _, text, cls, make = SENSITIVITY[oname]
        moved, near = self._neighbours()
        if moved in ("lr", "second") and self.cache.key((sname,), cls, make(lr, b), self.steps) not in self.cache:
            pairs = [(self.lrs[k], b) for k in near] if moved == "lr" else [(lr, self.seconds[k]) for k in near]
            self.cache.prefetch((sname,), surf, cls, [make(float(x), float(y)) for x, y in pairs], self.steps)
        (traj,) = self.cache.runs((sname,), surf, [(cls, make(lr, b))], self.steps)
        self.trajectory = traj
        self.messages = []
        if isinstance(traj, Exception):
            self.path_line.set_data([], [])
            self.messages.append(error_message(traj))
        else:
            ok = np.isfinite(traj.path).all(axis=1)
            self.path_line.set_data(traj.path[ok, 0], traj.path[ok, 1])
            if traj.diverged_at is not None:
                self.messages.append(divergence_message(traj.diverged_at))
            else:
                self.messages.append(f"f − f* = {fmt(traj.loss[-1] - surf.f_min)}")
        self._show_messages()
        self.title.set_text(f"{oname}（{surf.name}）：η = {fmt(lr)}，{text} = {b:.3f}")
