"""真实数据上的训练：达到目标的轮数、同一设置的两次训练（混沌检查）、时间、准确率。"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..training import History, fit
from .evaluations import evals_to_losses, lbfgs_iterates

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

    发散的训练从发散的那一轮起记为 ``inf``\\ （而不是 ``nan``），所以多数训练发散时中位数是 ``inf``。
    大学习率下单次训练是混沌的：最后一位的舍入差别（CPU 的 SIMD 指令集、MKL 的代码路径、线程数）
    会长成完全不同的损失；几个种子的中位数比单次训练稳定得多。
    """
    length = max(len(h.epoch_loss) for h in histories)
    table = np.full((len(histories), length), np.inf)
    for row, h in zip(table, histories):
        losses = np.asarray(h.epoch_loss, dtype=float)
        row[: len(losses)] = np.where(np.isfinite(losses), losses, np.inf)
    return np.median(table, axis=0)


@dataclass
class Twins:
    """:func:`train_twins` 的结果：同一设置的两次训练。

    Attributes:
        first, second: 两次训练的记录；第二次的初始权重带有 ``jitter`` 的相对扰动。
        seconds: 第一次训练的墙钟秒数。
        models: 训练后的两个模型（可以再算准确率）。
    """

    first: History
    second: History
    seconds: float
    models: tuple[nn.Module, nn.Module]

    @property
    def chaotic(self) -> bool:
        """两次训练是否分道扬镳，见 :func:`is_chaotic`。"""
        return is_chaotic(self.first, self.second)

    def agree(self, tol: float = 2e-2, floor: float = 0.0, target: float | None = None) -> bool:
        """两次训练的结论是否一致：不混沌（:func:`is_chaotic` 的 ``tol``、``floor``），并且给了 ``target``
        时，损失降到 ``target`` 的轮数（:func:`epochs_to`）也相同。"""
        if is_chaotic(self.first, self.second, tol, floor):
            return False
        return target is None or epochs_to(self.first, target) == epochs_to(self.second, target)


def train_twins(make_model: Callable[[], nn.Module], X: Tensor, y: Tensor,
                optimizer: Callable[..., torch.optim.Optimizer], *, jitter: float = 1e-6,
                trainer: Callable[..., History] = fit, twin_below: float | None = None,
                **kwargs) -> Twins:
    """同一设置训练两次，第二次的初始权重乘上 ``1 + jitter·z``\\ （``z`` 取自固定种子的标准正态）。

    两次的差别只有约 ``jitter`` 的相对扰动，比不同 CPU、线程数带来的舍入差别（float32 约 1e-7）
    大一个数量级：训练若把这样的差别放大成不同的结果（:func:`is_chaotic`），它在别的机器上重跑时
    也会变。``trainer`` 默认是 :func:`optimlab.training.fit`，也可以是 :func:`fit_lbfgs`；``kwargs``
    原样传给它。

    ``twin_below`` 不为 ``None`` 时，第一次训练的最终损失不低于它（或者发散）就不训练第二次，
    第二次记为与第一次相同（于是不算混沌）：远没有训练好的设置既不会是最好的，也不会合格，
    是否混沌不影响结论，省下一半时间。
    """
    first_model = make_model()
    first, seconds = fit_timed(first_model, X, y, optimizer, trainer=trainer, **kwargs)
    if twin_below is not None and not first.final_loss < twin_below:
        return Twins(first, first, seconds, (first_model, first_model))
    twin = make_model()
    gen = torch.Generator().manual_seed(12345)
    with torch.no_grad():
        for p in twin.parameters():
            p.mul_(1 + jitter * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    second = trainer(twin, X, y, optimizer, **kwargs)
    return Twins(first, second, seconds, (first_model, twin))


def fit_twins(make_model: Callable[[], nn.Module], X: Tensor, y: Tensor,
              optimizer: Callable[..., torch.optim.Optimizer], *, jitter: float = 1e-6,
              **kwargs) -> tuple[History, History, float]:
    """:func:`train_twins` 的简写，返回 ``(第一次, 第二次, 第一次的墙钟秒数)``。"""
    res = train_twins(make_model, X, y, optimizer, jitter=jitter, **kwargs)
    return res.first, res.second, res.seconds


def is_chaotic(first: History, second: History, tol: float = 2e-2, floor: float = 0.0) -> bool:
    """:func:`fit_twins` 的两次训练是否分道扬镳：最终损失的相对差超过 ``tol``，或只有一次发散。

    两次都发散不算混沌（结果确定：发散）。相对差的分母是 ``max(|a|, |b|, floor)``：损失已经降到
    ``floor`` 以下时（例如全批量训练降到 1e-8），只有超过 ``tol·floor`` 的绝对差才算数。
    """
    a, b = first.final_loss, second.final_loss
    if not (np.isfinite(a) and np.isfinite(b)):
        return bool(np.isfinite(a) or np.isfinite(b))
    return bool(abs(a - b) > tol * max(abs(a), abs(b), floor))


def fit_timed(model: nn.Module, X: Tensor, y: Tensor, optimizer: Callable[..., torch.optim.Optimizer],
              *, trainer: Callable[..., History] = fit, **kwargs) -> tuple[History, float]:
    """调用 ``trainer``\\ （默认 :func:`optimlab.training.fit`），同时返回所用的墙钟时间（秒）。

    时间包括每轮结束时在全部训练数据上计算损失的开销，只适合在同一台机器上相互比较。
    """
    start = time.perf_counter()
    history = trainer(model, X, y, optimizer, **kwargs)
    return history, time.perf_counter() - start


def fit_lbfgs(model: nn.Module, X: Tensor, y: Tensor, optimizer: Callable[..., torch.optim.Optimizer],
              *, loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None, evals: int = 100,
              **hparams) -> History:
    """用全批量的闭包训练 LBFGS 类的优化器，按 **求值次数** 记录损失。

    每次求值是在全部训练数据上的一次前向与反向传播，数据量与小批量训练的一轮相同，所以
    ``epoch_loss[e]``\\ （用了 e 次求值之后、当前迭代点在全部数据上的损失）可以与
    :func:`optimlab.training.fit` 的第 e 轮比较；``step_loss`` 是每次迭代之后的损失。计数规则见
    :func:`lbfgs_surface`：``optimizer`` 以 ``max_iter=1`` 构造，``max_eval`` 默认 25。
    损失变成非有限值时记为发散（``diverged_at`` 是迭代序号）。
    """
    loss_fn = nn.MSELoss() if loss_fn is None else loss_fn
    hparams = {"max_eval": 25, **hparams}
    opt = optimizer(model.parameters(), max_iter=1, **hparams)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        return loss

    def full_loss() -> float:
        with torch.no_grad():
            return float(loss_fn(model(X), y))

    hist = History()
    first = full_loss()
    iterates: list[tuple[int, float]] = []
    for spent in lbfgs_iterates(opt, closure, evals):
        value = full_loss()
        hist.step_loss.append(value)
        if not np.isfinite(value):
            hist.diverged_at = len(hist.step_loss)
            iterates.append((spent, float("nan")))
            break
        iterates.append((spent, value))
    hist.epoch_loss = evals_to_losses(first, iterates, evals).tolist()
    return hist


def accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    """分类准确率：``argmax`` 预测与标签相同的样本所占的比例。"""
    with torch.no_grad():
        correct = int((model(X).argmax(-1) == y).sum())
    return correct / len(y)
