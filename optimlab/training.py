"""在小型真实数据上训练：全批量（BGD）、随机（SGD）与小批量梯度下降共用一个循环。"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["History", "fit", "linear_model", "mlp"]


@dataclass
class History:
    """训练记录。

    Attributes:
        step_loss: 每次参数更新所用小批量上的损失（长度 = 更新次数）。
        epoch_loss: 每轮结束后在 **全部训练数据** 上的损失（长度 = epochs + 1，第 0 项为初始值）。
        lr: 每次更新时第一个参数组的学习率。
        diverged_at: 损失第一次变成非有限值的更新序号（从 1 开始），没有发散时为 ``None``。
    """

    step_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    @property
    def final_loss(self) -> float:
        return float("inf") if self.diverged_at is not None else self.epoch_loss[-1]


def linear_model(in_features: int, out_features: int = 1, seed: int = 0) -> nn.Module:
    """``nn.Linear``，用固定种子初始化。"""
    torch.manual_seed(seed)
    return nn.Linear(in_features, out_features)


def mlp(in_features: int, hidden: int, out_features: int, seed: int = 0) -> nn.Module:
    """单隐层 ReLU 网络，用固定种子初始化。"""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_features))


def fit(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    optimizer: Callable[..., torch.optim.Optimizer],
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    batch_size: int | None = None,
    epochs: int = 10,
    seed: int = 0,
    scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
    scheduler_per: str = "epoch",
    **hparams,
) -> History:
    """用 ``optimizer(model.parameters(), **hparams)`` 训练 ``epochs`` 轮。

    Args:
        batch_size: ``None`` 表示全批量（BGD），1 表示逐样本的 SGD，其余为小批量。
            每轮开始时用 ``seed`` 派生的生成器打乱数据。
        loss_fn: 默认是均方误差 ``nn.MSELoss()``。
        scheduler: ``optimizer -> 调度器`` 的工厂；``scheduler_per`` 为 ``"epoch"`` 或 ``"step"``。
            ``ReduceLROnPlateau`` 以本轮的全数据损失调用 ``step``。
    """
    loss_fn = nn.MSELoss() if loss_fn is None else loss_fn
    opt = optimizer(model.parameters(), **hparams)
    sched = scheduler(opt) if scheduler is not None else None
    plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    n = len(X)
    bs = n if batch_size is None else batch_size
    gen = torch.Generator().manual_seed(seed)
    hist = History()

    def full_loss() -> float:
        with torch.no_grad():
            return float(loss_fn(model(X), y))

    hist.epoch_loss.append(full_loss())
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen) if bs < n else torch.arange(n)
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            hist.lr.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            hist.step_loss.append(loss.item())
            if not np.isfinite(hist.step_loss[-1]):
                hist.diverged_at = len(hist.step_loss)
                hist.epoch_loss.append(float("nan"))
                return hist
            if sched is not None and scheduler_per == "step":
                sched.step()
        hist.epoch_loss.append(full_loss())
        if sched is not None and scheduler_per == "epoch":
            sched.step(hist.epoch_loss[-1]) if plateau else sched.step()
    return hist
