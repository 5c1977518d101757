"""Adadelta：用更新量自身的均方根代替学习率（Zeiler, 2012，arXiv:1212.5701）。"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import BaseOptimizer, as_scalar, check_nonnegative, check_tensor_lr, real_view

__all__ = ["Adadelta"]


class Adadelta(BaseOptimizer):
    r"""Adadelta：步长等于"过去更新量的均方根"除以"梯度的均方根"。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \rho\ (\texttt{rho}),\ \epsilon\ (\texttt{eps}),
        \ \lambda\ (\texttt{weight\_decay}),\ \theta_0;\quad v_0 = u_0 = 0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad g_t \leftarrow g_t + \lambda\,\theta_{t-1} && (2)\\
       &\quad v_t = \rho\, v_{t-1} + (1-\rho)\, g_t^2 && (3)\\
       &\quad \Delta\theta_t = \frac{\sqrt{u_{t-1}+\epsilon}}{\sqrt{v_t+\epsilon}}\; g_t && (4)\\
       &\quad u_t = \rho\, u_{t-1} + (1-\rho)\, \Delta\theta_t^2 && (5)\\
       &\quad \theta_t = \theta_{t-1} - \eta\,\Delta\theta_t && (6)
       \end{aligned}

    :math:`v_t`\ （状态 ``square_avg``）是梯度平方的指数移动平均，:math:`u_t`\ （状态 ``acc_delta``）
    是更新量平方的指数移动平均。第 (4) 行的比值 :math:`\mathrm{RMS}[\Delta\theta]_{t-1}/\mathrm{RMS}[g]_t`
    的单位是 :math:`\theta/g`\ （与 Hessian 的逆相同），乘上 :math:`g_t` 后 :math:`\Delta\theta_t` 与
    :math:`\theta` 单位相同：这是论文想要的"单位正确"的更新，不需要全局学习率。
    分子用的是 **上一步** 的 :math:`u_{t-1}`\ （本步的 :math:`\Delta\theta_t` 还没算出来）；
    第一步 :math:`u_0 = 0`，分子只剩 :math:`\sqrt{\epsilon}`，所以最初的步长量级由 :math:`\epsilon` 决定。

    与论文（Zeiler, 2012，算法 1）的差别：

    * 论文没有学习率；torch 在第 (6) 行乘上 :math:`\eta`，默认 ``lr=1.0``\ （此时与论文一致）。
    * ``rho`` 默认 0.9，论文实验用 :math:`\rho = 0.95`；:math:`\epsilon` 默认 1e-6，与论文相同。
      :math:`\epsilon` 在两个平方根 **里面**，与论文的 :math:`\mathrm{RMS}[y] = \sqrt{E[y^2]+\epsilon}` 一致。
    * torch 允许 :math:`\rho = 1`：此时 :math:`v_t = u_t = 0` 永不变化，第 (4) 行的比值恰为
      :math:`\sqrt\epsilon/\sqrt\epsilon = 1`，Adadelta 退化为学习率为 :math:`\eta` 的普通 SGD。
    * ``weight_decay``\ （L2 正则）与 ``maximize`` 是论文中没有的；状态 ``step`` 只计数，不参与计算。
    * 复数参数：:math:`v_t`、:math:`u_t` 与 :math:`\Delta\theta_t` 在 ``view_as_real`` 的实数视图上计算，
      :math:`\Delta\theta_t` 再转回复数加到参数上（同 torch）。

    参数与 ``torch.optim.Adadelta``\ （torch 2.13）完全相同。

    Args:
        lr (float | Tensor): 学习率 :math:`\eta`\ （论文中没有），默认 1.0。
        rho (float): :math:`\rho`，:math:`0 \le \rho \le 1`，默认 0.9。
        eps (float): 加在两个平方根之内的 :math:`\epsilon`\ （第 (4) 行），默认 1e-6。
        weight_decay (float): :math:`\lambda`，默认 0。
        maximize (bool): 最大化目标函数，默认 False。
    """

    _sparse_error = "Adadelta does not support sparse gradients"
    _buffers = ("square_avg", "acc_delta")

    def __init__(self, params, lr: float | Tensor = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False, differentiable: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.Adadelta。
        check_tensor_lr(lr)
        check_nonnegative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps=eps, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.Adadelta.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        rho, eps, weight_decay = group["rho"], group["eps"], group["weight_decay"]

        state["step"] += 1  # t ← t + 1（只计数）
        grad = -grad if group["maximize"] else grad  # (1) g_t

        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)  # (2) g_t ← g_t + λθ

        # 参数本身保持复数：Δθ 在实数视图上算完后再转回复数（同 torch）
        square_avg, acc_delta, grad = real_view(state["square_avg"], state["acc_delta"], grad)

        square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)  # (3) v_t = ρv + (1 − ρ)g²
        std = square_avg.add(eps).sqrt_()  # (4) √(v_t + ε)
        delta = acc_delta.add(eps).sqrt_()  # (4) √(u_{t−1} + ε)
        delta.div_(std).mul_(grad)  # (4) Δθ_t = √(u_{t−1} + ε)/√(v_t + ε) · g_t
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)  # (5) u_t = ρu + (1 − ρ)Δθ²

        if torch.is_complex(param):
            delta = torch.view_as_complex(delta)
        param.add_(delta, alpha=-lr)  # (6) θ_t = θ − ηΔθ_t
