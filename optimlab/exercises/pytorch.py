"""《在 PyTorch 中使用 Adam》一章的练习检查：学习率调度的取值与训练循环的一步。"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.optim import lr_scheduler

from ..optim import Adam
from . import Result, call_user, compare

__all__ = ["scheduled_lrs", "check_step_lr", "check_cosine_lr", "check_train_step"]

#: ``check_step_lr`` 检查的设置：(base_lr, step_size, gamma, 轮数)。
STEP_CASES = [(1e-3, 30, 0.1, 100), (0.1, 7, 0.5, 22)]
#: ``check_cosine_lr`` 检查的设置：(base_lr, T_max, eta_min, 轮数)。
COSINE_CASES = [(1e-3, 100, 0.0, 101), (0.1, 10, 1e-3, 11)]


def scheduled_lrs(make_scheduler: Callable[[torch.optim.Optimizer], object], base_lr: float, epochs: int) -> list[float]:
    """用 ``optimlab.Adam`` 和 torch 的调度器走 ``epochs`` 轮，返回每一轮所用的学习率（第 0 轮起）。

    每轮先 ``optimizer.step()`` 再 ``scheduler.step()``\\ （PyTorch 1.1.0 起要求的顺序）。
    """
    p = torch.zeros(1, requires_grad=True)
    opt = Adam([p], lr=base_lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(epochs):
        out.append(float(opt.param_groups[0]["lr"]))
        p.grad = torch.ones_like(p)
        opt.step()
        sched.step()
    return out


def _check_schedule(fn: Callable[..., float], name: str, cases, make, rtol: float) -> Result:
    for base_lr, a, b, epochs in cases:
        expected = scheduled_lrs(lambda opt: make(opt, a, b), base_lr, epochs)
        for epoch, exp in enumerate(expected):
            got, err = call_user(fn, epoch, base_lr, a, b)
            if err is not None:
                return err
            args = f"{name}({epoch}, {base_lr:g}, {a:g}, {b:g})"
            try:
                value = float(got)
            except (TypeError, ValueError):
                return Result(False, f"{args}：返回值应是一个数，实际为 {got!r}")
            if not abs(value - exp) <= rtol * abs(exp) + 1e-15:
                return Result(False, f"{args}：你的结果 {value:.6g}，torch 的调度器给出 {exp:.6g}")
    n = sum(c[-1] for c in cases)
    return Result(True, f"{name}：{len(cases)} 组设置、共 {n} 轮的学习率都与 torch 的调度器一致")


def check_step_lr(fn: Callable[[int, float, int, float], float]) -> Result:
    """检查 ``fn(epoch, base_lr, step_size, gamma)`` 是否等于 ``StepLR`` 在第 ``epoch`` 轮的学习率。"""
    return _check_schedule(fn, "step_lr", STEP_CASES,
                           lambda opt, s, g: lr_scheduler.StepLR(opt, step_size=int(s), gamma=g), 1e-9)


def check_cosine_lr(fn: Callable[[int, float, int, float], float]) -> Result:
    """检查 ``fn(epoch, base_lr, T_max, eta_min)`` 是否等于 ``CosineAnnealingLR`` 在第 ``epoch`` 轮的学习率。

    torch 用递推式更新学习率，与闭式解相差舍入误差，所以按相对误差 1e-6 比较。
    """
    return _check_schedule(fn, "cosine_lr", COSINE_CASES,
                           lambda opt, t, m: lr_scheduler.CosineAnnealingLR(opt, T_max=int(t), eta_min=m), 1e-6)


def _reference_step(model: nn.Module, optimizer: torch.optim.Optimizer, inputs, targets, loss_fn) -> torch.Tensor:
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss


def check_train_step(fn: Callable[..., object], steps: int = 3) -> Result:
    """检查 ``fn(model, optimizer, inputs, targets, loss_fn)``：做一步训练（清梯度、前向、反向、更新）并返回损失。

    在 ``nn.Linear(4, 1)`` 与 ``optimlab.Adam`` 上连续走 ``steps`` 步，每一步之后比较返回的损失和全部参数。
    """
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    ref_model = nn.Linear(4, 1)
    user_model = copy.deepcopy(ref_model)
    ref_opt, user_opt = Adam(ref_model.parameters(), lr=0.1), Adam(user_model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    for k in range(1, steps + 1):
        x, y = torch.randn(8, 4, generator=gen), torch.randn(8, 1, generator=gen)
        expected_loss = _reference_step(ref_model, ref_opt, x, y, loss_fn)
        got, err = call_user(fn, user_model, user_opt, x, y, loss_fn)
        if err is not None:
            return err
        if got is None:
            return Result(False, f"第 {k} 步：函数返回了 None——应返回这一步的损失")
        r = compare(f"第 {k} 步返回的损失", torch.as_tensor(float(got)), expected_loss.detach().reshape(()))
        if not r:
            return r
        for (name, p_user), p_ref in zip(user_model.named_parameters(), ref_model.parameters()):
            r = compare(f"第 {k} 步之后的 {name}", p_user.detach(), p_ref.detach())
            if not r:
                return r
    return Result(True, f"连续 {steps} 步的损失和参数都与参考实现一致")
