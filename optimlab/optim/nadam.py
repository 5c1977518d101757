"""NAdam：把 Nesterov 动量融入 Adam（Dozat, 2016）。"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .base import (
    BaseOptimizer, as_scalar, check_betas, check_nonnegative, check_tensor_lr, real_view, value,
)

__all__ = ["NAdam"]



def momentum_schedule(beta1: float, psi: float, t: float) -> float:
    """第 (3) 行的动量调度 :math:`\\mu_t = \\beta_1(1 - \\tfrac12\\, 0.96^{t\\psi})`，按 torch 的运算顺序。

    ``_update`` 与批量内核的标量表（:mod:`optimlab.sweep`）都调用它，所以两边逐位相同。
    """
    return beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))


class NAdam(BaseOptimizer):
    r"""NAdam：Nesterov 加速的 Adam（Dozat, 2016）。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \beta_1, \beta_2\ (\texttt{betas}),\ \epsilon\ (\texttt{eps}),
        \ \lambda\ (\texttt{weight\_decay}),\ \psi\ (\texttt{momentum\_decay}),\ \theta_0;
        \quad m_0 = v_0 = 0,\ \Pi_0 = 1 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad g_t \leftarrow g_t + \lambda\,\theta_{t-1}\quad
         \text{或（解耦）}\ \theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1} && (2)\\
       &\quad \mu_t = \beta_1\bigl(1 - \tfrac12\, 0.96^{\,t\psi}\bigr),\qquad
              \mu_{t+1} = \beta_1\bigl(1 - \tfrac12\, 0.96^{\,(t+1)\psi}\bigr) && (3)\\
       &\quad \Pi_t = \Pi_{t-1}\,\mu_t\quad\bigl(= \textstyle\prod_{i=1}^{t}\mu_i\bigr) && (4)\\
       &\quad m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t && (5)\\
       &\quad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 && (6)\\
       &\quad \hat v_t = \frac{v_t}{1-\beta_2^t} && (7)\\
       &\quad \theta_t = \theta_{t-1}
          - \eta\,\frac{1-\mu_t}{1-\Pi_t}\cdot\frac{g_t}{\sqrt{\hat v_t}+\epsilon}
          - \eta\,\frac{\mu_{t+1}}{1-\Pi_t\,\mu_{t+1}}\cdot\frac{m_t}{\sqrt{\hat v_t}+\epsilon} && (8)
       \end{aligned}

    第 (8) 行就是 Nesterov 的"前瞻"：当前梯度以系数 :math:`1-\mu_t` 直接进入更新，
    动量则按 **下一步** 的 :math:`\mu_{t+1}` 计入，而不是在前瞻点重新求梯度。

    与论文的差别：动量调度 :math:`\mu_t` 的底数 0.96 与 :math:`\psi = 0.004` 的取法来自 Dozat
    (2016) 的实验设置（论文正文写作 :math:`\mu_t = \beta_1(1 - 0.5\cdot 0.96^{t/250})`，
    :math:`t/250 = 0.004\,t`）；torch 把 250 的倒数做成了参数 ``momentum_decay``。
    :math:`\Pi_t` 存在状态 ``mu_product`` 中，是 float32（默认 dtype 为 float64 时是 float64）的 0 维张量。

    参数与 ``torch.optim.NAdam``\ （torch 2.13）完全相同：``lr`` 默认 2e-3。
    """

    _sparse_error = "NAdam does not support sparse gradients"
    _scalar_state = {"step": 0.0, "mu_product": 1.0}
    _buffers = ("exp_avg", "exp_avg_sq")
    _group_setdefault = {"maximize": False, "foreach": None, "capturable": False, "differentiable": False,
                         "decoupled_weight_decay": False}

    def __init__(self, params, lr: float | Tensor = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.NAdam。
        check_tensor_lr(lr)
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 批量版本：optimlab.sweep._nadam，同编号的行一一对应（tests/test_sweep.py 逐位核对）
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.NAdam.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        beta1, beta2 = group["betas"]
        weight_decay, eps, momentum_decay = group["weight_decay"], group["eps"], group["momentum_decay"]
        mu_product = state["mu_product"]

        grad = -grad if group["maximize"] else grad  # (1) g_t
        param, grad, exp_avg, exp_avg_sq = real_view(param, grad, state["exp_avg"], state["exp_avg_sq"])

        state["step"] += 1  # t ← t + 1
        t = value(state["step"])
        bias_correction2 = 1 - beta2**t  # (7) 1 − β₂ᵗ

        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * weight_decay)  # (2) θ ← (1 − ηλ)θ
            else:
                grad = grad.add(param, alpha=weight_decay)  # (2) g_t ← g_t + λθ

        mu = momentum_schedule(beta1, momentum_decay, t)  # (3) μ_t
        mu_next = momentum_schedule(beta1, momentum_decay, t + 1)  # (3) μ_{t+1}
        mu_product *= mu  # (4) Π_t = Π_{t−1} μ_t

        exp_avg.lerp_(grad, 1 - beta1)  # (5) m_t
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # (6) v_t
        denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps)  # (7)(8) √v̂_t + ε

        mu_product_next = value(mu_product) * mu_next  # (8) Π_t μ_{t+1}
        param.addcdiv_(grad, denom, value=(-lr * (1.0 - mu) / (1.0 - value(mu_product))))  # (8) 梯度项
        param.addcdiv_(exp_avg, denom, value=(-lr * mu_next) / (1.0 - mu_product_next))  # (8) 动量项
