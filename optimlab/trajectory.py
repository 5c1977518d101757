"""在测试问题上运行优化器：返回数组，不画图。"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .problems import Surface

__all__ = ["Trajectory", "run", "run_many", "diverged", "grid", "DIVERGENCE_LIMIT"]

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


def diverged(values: Tensor | float, points: Tensor) -> Tensor:
    """发散判据，全书只有这一处：函数值不是有限数，或参数有非有限的分量，或某个分量的绝对值
    达到 :data:`DIVERGENCE_LIMIT`。

    ``values`` 的形状为 ``(...)``，``points`` 为 ``(..., d)``；返回与 ``values`` 同形状的布尔张量。
    :func:`run_many`、:func:`optimlab.measure.lbfgs_surface` 与批量内核 :func:`optimlab.sweep.sweep`
    都用它判定，所以三者在同一步判定发散。
    """
    values = torch.as_tensor(values)
    points = torch.as_tensor(points)
    ok = torch.isfinite(values) & torch.isfinite(points).all(-1) & (points.abs().amax(-1) < DIVERGENCE_LIMIT)
    return ~ok


Spec = tuple[Callable[..., torch.optim.Optimizer], dict[str, Any]]


def run_many(
    surface: Surface,
    specs: Sequence[Spec],
    steps: int = 200,
    x0: tuple[float, float] | None = None,
    labels: Sequence[str] | None = None,
    *,
    stop_at: float | None = None,
    hold: int = 1,
    errors: tuple[type[BaseException], ...] = (),
    shared: bool = False,
) -> list[Trajectory | BaseException]:
    """在同一曲面上同步运行若干个 ``(优化器, 超参数)``，从同一起点各优化 ``steps`` 步。

    每一步把所有还在运行的点叠成 ``(K, 2)`` 的张量，只做一次前向与一次反向传播，再分别调用各自的
    ``opt.step()``；函数值 :math:`f(\\theta_k)` 取自下一步的前向结果。每个点只出现在求和的一项里，
    所以它的梯度与单独运行时逐位相同，结果与 K 次单独运行逐位相同。计算用 float64。

    - 发散（:func:`diverged`）不抛异常：``Trajectory.diverged_at`` 记下是第几步，之后的项为 NaN；
    - ``stop_at`` 不为 ``None`` 时，一条轨迹的损失连续 ``hold`` 步 ``<= stop_at`` 之后不再更新，
      其后的项为 NaN（只关心“几步达到目标”时可以省下大量计算）；
    - 构造优化器或 ``step()`` 时抛出的、属于 ``errors`` 的异常放在结果的对应位置（探索器用它把
      非法超参数显示成消息），其他异常照常抛出；
    - ``shared=True`` 时所有设置须用同一个优化器类：每个设置先单独构造一次（非法的超参数照样报错），
      再放进**一个**优化器的不同参数组里，每步只调用一次 ``step()``。optimlab 的优化器逐个参数组
      独立更新，结果逐位相同（``tests/test_measure.py``）；省下的是 K 次 ``step()`` 的固定开销，
      学习率扫描（:func:`optimlab.measure.sweep_surface`）因此快一倍。
    """
    start = tuple(surface.x0 if x0 is None else x0)
    labels = list(labels) if labels is not None else [""] * len(specs)
    n = len(specs)
    results: list[Trajectory | BaseException | None] = [None] * n
    path = np.full((n, steps + 1, 2), np.nan)
    loss = np.full((n, steps + 1), np.nan)
    gone_at: list[int | None] = [None] * n
    below = np.zeros(n, dtype=int)  # 连续满足 loss <= stop_at 的步数
    points: dict[int, Tensor] = {}
    opts: dict[int, torch.optim.Optimizer] = {}
    for i, (cls, hparams) in enumerate(specs):
        points[i] = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        try:
            opts[i] = cls([points[i]], **hparams)
        except errors as err:
            results[i] = err
    if shared and opts:
        if len({cls for cls, _ in specs}) != 1:
            raise ValueError("shared=True 要求所有设置使用同一个优化器类")
        one = specs[0][0]([{"params": [points[i]], **specs[i][1]} for i in opts])
        opts = dict.fromkeys(opts, one)
    idx = np.array(list(opts), dtype=int)  # 还在运行的设置
    for k in range(steps + 1 if idx.size else 0):
        stacked = torch.stack([points[i] for i in idx])
        values = surface(stacked)
        vals, pts = values.detach().numpy(), stacked.detach().numpy()
        ok = ~diverged(values.detach(), stacked.detach()).numpy() if k > 0 else np.ones(idx.size, bool)
        for i in idx[~ok]:
            gone_at[i] = k  # 第 k 步之后发散
        path[idx[ok], k], loss[idx[ok], k] = pts[ok], vals[ok]
        if stop_at is not None and k > 0:
            below[idx] = np.where(ok & (vals <= stop_at), below[idx] + 1, 0)
            ok &= below[idx] < hold
        if k == steps or not ok.any():
            break
        if not ok.all():
            idx = idx[ok]
            stacked = torch.stack([points[i] for i in idx])
            values = surface(stacked)
        for p in points.values():  # 已经结束的点也清掉梯度：step() 跳过 grad 为 None 的参数
            p.grad = None
        values.sum().backward()
        failed: set[int] = set()
        for opt in {id(opts[i]): opts[i] for i in idx}.values():  # shared 时只有一个
            try:
                opt.step()  # 已经结束的点没有梯度（grad 为 None），step() 跳过它们
            except errors as err:  # 运行中才暴露的问题
                mine = [i for i in idx if opts[i] is opt]
                failed.update(mine)
                for i in mine:
                    results[i] = err
        if failed:
            idx = np.array([i for i in idx if i not in failed], dtype=int)
        if idx.size == 0:
            break
    for i in opts:
        if results[i] is None:
            results[i] = Trajectory(path[i], loss[i], gone_at[i], labels[i])
    return results  # type: ignore[return-value]


def run(
    surface: Surface,
    optimizer: Callable[..., torch.optim.Optimizer],
    steps: int = 200,
    x0: tuple[float, float] | None = None,
    label: str = "",
    **hparams,
) -> Trajectory:
    """从 ``x0``\\ （默认 ``surface.x0``）出发，用 ``optimizer(params, **hparams)`` 优化 ``steps`` 步。

    :func:`run_many` 的一个设置。计算用 float64。任何优化器类都可以（optimlab 或 torch.optim），
    超参数非法时照常抛出异常；发散不抛异常，而是记录在 ``Trajectory.diverged_at`` 中。
    """
    return run_many(surface, [(optimizer, hparams)], steps, x0, [label])[0]  # type: ignore[return-value]


def grid(surface: Surface, resolution: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """在 ``surface.xlim × surface.ylim`` 上取网格，返回 ``(X, Y, Z)``，用于等高线图。"""
    xs = torch.linspace(*surface.xlim, resolution, dtype=torch.float64)
    ys = torch.linspace(*surface.ylim, resolution, dtype=torch.float64)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    Z = surface(torch.stack([X, Y], dim=-1))
    return X.numpy(), Y.numpy(), Z.numpy()
