"""Adamax：以无穷范数代替二阶矩的 Adam 变体（Kingma & Ba, 2015，第 7.1 节）。"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import (
    BaseOptimizer, as_scalar, check_betas, check_nonnegative, check_tensor_lr, real_view, value,
)

__all__ = ["Adamax"]


class Adamax(BaseOptimizer):
    r"""Adamax：把 Adam 的 :math:`L^2` 二阶矩换成指数加权的 :math:`L^\infty` 范数 :math:`u_t`。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \beta_1, \beta_2\ (\texttt{betas}),\ \epsilon\ (\texttt{eps}),
        \ \lambda\ (\texttt{weight\_decay}),\ \theta_0;\quad m_0 = u_0 = 0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad g_t \leftarrow g_t + \lambda\,\theta_{t-1} && (2)\\
       &\quad m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t && (3)\\
       &\quad u_t = \max\bigl(\beta_2\, u_{t-1},\ |g_t| + \epsilon\bigr) && (4)\\
       &\quad \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\cdot\frac{m_t}{u_t} && (5)
       \end{aligned}

    :math:`u_t` 是 :math:`\bigl(\sum_i \beta_2^{p(t-i)} |g_i|^p\bigr)^{1/p}` 在 :math:`p\to\infty` 时的极限，
    即 :math:`\max_i \beta_2^{t-i}|g_i|`；取最大值不受"从 0 开始"的偏差影响，所以 :math:`u_t` 不做偏差校正，
    只有 :math:`m_t` 需要除以 :math:`1-\beta_1^t`。

    与论文（Kingma & Ba, 2015，算法 2）的差别：

    * 论文的 :math:`u_t = \max(\beta_2 u_{t-1}, |g_t|)` 没有 :math:`\epsilon`；torch 把 :math:`\epsilon`
      加在 **取最大值之前** 的 :math:`|g_t|` 上，所以 :math:`u_t \ge \epsilon`，而不是加在分母 :math:`u_t` 上。
      梯度恒为 0 的坐标，论文会出现 :math:`0/0`，torch 的更新是 0。
    * 复数参数按 ``view_as_real`` 的实部、虚部分别取 :math:`|\cdot|` 和最大值，而不是用复数的模。
    * ``weight_decay`` 是 L2 正则（加到梯度上），论文中没有；torch 在转成实数视图 **之前** 加
      （RAdam、Adam 在之后加），optimlab 保持 torch 的顺序。
    * torch 的 ``differentiable=True`` 分支把第 (4) 行写成 ``torch.cat`` 拼成 ``norm_buf`` 再 ``amax``，
      数值与 ``torch.maximum`` 相同；optimlab 不支持 ``differentiable``，只有后一种写法。

    参数与 ``torch.optim.Adamax``\ （torch 2.13）完全相同：``lr`` 默认 2e-3（与论文的 :math:`\alpha` 相同）。

    Args:
        lr (float | Tensor): 学习率 :math:`\eta`，默认 2e-3。
        betas (tuple): :math:`(\beta_1, \beta_2)`，默认 (0.9, 0.999)。
        eps (float): :math:`\epsilon`，默认 1e-8。
        weight_decay (float): :math:`\lambda`，默认 0。
        maximize (bool): 最大化目标函数，默认 False。
    """

    _sparse_error = "Adamax does not support sparse gradients"
    _buffers = ("exp_avg", "exp_inf")

    def __init__(self, params, lr: float | Tensor = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.Adamax。
        check_tensor_lr(lr)
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.Adamax.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        beta1, beta2 = group["betas"]
        weight_decay, eps = group["weight_decay"], group["eps"]

        grad = -grad if group["maximize"] else grad  # (1) g_t
        state["step"] += 1  # t ← t + 1

        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)  # (2) g_t ← g_t + λθ

        param, grad, exp_avg, exp_inf = real_view(param, grad, state["exp_avg"], state["exp_inf"])

        exp_avg.lerp_(grad, 1 - beta1)  # (3) m_t = β₁m + (1 − β₁)g
        torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps), out=exp_inf)  # (4) u_t = max(β₂u, |g| + ε)

        bias_correction = 1 - beta1 ** value(state["step"])  # (5) 1 − β₁ᵗ
        clr = lr / bias_correction  # (5) η / (1 − β₁ᵗ)
        param.addcdiv_(exp_avg, exp_inf, value=-clr)  # (5) θ_t = θ − η m_t / ((1 − β₁ᵗ) u_t)
