"""在小型真实数据上训练：全批量（BGD）、随机（SGD）与小批量梯度下降共用一个循环。"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from torch.optim import lr_scheduler as S

from . import problems
from .optim import SGD, Adam

__all__ = ["History", "fit", "linear_model", "mlp", "Combined", "hidden_muon", "SCHEDULER_KINDS", "ScheduleHistory", "scheduler_run",
           "regression_optimum", "regression_lr_limit"]


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


class Combined:
    """把几个优化器当作一个用：``zero_grad``、``step`` 依次调用每一个。

    ``param_groups`` 是各优化器参数组的拼接，``state`` 是它们的状态的合并视图，所以
    :func:`optimlab.training.fit` 与 :func:`optimlab.measure.state_nbytes` 可以直接使用。用途：Muon 只接受二维参数，
    其余参数交给另一个优化器（见 :func:`hidden_muon`）。
    """

    def __init__(self, *optimizers: torch.optim.Optimizer) -> None:
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict]:
        return [group for opt in self.optimizers for group in opt.param_groups]

    @property
    def state(self) -> dict:
        return {p: st for opt in self.optimizers for p, st in opt.state.items()}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for opt in self.optimizers:
            opt.step()
        return loss


def hidden_muon(params, lr: float = 1e-3, adjust_lr_fn: str | None = "match_rms_adamw",
                **adamw_hparams) -> Combined:
    """隐藏层的权重矩阵用 Muon，其余参数（偏置、输出层）用 AdamW，两者用同一个学习率 ``lr``。

    这是 torch 文档对 Muon 的建议：它只适用于隐藏层的二维参数，嵌入、分类头与偏置交给 AdamW 这样的
    标准方法。``params`` 须按模型中的顺序给出（``model.parameters()``）：最后一个二维参数被当作输出层。
    ``adjust_lr_fn="match_rms_adamw"``\\ （Liu et al., 2025）让 Muon 更新的 RMS 约为 ``0.2·lr``，与 AdamW
    相当，所以一个 ``lr`` 可以同时用于两部分。两部分的其他超参数取各自的默认值（Muon 的
    ``weight_decay=0.1``、AdamW 的 ``0.01``），``adamw_hparams`` 只传给 AdamW。
    """
    from .optim import AdamW, Muon

    params = list(params)
    matrices = [p for p in params if p.dim() == 2][:-1]
    rest = [p for p in params if all(p is not q for q in matrices)]
    return Combined(Muon(matrices, lr=lr, adjust_lr_fn=adjust_lr_fn),
                    AdamW(rest, lr=lr, **adamw_hparams))


# ----------------------------------------------------------------------------------------------
# 学习率调度器在一元线性回归上的一次训练（第 5 章的探索器与动画）
# ----------------------------------------------------------------------------------------------

#: :func:`scheduler_run` 认识的调度器。
SCHEDULER_KINDS = ("constant", "step", "plateau", "cosine", "onecycle")


@dataclass
class ScheduleHistory(History):
    """:class:`History` 加上每次更新时参数组里的动量（SGD 的 ``momentum`` 或 Adam 的 ``betas[0]``），以及
    ReduceLROnPlateau 降低学习率的轮次（第 k 轮末，k 从 1 起；其他调度器为空）。"""

    momentum: list[float] = field(default_factory=list)
    reductions: list[int] = field(default_factory=list)


@functools.lru_cache(maxsize=256)
def scheduler_run(kind: str, lr: float, step_size: int = 10, gamma: float = 0.3, T_max: int = 30,
                  max_lr: float = 0.1, pct_start: float = 0.3, epochs: int = 30, batch_size: int = 20, *,
                  factor: float = 0.5, patience: int = 2, optimizer: str = "sgd", momentum: float = 0.0,
                  beta1: float = 0.9, cycle_momentum: bool = False,
                  dtype: torch.dtype = torch.float32) -> ScheduleHistory:
    """用 optimlab 的 SGD（``optimizer="sgd"``，动量 ``momentum``）或 Adam（``"adam"``，β₁ 为 ``beta1``，
    β₂ = 0.999）训练 ``problems.linear_regression`` 上的一元线性模型。

    返回 :class:`ScheduleHistory`\\ （按参数缓存，调用者不要修改它）。StepLR 与 CosineAnnealingLR 每轮调用一次
    ``step()``；ReduceLROnPlateau（``factor``、``patience``，其余取 torch 的默认值）每轮以全数据损失调用
    ``step(loss)``；OneCycleLR 每次更新调用一次（``total_steps`` = 轮数 × 每轮更新次数）。``cycle_momentum=True``
    时 OneCycleLR 让 SGD 的动量或 Adam 的 β₁ 在 0.85 与 0.95 之间反向循环（此时 ``momentum``、``beta1`` 只是初值，
    随即被调度器改写）；默认 ``False``，只看学习率的形状。``dtype`` 是数据与模型的精度（默认 float32；
    网页上的 JavaScript 以 float64 计算，测试用 ``dtype=torch.float64`` 与它比对）。
    """
    X, y, _ = problems.linear_regression()
    X, y = X[:, :1].to(dtype), y[:, None].to(dtype)
    per_epoch = math.ceil(len(X) / batch_size)
    if kind == "constant":
        make, per = None, "epoch"
    elif kind == "step":
        make, per = (lambda o: S.StepLR(o, step_size=step_size, gamma=gamma)), "epoch"
    elif kind == "plateau":
        make, per = (lambda o: S.ReduceLROnPlateau(o, factor=factor, patience=patience)), "epoch"
    elif kind == "cosine":
        make, per = (lambda o: S.CosineAnnealingLR(o, T_max=T_max)), "epoch"
    elif kind == "onecycle":
        make = lambda o: S.OneCycleLR(  # noqa: E731
            o, max_lr=max_lr, total_steps=epochs * per_epoch, pct_start=pct_start,
            cycle_momentum=cycle_momentum)
        per = "step"
    else:
        raise ValueError(f"unknown scheduler {kind!r}")
    if optimizer == "sgd":
        opt, hparams, key = SGD, {"momentum": momentum}, "momentum"
    elif optimizer == "adam":
        opt, hparams, key = Adam, {"betas": (beta1, 0.999)}, "betas"
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    used: list[float] = []
    groups: list[dict] = []

    def scheduler(o):  # 每次更新之前记下参数组里的动量（调度器可能改写它）
        o.register_step_pre_hook(lambda o, args, kwargs: used.append(
            float(o.param_groups[0]["betas"][0] if key == "betas" else o.param_groups[0][key])))
        groups.append(o.param_groups[0])
        return make(o) if make is not None else None

    h = fit(linear_model(1).to(dtype), X, y, opt, batch_size=batch_size, epochs=epochs, seed=0,
            scheduler=scheduler, scheduler_per=per, lr=lr, **hparams)
    cuts = []
    if kind == "plateau":  # 学习率只在轮末变：第 k 轮的第一次更新比前一次小；最后一轮末的看参数组
        cuts = [k // per_epoch for k in range(per_epoch, len(h.lr), per_epoch) if h.lr[k] < h.lr[k - 1]]
        cuts += [epochs] if h.diverged_at is None and groups[0]["lr"] < h.lr[-1] else []
    return ScheduleHistory(**vars(h), momentum=used, reductions=cuts)


def _regression_design() -> tuple[Tensor, Tensor]:
    """:func:`scheduler_run` 的问题的设计矩阵 ``[x, 1]`` 与目标（float64）。"""
    X, y, _ = problems.linear_regression()
    A = torch.cat([X[:, :1], torch.ones(len(X), 1, dtype=X.dtype)], dim=1)
    return A, y[:, None]


@functools.lru_cache(maxsize=None)
def regression_optimum() -> float:
    """:func:`scheduler_run` 的问题上最小二乘解的训练集均方误差（噪声下限），用于画超额损失。

    每个进程只算一次：归约的顺序随线程数变化，重算可能在最后一位上不同，而画图与测试要用同一个值。
    """
    A, y = _regression_design()
    w = torch.linalg.lstsq(A, y).solution
    return float(((A @ w - y) ** 2).mean())


@functools.lru_cache(maxsize=None)
def regression_lr_limit() -> float:
    """同一问题上全批量梯度下降的稳定上限 :math:`2/\\lambda_{\\max}`。

    均方误差 :math:`\\tfrac1n\\lVert A w - y\\rVert^2` 的 Hessian 是 :math:`\\tfrac2n A^\\top A`；
    学习率超过 :math:`2/\\lambda_{\\max}` 时，最陡方向上的误差每步放大（第 1 章的稳定性上限）。
    """
    A, _ = _regression_design()
    return float(2 / torch.linalg.eigvalsh(2 * A.T @ A / len(A)).max())
