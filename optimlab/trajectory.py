"""在测试问题上运行优化器：返回数组，不画图。"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from .problems import Surface

__all__ = ["Trajectory", "run", "grid", "DIVERGENCE_LIMIT"]

#: 参数的绝对值超过它，或损失不再是有限数，就判定为发散。
DIVERGENCE_LIMIT = 1e6


@dataclass
class Trajectory:
    """一次优化的轨迹。

    Attributes:
        path: 形状 ``(steps + 1, 2)``，第 0 行是起点；发散之后的行为 NaN。
        loss: 形状 ``(steps + 1,)``，``loss[k]`` 是第 k 步之后的函数值。
        diverged_at: 第一次出现非有限值或越界的步数（从 1 开始）；没有发散时为 ``None``。
        label: 图例文字。
    """

    path: np.ndarray
    loss: np.ndarray
    diverged_at: int | None = None
    label: str = ""

    @property
    def final_loss(self) -> float:
        """最后的损失；发散时为 ``inf``。"""
        return float("inf") if self.diverged_at is not None else float(self.loss[-1])

    def steps_to(self, target: float) -> int | None:
        """损失第一次不超过 ``target`` 的步数；达不到时为 ``None``。"""
        hit = np.nonzero(self.loss <= target)[0]
        return int(hit[0]) if hit.size else None


def run(
    surface: Surface,
    optimizer: Callable[..., torch.optim.Optimizer],
    steps: int = 200,
    x0: tuple[float, float] | None = None,
    label: str = "",
    **hparams,
) -> Trajectory:
    """从 ``x0``\\ （默认 ``surface.x0``）出发，用 ``optimizer(params, **hparams)`` 优化 ``steps`` 步。

    计算用 float64。任何优化器类都可以（optimlab 或 torch.optim），超参数非法时照常抛出异常；
    发散不抛异常，而是记录在 ``Trajectory.diverged_at`` 中。
    """
    xy = torch.tensor(surface.x0 if x0 is None else x0, dtype=torch.float64, requires_grad=True)
    opt = optimizer([xy], **hparams)
    path = np.full((steps + 1, 2), np.nan)
    loss = np.full(steps + 1, np.nan)
    path[0] = xy.detach().numpy()
    loss[0] = float(surface(xy.detach()))
    diverged_at = None
    for k in range(1, steps + 1):
        opt.zero_grad()
        surface(xy).backward()
        opt.step()
        point = xy.detach()
        value = float(surface(point))
        if not (np.isfinite(value) and bool(torch.isfinite(point).all()) and float(point.abs().max()) < DIVERGENCE_LIMIT):
            diverged_at = k
            break
        path[k] = point.numpy()
        loss[k] = value
    return Trajectory(path, loss, diverged_at, label)


def grid(surface: Surface, resolution: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """在 ``surface.xlim × surface.ylim`` 上取网格，返回 ``(X, Y, Z)``，用于等高线图。"""
    xs = torch.linspace(*surface.xlim, resolution, dtype=torch.float64)
    ys = torch.linspace(*surface.ylim, resolution, dtype=torch.float64)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    Z = surface(torch.stack([X, Y], dim=-1))
    return X.numpy(), Y.numpy(), Z.numpy()
