"""比较优化器时用到的测量工具：状态内存、达到目标损失的步数与时间、学习率敏感度。

这些函数只做测量、返回数字或数组，不画图。书中《优化器选择》一章用它们重新推导原笔记里的对比表。
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .problems import Surface
from .trajectory import DIVERGENCE_LIMIT
from .training import History, fit, mlp

__all__ = [
    "StateMemory",
    "state_nbytes",
    "measure_state",
    "sweep_surface",
    "steps_to",
    "best_by_steps",
    "width_decades",
    "sensitivity_width",
    "epochs_to",
    "median_losses",
    "fit_twins",
    "is_chaotic",
    "fit_timed",
    "markdown_table",
]


# ---------------------------------------------------------------------------
# 状态内存
# ---------------------------------------------------------------------------


@dataclass
class StateMemory:
    """优化器状态占用的内存。

    Attributes:
        per_param: 与参数逐元素对应的状态张量（``exp_avg``、``momentum_buffer`` ……）的总字节数
            除以参数个数，即"每个参数要额外存几个字节"。
        by_key: 同上，按状态键分开。
        scalar_bytes: 标量状态（``step``、``mu_product`` 等 0 维张量）的总字节数，与参数个数无关。
        n_params: 参数（标量）个数。
    """

    per_param: float
    by_key: dict[str, float]
    scalar_bytes: int
    n_params: int


def state_nbytes(optimizer: torch.optim.Optimizer) -> StateMemory:
    """从 ``optimizer.state`` 统计状态张量的字节数（``numel × element_size``）。

    与参数形状相同的状态张量计入 ``per_param``；0 维（或元素个数与参数不同的）张量计入
    ``scalar_bytes``。参数个数按所有参数组里的参数计算。注意：SGD 的动量缓冲、以及所有
    优化器的状态都是在 **第一次** ``step()`` 时才创建的，统计前至少要走一步。
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    n_params = sum(p.numel() for p in params)
    by_key: dict[str, int] = {}
    scalar = 0
    for p in params:
        for key, val in optimizer.state.get(p, {}).items():
            if not isinstance(val, Tensor):
                continue
            nbytes = val.numel() * val.element_size()
            if val.numel() == p.numel() and val.dim() > 0:
                by_key[key] = by_key.get(key, 0) + nbytes
            else:
                scalar += nbytes
    per_key = {k: v / n_params for k, v in by_key.items()}
    return StateMemory(sum(by_key.values()) / n_params, per_key, scalar, n_params)


def measure_state(
    optimizer: Callable[..., torch.optim.Optimizer],
    model: nn.Module | None = None,
    dtype: torch.dtype = torch.float32,
    **hparams,
) -> StateMemory:
    """建一个模型（默认 ``mlp(64, 32, 10)``），用随机数据走一步 ``optimizer``，再统计状态内存。

    ``dtype`` 是模型参数的类型：状态张量与参数同类型，所以 float64 时字节数翻倍。
    """
    model = mlp(64, 32, 10) if model is None else model
    model = model.to(dtype)
    gen = torch.Generator().manual_seed(0)
    first = next(model.parameters())
    x = torch.randn(8, first.shape[-1], generator=gen, dtype=dtype)
    opt = optimizer(model.parameters(), **hparams)
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()
    return state_nbytes(opt)


# ---------------------------------------------------------------------------
# 二维曲面上的学习率扫描
# ---------------------------------------------------------------------------


def sweep_surface(
    surface: Surface,
    optimizer: Callable[..., torch.optim.Optimizer],
    lrs: Sequence[float],
    steps: int = 500,
    x0: tuple[float, float] | None = None,
    stop_at: float | None = None,
    hold: int = 1,
    **hparams,
) -> np.ndarray:
    """对每个学习率从同一起点各跑一条轨迹，返回损失数组，形状 ``(len(lrs), steps + 1)``。

    所有学习率放在同一个优化器的不同参数组里一起更新（每组一个二维点），函数值与梯度
    一次算出，比逐个调用 :func:`optimlab.trajectory.run` 快得多；每一行与 ``run`` 的
    ``loss`` 逐位相同（发散判据也相同），发散之后的项为 NaN。

    ``stop_at`` 不为 ``None`` 时，一条轨迹的损失连续 ``hold`` 步 ``<= stop_at`` 之后就不再更新，
    其后的项为 NaN（只关心"几步达到目标"时可以省下大量计算，见 :func:`steps_to`）。
    """
    start = torch.tensor(surface.x0 if x0 is None else x0, dtype=torch.float64)
    points = [start.clone().requires_grad_(True) for _ in lrs]
    opt = optimizer([{"params": [p], "lr": float(lr)} for p, lr in zip(points, lrs)], **hparams)
    loss = np.full((len(lrs), steps + 1), np.nan)
    loss[:, 0] = float(surface(start))
    alive = np.ones(len(lrs), dtype=bool)
    run = np.zeros(len(lrs), dtype=int)  # 连续满足 loss <= stop_at 的步数
    for k in range(1, steps + 1):
        idx = np.nonzero(alive)[0]
        if idx.size == 0:
            break
        opt.zero_grad()
        surface(torch.stack([points[i] for i in idx])).sum().backward()
        opt.step()
        with torch.no_grad():
            P = torch.stack([points[i] for i in idx])
            values = surface(P)
            ok = torch.isfinite(values) & torch.isfinite(P).all(-1) & (P.abs().amax(-1) < DIVERGENCE_LIMIT)
        ok_np, values_np = ok.numpy(), values.numpy()
        loss[idx[ok_np], k] = values_np[ok_np]
        alive[idx[~ok_np]] = False
        if stop_at is not None:
            below = ok_np & (values_np <= stop_at)
            run[idx] = np.where(below, run[idx] + 1, 0)
            alive[idx[run[idx] >= hold]] = False
    return loss


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


# ---------------------------------------------------------------------------
# 学习率敏感度
# ---------------------------------------------------------------------------


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


def sensitivity_width(lrs: Sequence[float], final_losses: Sequence[float], factor: float = 2.0) -> float:
    """学习率敏感度：最终损失不超过最好结果 ``factor`` 倍的学习率区间宽度（以数量级计）。

    区间取包含最好学习率的那一段连续的扫描点；发散（非有限）的损失视为不合格。
    宽度越大，说明学习率越不需要精调。
    """
    final = np.asarray(final_losses, dtype=float)
    final = np.where(np.isfinite(final), final, np.inf)
    best = int(np.argmin(final))
    return width_decades(lrs, final <= factor * final[best], best)


# ---------------------------------------------------------------------------
# 真实数据上的轮数与时间
# ---------------------------------------------------------------------------


def epochs_to(history: History | Sequence[float], target: float) -> int | None:
    """全数据损失第一次不超过 ``target`` 的轮数（``epoch_loss`` 的下标，0 表示初始值）。

    ``history`` 也可以直接是每轮损失的序列（例如 :func:`median_losses` 的结果）。
    """
    losses = history.epoch_loss if isinstance(history, History) else history
    for epoch, value in enumerate(losses):
        if value <= target:
            return epoch
    return None


def median_losses(histories: Sequence[History]) -> np.ndarray:
    """几次训练（例如不同的种子）每轮全数据损失的逐轮中位数，形状 ``(epochs + 1,)``。

    发散的训练从发散的那一轮起记为 ``inf``\ （而不是 ``nan``），所以多数训练发散时中位数是 ``inf``。
    大学习率下单次训练是混沌的：最后一位的舍入差别（CPU 的 SIMD 指令集、MKL 的代码路径、线程数）
    会长成完全不同的损失；几个种子的中位数比单次训练稳定得多。
    """
    length = max(len(h.epoch_loss) for h in histories)
    table = np.full((len(histories), length), np.inf)
    for row, h in zip(table, histories):
        losses = np.asarray(h.epoch_loss, dtype=float)
        row[: len(losses)] = np.where(np.isfinite(losses), losses, np.inf)
    return np.median(table, axis=0)


def fit_twins(make_model: Callable[[], nn.Module], X: Tensor, y: Tensor,
              optimizer: Callable[..., torch.optim.Optimizer], *, jitter: float = 1e-6,
              **kwargs) -> tuple[History, History, float]:
    """同一设置训练两次，第二次的初始权重乘上 ``1 + jitter·z``\ （``z`` 取自固定种子的标准正态）。

    返回 ``(第一次, 第二次, 第一次的墙钟秒数)``。两次的差别只有约 ``jitter`` 的相对扰动，
    比不同 CPU、线程数带来的舍入差别（float32 约 1e-7）大一个数量级：训练若把这样的差别放大成
    不同的结果（:func:`is_chaotic`），它在别的机器上重跑时也会变。
    """
    first, seconds = fit_timed(make_model(), X, y, optimizer, **kwargs)
    twin = make_model()
    gen = torch.Generator().manual_seed(12345)
    with torch.no_grad():
        for p in twin.parameters():
            p.mul_(1 + jitter * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    second = fit(twin, X, y, optimizer, **kwargs)
    return first, second, seconds


def is_chaotic(first: History, second: History, tol: float = 2e-2) -> bool:
    """:func:`fit_twins` 的两次训练是否分道扬镳：最终损失的相对差超过 ``tol``，或只有一次发散。

    两次都发散不算混沌（结果确定：发散）。
    """
    a, b = first.final_loss, second.final_loss
    if not (np.isfinite(a) and np.isfinite(b)):
        return bool(np.isfinite(a) or np.isfinite(b))
    return bool(abs(a - b) > tol * max(abs(a), abs(b)))


def fit_timed(model: nn.Module, X: Tensor, y: Tensor, optimizer: Callable[..., torch.optim.Optimizer],
              **kwargs) -> tuple[History, float]:
    """调用 :func:`optimlab.training.fit`，同时返回所用的墙钟时间（秒）。

    时间包括每轮结束时在全部训练数据上计算损失的开销，只适合在同一台机器上相互比较。
    """
    start = time.perf_counter()
    history = fit(model, X, y, optimizer, **kwargs)
    return history, time.perf_counter() - start


# ---------------------------------------------------------------------------
# 输出
# ---------------------------------------------------------------------------


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """把表头和若干行拼成 Markdown 表格（书中用 ``IPython.display.Markdown`` 显示测量结果）。"""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)
