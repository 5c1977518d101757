"""二维曲面上的学习率扫描（达到目标的步数）与学习率敏感度（可用区间的宽度）。"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ..problems import Surface
from ..trajectory import diverged, run_many
from .evaluations import evals_to_losses, lbfgs_iterates



def sweep_surface(surface: Surface, optimizer: Callable[..., torch.optim.Optimizer], lrs: Sequence[float],
                  steps: int = 500, x0: tuple[float, float] | None = None, stop_at: float | None = None,
                  hold: int = 1, **hparams) -> np.ndarray:
    """对每个学习率从同一起点各跑一条轨迹，返回损失数组，形状 ``(len(lrs), steps + 1)``。

    所有学习率由 :func:`optimlab.trajectory.run_many` 同步运行（``shared=True``：同一个优化器的不同
    参数组），函数值与梯度一次算出；每一行与
    :func:`optimlab.trajectory.run` 的 ``loss`` 逐位相同（发散判据也相同），发散之后的项为 NaN。

    ``stop_at`` 不为 ``None`` 时，一条轨迹的损失连续 ``hold`` 步 ``<= stop_at`` 之后就不再更新，
    其后的项为 NaN（只关心"几步达到目标"时可以省下大量计算，见 :func:`steps_to`）。

    ``optimizer`` 是 :data:`optimlab.sweep.OPTIMIZERS` 中的 optimlab 优化器时，改用批量内核
    :func:`optimlab.sweep.sweep`\\ （结果逐位相同，由 ``tests/test_sweep.py`` 保证，快几倍）；是
    :class:`optimlab.LBFGS` 时交给 :func:`lbfgs_surface`，第二个维度是求值次数而不是步数。
    ``lrs`` 中相同的学习率只计算一次（例如已知超过某个值之后结果都相同，先截断再传进来）。
    """
    from .. import optim
    from .. import sweep as batched

    lrs = np.asarray(lrs, dtype=np.float64)
    distinct, inverse = np.unique(lrs, return_inverse=True)
    if distinct.size < lrs.size:  # 相同的学习率只算一次
        rows = sweep_surface(surface, optimizer, distinct, steps, x0, stop_at, hold, **hparams)
        return rows[inverse.reshape(-1)]
    if optimizer is optim.LBFGS:
        return lbfgs_surface(surface, lrs, steps, x0, stop_at, hold, **hparams)
    name = getattr(optimizer, "__name__", "")
    if name in batched.OPTIMIZERS and getattr(optim, name) is optimizer:
        if "betas" in hparams:
            hparams["beta1"], hparams["beta2"] = hparams.pop("betas")
        loss = batched.sweep(surface, name, steps, x0, lr=lrs, **hparams).loss
        if stop_at is not None:  # 与下面的逐步版本相同：连续 hold 步达标之后的项为 NaN
            for row in loss:
                run = 0
                for k in range(1, steps + 1):
                    run = run + 1 if row[k] <= stop_at else 0
                    if run >= hold:
                        row[k + 1:] = np.nan
                        break
        return loss
    runs = run_many(surface, [(optimizer, {"lr": float(lr), **hparams}) for lr in lrs], steps, x0,
                    stop_at=stop_at, hold=hold, shared=True)
    return np.stack([r.loss for r in runs])


def lbfgs_surface(surface: Surface, lrs: Sequence[float], evals: int = 500, x0: tuple[float, float] | None = None,
                  stop_at: float | None = None, hold: int = 1, **hparams) -> np.ndarray:
    """LBFGS 在二维曲面上按 **求值次数** 计的损失，形状 ``(len(lrs), evals + 1)``，格式同 :func:`sweep_surface`。

    ``loss[i, e]`` 是第 i 个学习率用了 e 次函数与梯度求值之后、当前迭代点的函数值；一阶方法每一步
    恰好求一次梯度，所以这一列可以直接与 :func:`sweep_surface` 的第 e 步比较。LBFGS 不支持多个参数组，
    每个学习率单独运行（float64）；``max_eval`` 默认为 25（torch 在 ``max_iter=20`` 时的默认值），
    它只限制每次线搜索的求值次数。发散（非有限值或越界）之后为 NaN；``stop_at``、``hold`` 同
    :func:`sweep_surface`。
    """
    from ..optim import LBFGS

    hparams = {"max_eval": 25, **hparams}
    start = torch.tensor(surface.x0 if x0 is None else x0, dtype=torch.float64)
    out = np.full((len(lrs), evals + 1), np.nan)
    for row, lr in zip(out, lrs):
        xy = start.clone().requires_grad_(True)
        opt = LBFGS([xy], lr=float(lr), max_iter=1, **hparams)

        def closure(xy: Tensor = xy, opt: LBFGS = opt) -> Tensor:
            opt.zero_grad()
            value = surface(xy)
            value.backward()
            return value

        iterates: list[tuple[int, float]] = []
        gone_at, run = None, 0
        for spent in lbfgs_iterates(opt, closure, evals):
            with torch.no_grad():
                f = surface(xy)
            if diverged(f, xy.detach()):
                gone_at = spent
                break
            value = float(f)
            iterates.append((spent, value))
            run = run + 1 if stop_at is not None and value <= stop_at else 0
            if stop_at is not None and run >= hold:
                break
        row[:] = evals_to_losses(float(surface(start)), iterates, evals)
        if gone_at is not None:
            row[gone_at:] = np.nan
        elif stop_at is not None and run >= hold:
            row[iterates[-1][0] + 1:] = np.nan
    return out


def steps_to(losses: np.ndarray, target: float, hold: int = 1) -> list[int | None]:
    """每一行达到目标的步数：损失从这一步起连续 ``hold`` 步都 ``<= target``。

    ``hold = 1`` 就是"第一次 ``<= target``"。振荡的轨迹可能偶然落到目标以下一步又跳出去，
    取 ``hold > 1`` 可以排除这种"碰巧"。达不到（或先发散）时为 ``None``。
    """
    out: list[int | None] = []
    for row in np.atleast_2d(losses):
        below = np.asarray(row <= target, dtype=int)
        # window[k] = 从第 k 步起 hold 步内满足的个数
        window = np.convolve(below, np.ones(hold, dtype=int), mode="valid")
        hit = np.nonzero(window == hold)[0]
        out.append(int(hit[0]) if hit.size else None)
    return out


def best_by_steps(lrs: Sequence[float], losses: np.ndarray, target: float,
                  hold: int = 1) -> tuple[float, int | None]:
    """在扫描结果中挑出达到 ``target`` 最快的学习率，返回 ``(lr, 步数)``。

    步数相同时取较小的学习率；没有一个达到目标时返回最终损失最小的学习率和 ``None``。
    """
    steps = steps_to(losses, target, hold)
    reached = [(s, i) for i, s in enumerate(steps) if s is not None]
    if reached:
        s, i = min(reached)
        return float(lrs[i]), s
    final = np.where(np.isfinite(losses[:, -1]), losses[:, -1], np.inf)
    return float(lrs[int(np.argmin(final))]), None


def width_decades(lrs: Sequence[float], ok: Sequence[bool], center: int) -> float:
    """包含 ``center`` 的那一段连续 ``ok`` 学习率跨了几个数量级：``log10(最大 / 最小)``。

    只有一个点满足时宽度为 0；``ok[center]`` 为假时也返回 0。学习率须按升序排列。
    """
    ok = list(ok)
    if not ok[center]:
        return 0.0
    lo = hi = center
    while lo > 0 and ok[lo - 1]:
        lo -= 1
    while hi < len(ok) - 1 and ok[hi + 1]:
        hi += 1
    return float(np.log10(lrs[hi] / lrs[lo]))


def usable_width(lrs: Sequence[float], ok: Sequence[bool], center: int) -> tuple[float, bool]:
    """:func:`width_decades` 的宽度，以及这段区间是否碰到了扫描网格的一端（碰到时真实宽度只会更大）。"""
    ok = list(ok)
    width = width_decades(lrs, ok, center)
    if not ok[center]:
        return width, False
    lo = hi = center
    while lo > 0 and ok[lo - 1]:
        lo -= 1
    while hi < len(ok) - 1 and ok[hi + 1]:
        hi += 1
    return width, lo == 0 or hi == len(ok) - 1


def scan_lrs(evaluate: Callable[[float], object], lrs: Sequence[float], start: int,
             score: Callable[[object], float], ok: Callable[[object], bool]) -> dict[int, object]:
    """在升序的学习率网格 ``lrs`` 上，从下标 ``start`` 出发、只在需要时向两侧扩展地扫描。

    先算 ``start`` 与它两侧的点，然后重复：已扫描的区间 ``[lo, hi]`` 中，``score``\\ （越小越好，
    NaN 表示不参加比较）最小的点若在区间的一端、或这一端的点合格（``ok``），就向这一侧多算一个点，
    直到网格的尽头。结束时，最好的点两侧都有更差的点、合格的那段区间两侧都有不合格的点
    （除非碰到了网格的尽头）。假定 ``score`` 对学习率大致是单峰的：扫描不会越过两侧更差的点
    去找另一个低谷。返回 ``{下标: evaluate(lrs[下标])}``，按下标排序。
    """
    results: dict[int, object] = {}

    def run(i: int) -> None:
        if i not in results:
            results[i] = evaluate(float(lrs[i]))

    for i in (start - 1, start, start + 1):
        if 0 <= i < len(lrs):
            run(i)
    while True:
        lo, hi = min(results), max(results)
        scores = np.array([score(results[i]) for i in range(lo, hi + 1)], dtype=float)
        best = lo + int(np.argmin(np.where(np.isnan(scores), np.inf, scores)))
        grow_lo = lo > 0 and (best == lo or ok(results[lo]))
        grow_hi = hi < len(lrs) - 1 and (best == hi or ok(results[hi]))
        if not (grow_lo or grow_hi):
            return dict(sorted(results.items()))
        if grow_lo:
            run(lo - 1)
        if grow_hi:
            run(hi + 1)


def sensitivity_width(lrs: Sequence[float], final_losses: Sequence[float], factor: float = 2.0) -> float:
    """学习率敏感度：最终损失不超过最好结果 ``factor`` 倍的学习率区间宽度（以数量级计）。

    区间取包含最好学习率的那一段连续的扫描点；发散（非有限）的损失视为不合格。
    宽度越大，说明学习率越不需要精调。
    """
    final = np.asarray(final_losses, dtype=float)
    final = np.where(np.isfinite(final), final, np.inf)
    best = int(np.argmin(final))
    return width_decades(lrs, final <= factor * final[best], best)
