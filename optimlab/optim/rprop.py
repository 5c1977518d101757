"""Rprop：弹性反向传播（Riedmiller & Braun, 1993；torch 实现的是 Igel & Hüsken, 2000 的 iRprop− 变体）。"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import BaseOptimizer, as_scalar, check_nonnegative, check_tensor_lr, real_view

__all__ = ["Rprop"]


class Rprop(BaseOptimizer):
    r"""Rprop：只看梯度的符号，每个坐标的步长按符号是否翻转而放大或缩小。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。
    :math:`\Delta_t` 是逐坐标的步长（状态 ``step_size``），:math:`\tilde g_t` 是保存下来供下一步比较
    符号的梯度（状态 ``prev``），运算都是逐元素的。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \eta_-, \eta_+\ (\texttt{etas}),
        \ \Delta_{\min}, \Delta_{\max}\ (\texttt{step\_sizes}),\ \theta_0;
        \quad \Delta_0 = \eta,\ \tilde g_0 = 0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad \rho_t = \begin{cases} \eta_+ & g_t\,\tilde g_{t-1} > 0 \\ \eta_- & g_t\,\tilde g_{t-1} < 0 \\
              1 & g_t\,\tilde g_{t-1} = 0 \end{cases} && (2)\\
       &\quad \Delta_t = \min\bigl(\max(\rho_t\,\Delta_{t-1},\ \Delta_{\min}),\ \Delta_{\max}\bigr) && (3)\\
       &\quad \tilde g_t = \begin{cases} 0 & \rho_t = \eta_- \\ g_t & \text{否则} \end{cases} && (4)\\
       &\quad \theta_t = \theta_{t-1} - \Delta_t\,\operatorname{sign}(\tilde g_t) && (5)
       \end{aligned}

    与论文的差别：

    * Riedmiller & Braun (1993) 在符号翻转时 **撤回** 上一步的更新（weight-backtracking：
      :math:`\Delta\theta_t = -\Delta\theta_{t-1}`），再把 :math:`\tilde g_t` 置 0。torch 不撤回，只是把
      :math:`\tilde g_t` 置 0，于是这一步该坐标不动，下一步乘积为 0、步长不变（第 (2) 行的第三种情形）。
      这正是 Igel & Hüsken (2000) 的 iRprop−。
    * :math:`\Delta_0` 取 ``lr``，而且只在第一次更新、创建状态 ``step_size`` 时读取 ``lr``；
      此后 ``lr`` 不再参与计算，所以学习率调度器对 Rprop 不起作用。
    * 论文针对全批量梯度；小批量的噪声会让符号频繁翻转，使步长不断缩小。
    * torch 不检查 ``step_sizes``：:math:`\Delta_{\min} > \Delta_{\max}` 时第 (3) 行按 ``clamp`` 的
      规则得到 :math:`\Delta_{\max}`。状态 ``step`` 只计数，不进入计算。

    参数与 ``torch.optim.Rprop``\ （torch 2.13）完全相同：``lr`` 默认 1e-2，``etas`` 默认 (0.5, 1.2)，
    ``step_sizes`` 默认 (1e-6, 50)。``foreach`` 被接受但忽略；``capturable``、``differentiable`` 为
    ``True`` 时抛出 ``NotImplementedError``。复数参数的实部与虚部作为两个独立的实数处理（同 torch）。

    Args:
        lr (float | Tensor): 初始步长 :math:`\Delta_0`，默认 1e-2。
        etas (tuple): :math:`(\eta_-, \eta_+)`，需满足 :math:`0 < \eta_- < 1 < \eta_+`，默认 (0.5, 1.2)。
        step_sizes (tuple): :math:`(\Delta_{\min}, \Delta_{\max})`，默认 (1e-6, 50)。
        maximize (bool): 最大化目标函数，默认 False。
    """

    _sparse_error = "Rprop does not support sparse gradients"
    _buffers = ("prev",)  # 之后是 step_size，初值为 lr，见 _init_state

    def __init__(self, params, lr: float | Tensor = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.Rprop。
        check_tensor_lr(lr)
        check_nonnegative(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        super()._init_state(p, state, group)
        if p.dtype.is_complex:
            # 实部与虚部是两个独立的坐标，虚部的步长也从 lr 开始
            state["step_size"] = torch.full_like(p.grad, complex(group["lr"], group["lr"]))
        else:
            state["step_size"] = torch.full_like(p.grad, as_scalar(group["lr"]))  # Δ₀ = η

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.Rprop.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]

        grad = -grad if group["maximize"] else grad  # (1) g_t
        state["step"] += 1  # t ← t + 1
        param, grad, prev, step_size = real_view(param, grad, state["prev"], state["step_size"])

        rho = grad.mul(prev).sign()  # (2) sign(g_t g̃_{t−1})
        rho[rho.gt(0)] = etaplus  # (2) 同号：η₊
        rho[rho.lt(0)] = etaminus  # (2) 异号：η₋
        rho[rho.eq(0)] = 1  # (2) 乘积为 0：1
        step_size.mul_(rho).clamp_(step_size_min, step_size_max)  # (3) Δ_t = clip(ρ_t Δ_{t−1})

        grad = grad.clone(memory_format=torch.preserve_format)
        grad[rho.eq(etaminus)] = 0  # (4) 异号处 g̃_t = 0

        param.addcmul_(grad.sign(), step_size, value=-1)  # (5) θ_t = θ − Δ_t sign(g̃_t)
        prev.copy_(grad)  # (4) 保存 g̃_t
