"""RAdam：修正自适应学习率方差的 Adam（Liu et al., 2020，ICLR；arXiv:1908.03265）。"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .base import (
    BaseOptimizer, as_scalar, check_betas, check_nonnegative, check_tensor_lr, real_view, value,
)

__all__ = ["RAdam"]


class RAdam(BaseOptimizer):
    r"""RAdam：在自适应步长的方差可估计之前按动量 SGD 走，之后用 :math:`r_t` 修正 Adam 的步长。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \beta_1, \beta_2\ (\texttt{betas}),\ \epsilon\ (\texttt{eps}),
        \ \lambda\ (\texttt{weight\_decay}),\ \theta_0;\quad m_0 = v_0 = 0;\quad
        \rho_\infty = \frac{2}{1-\beta_2} - 1 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad g_t \leftarrow g_t + \lambda\,\theta_{t-1}\quad
         \text{或（解耦）}\ \theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1} && (2)\\
       &\quad m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t && (3)\\
       &\quad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 && (4)\\
       &\quad \hat m_t = \frac{m_t}{1-\beta_1^t} && (5)\\
       &\quad \rho_t = \rho_\infty - \frac{2t\,\beta_2^t}{1-\beta_2^t} && (6)\\
       &\quad r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\,\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\,\rho_t}},
              \qquad l_t = \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon}\quad(\rho_t > 5) && (7)\\
       &\quad \theta_t = \theta_{t-1} - \eta\,\hat m_t\, l_t\, r_t\quad(\rho_t > 5) && (8)\\
       &\quad \theta_t = \theta_{t-1} - \eta\,\hat m_t\quad(\rho_t \le 5\text{：不用 } v_t\text{，即带偏差校正的动量 SGD})
         && (9)
       \end{aligned}

    :math:`\rho_t` 是"近似简单移动平均的长度"：指数移动平均 :math:`v_t` 大约相当于最近 :math:`\rho_t`
    个 :math:`g^2` 的平均。它太短时 :math:`1/\sqrt{\hat v_t}` 的方差不存在（或极大），RAdam 干脆不用它；
    足够长以后 :math:`r_t` 从 0 附近逐渐增到 1，把 Adam 的步长按方差之比缩小。
    :math:`\rho_\infty \le 5`\ （即 :math:`\beta_2 \le 2/3`）时 :math:`\rho_t` 永远不超过 5，RAdam 一直是第 (9) 行。

    与论文（Liu et al., 2020，算法 2）的差别：

    * 门槛是 :math:`\rho_t > 5`\ （作者代码写作 ``N_sma >= 5``）；论文写的是 :math:`\rho_t > 4`。
      默认 :math:`\beta_2 = 0.999` 时 :math:`\rho_5 \approx 4.996`，所以论文从第 5 步开始修正，torch 从第 6 步开始。
    * 论文的 :math:`l_t = \sqrt{(1-\beta_2^t)/v_t}` 没有 :math:`\epsilon`；torch 把 :math:`\epsilon`
      加在 **未校正** 的 :math:`\sqrt{v_t}` 上（与 Adam 加在 :math:`\sqrt{\hat v_t}` 上不同）。
    * 第 (8) 行按 :math:`((\hat m_t\cdot\eta)\cdot l_t)\cdot r_t` 的顺序逐元素相乘，
      :math:`\rho_t`、:math:`r_t` 用 Python 浮点数计算；这就是与 torch.optim 逐位一致的运算顺序。
    * ``weight_decay`` 默认是 L2 正则（加到梯度上）；作者代码用的是解耦的权重衰减，
      对应 ``decoupled_weight_decay=True``\ （RAdamW）。

    参数与 ``torch.optim.RAdam``\ （torch 2.13）完全相同：``lr`` 默认 1e-3，没有 ``fused``。

    Args:
        lr (float | Tensor): 学习率 :math:`\eta`，默认 1e-3。
        betas (tuple): :math:`(\beta_1, \beta_2)`，默认 (0.9, 0.999)。
        eps (float): :math:`\epsilon`，默认 1e-8。
        weight_decay (float): :math:`\lambda`，默认 0。
        decoupled_weight_decay (bool): 使用解耦权重衰减（RAdamW），默认 False。
        maximize (bool): 最大化目标函数，默认 False。
    """

    _sparse_error = "RAdam does not support sparse gradients"
    _buffers = ("exp_avg", "exp_avg_sq")
    _group_setdefault = {"foreach": None, "maximize": False, "differentiable": False,
                         "decoupled_weight_decay": False, "capturable": False}

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.RAdam.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        beta1, beta2 = group["betas"]
        weight_decay, eps = group["weight_decay"], group["eps"]

        grad = -grad if group["maximize"] else grad  # (1) g_t
        param, grad, exp_avg, exp_avg_sq = real_view(param, grad, state["exp_avg"], state["exp_avg_sq"])

        state["step"] += 1  # t ← t + 1
        t = value(state["step"])

        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * weight_decay)  # (2) θ ← (1 − ηλ)θ   (RAdamW)
            else:
                grad = grad.add(param, alpha=weight_decay)  # (2) g_t ← g_t + λθ   (L2)

        exp_avg.lerp_(grad, 1 - beta1)  # (3) m_t = β₁m + (1 − β₁)g
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # (4) v_t = β₂v + (1 − β₂)g²

        bias_correction1 = 1 - beta1**t  # (5) 1 − β₁ᵗ
        bias_correction2 = 1 - beta2**t  # (6)(7) 1 − β₂ᵗ
        bias_corrected_exp_avg = exp_avg / bias_correction1  # (5) m̂_t

        rho_inf = 2 / (1 - beta2) - 1  # (6) ρ_∞
        rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2  # (6) ρ_t

        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5  # (7) r_t
            adaptive_lr = (bias_correction2**0.5) / exp_avg_sq.sqrt().add_(eps)  # (7) l_t = √(1 − β₂ᵗ)/(√v_t + ε)
            param.add_(bias_corrected_exp_avg * lr * adaptive_lr * rect, alpha=-1.0)  # (8) θ_t = θ − η m̂ l r
        else:
            param.add_(bias_corrected_exp_avg * lr, alpha=-1.0)  # (9) θ_t = θ − η m̂_t

    def __init__(self, params, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.RAdam。
        check_tensor_lr(lr)
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))
