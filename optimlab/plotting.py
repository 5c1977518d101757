"""书中的绘图工具：中文字体、等高线与轨迹、损失曲线。

每个函数都接受 ``ax=None`` 并返回所用的 ``Axes``；不调用 ``plt.show()``，
除 :func:`setup_cjk_font` 外不修改全局 rcParams。
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm

from .problems import Surface
from .trajectory import Trajectory, grid

__all__ = ["setup_cjk_font", "contour_levels", "draw_contour", "plot_contour", "plot_path", "plot_losses", "CJK_FONT", "TINY", "GAP_LABEL"]

#: 书中使用的中文字体（Debian 软件包 fonts-noto-cjk 提供）。
CJK_FONT = "Noto Sans CJK SC"
_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
)
_configured = False


def setup_cjk_font() -> str:
    """注册 Noto Sans CJK SC 并设为 matplotlib 的默认无衬线字体（只做一次），返回字体名。

    西文字符与数学符号回退到 DejaVu Sans。找不到字体时抛出 ``RuntimeError``，
    而不是让中文悄悄变成方框。
    """
    global _configured
    if _configured:
        return CJK_FONT
    if not any(f.name == CJK_FONT for f in font_manager.fontManager.ttflist):
        found = [p for p in _FONT_FILES if Path(p).exists()]
        if not found:
            raise RuntimeError(
                f"找不到中文字体 {CJK_FONT}：请安装 Debian 软件包 fonts-noto-cjk（`make book` 会自动安装）"
            )
        for path in found:
            font_manager.fontManager.addfont(path)
    # 显式列出两个字体族（而不是 "sans-serif"），matplotlib 才会逐字形回退：
    # Noto Sans CJK 没有的字形（如下标 ₁、₀）由 DejaVu Sans 补上。
    matplotlib.rcParams["font.family"] = [CJK_FONT, "DejaVu Sans"]
    matplotlib.rcParams["font.sans-serif"] = [CJK_FONT, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    _configured = True
    return CJK_FONT


def _ax(ax: Axes | None) -> Axes:
    return plt.gca() if ax is None else ax


#: 等高线把 :math:`f - f^* + 10^{-3}` 画在对数刻度上：加上的常数让最小点附近也有有限的对数。
CONTOUR_OFFSET = 1e-3


def contour_levels(shifted: np.ndarray, levels: int) -> np.ndarray:
    """``shifted``\\ （:math:`f - f^* + 10^{-3}`，全为正）的最小值到最大值之间按对数等分的 ``levels`` 条等高线。"""
    return np.logspace(np.log10(shifted.min()), np.log10(shifted.max()), levels)


def draw_contour(ax: Axes, surface: Surface, levels: int = 30, resolution: int = 200, linewidth: float = 0.7):
    """全书等高线的唯一画法：对数刻度的 viridis 等高线，返回 ``ContourSet``\\ （可 ``remove()``）。

    :func:`plot_contour` 与探索器（``optimlab.widgets``）都用它；探索器取较低的分辨率以便快速切换曲面。
    """
    X, Y, Z = grid(surface, resolution)
    shifted = Z - surface.f_min + CONTOUR_OFFSET
    return ax.contour(X, Y, shifted, levels=contour_levels(shifted, levels), norm=LogNorm(), cmap="viridis",
                      linewidths=linewidth, alpha=0.8)


def plot_contour(surface: Surface, ax: Axes | None = None, levels: int = 30, resolution: int = 200) -> Axes:
    """画曲面的等高线（按 :math:`f - f_{\\min}` 取对数刻度）并标出最小点。"""
    ax = _ax(ax)
    draw_contour(ax, surface, levels, resolution)
    ax.plot(*surface.minimizer, marker="*", color="crimson", markersize=12, linestyle="none", label="最小点")
    ax.set_xlim(surface.xlim)
    ax.set_ylim(surface.ylim)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(surface.name)
    return ax


def plot_path(traj: Trajectory, ax: Axes | None = None, color: str | None = None, **kwargs) -> Axes:
    """在等高线图上画一条轨迹；发散时在最后一个有限点处标注"发散（第 k 步）"。"""
    ax = _ax(ax)
    path = traj.path[np.isfinite(traj.path).all(axis=1)]
    label = traj.label
    if traj.diverged_at is not None:
        label = f"{label}：发散（第 {traj.diverged_at} 步）" if label else f"发散（第 {traj.diverged_at} 步）"
    (line,) = ax.plot(path[:, 0], path[:, 1], marker="o", markersize=2, linewidth=1.2, color=color,
                      label=label, **kwargs)
    ax.plot(*path[0], marker="o", color=line.get_color(), markersize=6)
    x_lo, x_hi = sorted(ax.get_xlim())
    y_lo, y_hi = sorted(ax.get_ylim())
    if traj.diverged_at is not None and x_lo <= path[-1, 0] <= x_hi and y_lo <= path[-1, 1] <= y_hi:
        ax.annotate(f"发散（第 {traj.diverged_at} 步）", path[-1], color=line.get_color(),
                    xytext=(5, 5), textcoords="offset points", fontsize=9)
    return ax


#: 对数纵轴上 0 的替身：float64 最小的正规数（约 2.2e-308），见 :func:`plot_losses`。
TINY = float(np.finfo(np.float64).tiny)

#: :func:`plot_losses` 的默认纵轴标签：与最优值之差。
GAP_LABEL = "$f(\\theta_t) - f^*$"


def plot_losses(trajs: Mapping[str, Trajectory] | Iterable[Trajectory], ax: Axes | None = None,
                f_min: float = 0.0, log: bool = True, ylabel: str = GAP_LABEL) -> Axes:
    """画若干条曲线 :math:`f(\\theta_t) - f^*`\\ （默认对数纵轴），``f_min`` 即 :math:`f^*`。

    不在 :math:`10^{-16}` 之类的地方截断：正文打印出 ``7.71e-53`` 的地方，曲线也降到
    :math:`10^{-53}`。对数纵轴画不出 0：恰好为 0、因舍入略小于 0 或小于 float64 最小正规数
    （``TINY`` ≈ 2.2e-308）的点画在 ``TINY`` 处，曲线在那里垂直落到底；发散之后的 NaN 不画。
    需要固定纵轴范围时，调用后再 ``ax.set_ylim``。

    Args:
        ylabel: 纵轴标签。默认是与最优值之差 :math:`f(\\theta_t) - f^*`；
            画训练损失本身时传 ``"损失"``，同一个量在全书用同一个标签。
    """
    ax = _ax(ax)
    items = trajs.items() if isinstance(trajs, Mapping) else ((t.label, t) for t in trajs)
    for label, traj in items:
        gap = np.asarray(traj.loss, dtype=float) - f_min
        if log:
            gap = np.maximum(gap, TINY)  # NaN（发散之后）保持 NaN
        if traj.diverged_at is not None:
            label = f"{label}（第 {traj.diverged_at} 步发散）"
        ax.plot(np.arange(len(gap)), gap, label=label, linewidth=1.3)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("步数 $t$")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=9)
    return ax
