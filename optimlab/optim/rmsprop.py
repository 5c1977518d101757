"""RMSprop（Tieleman & Hinton, 2012，Coursera 讲义第 6e 讲；centered 版见 Graves, 2013）。"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .base import (
    BaseOptimizer, as_scalar, check_nonnegative, check_tensor_lr, real_view, zero_buffers,
)

__all__ = ["RMSprop"]


class RMSprop(BaseOptimizer):
    r"""RMSprop：用梯度平方的指数移动平均为每个坐标缩放步长。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \alpha\ (\texttt{alpha}),\ \epsilon\ (\texttt{eps}),
        \ \lambda\ (\texttt{weight\_decay}),\ \mu\ (\texttt{momentum}),\ \theta_0;
        \quad v_0 = \bar g_0 = b_0 = 0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad g_t \leftarrow g_t + \lambda\,\theta_{t-1} && (2)\\
       &\quad v_t = \alpha v_{t-1} + (1-\alpha)\, g_t^2 && (3)\\
       &\quad \bar g_t = \alpha \bar g_{t-1} + (1-\alpha)\, g_t,\quad
              \tilde v_t = v_t - \bar g_t^2\quad(\texttt{centered}\text{；否则 } \tilde v_t = v_t) && (4)\\
       &\quad b_t = \mu\, b_{t-1} + \frac{g_t}{\sqrt{\tilde v_t}+\epsilon},\quad
              \theta_t = \theta_{t-1} - \eta\, b_t\quad(\mu > 0) && (5)\\
       &\quad \theta_t = \theta_{t-1} - \eta\,\frac{g_t}{\sqrt{\tilde v_t}+\epsilon}\quad(\mu = 0) && (6)
       \end{aligned}

    与讲义的差别：讲义中没有 :math:`\epsilon`、动量与 centered 版本；:math:`v_t` 从 0 开始且 **没有**
    偏差校正，所以最初几步的步长大于 :math:`\eta`\ （这正是 Adam 要做偏差校正的原因）。

    参数与 ``torch.optim.RMSprop``\ （torch 2.13）完全相同：``lr`` 默认 1e-2，``alpha`` 默认 0.99。
    """

    _sparse_error = "RMSprop does not support sparse gradients"
    _buffers = ("square_avg",)  # momentum > 0 时再加 momentum_buffer，centered 时再加 grad_avg
    _group_setdefault = {"momentum": 0, "centered": False, "foreach": None, "maximize": False,
                         "differentiable": False, "capturable": False}

    def __init__(self, params, lr: float | Tensor = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.RMSprop。
        check_tensor_lr(lr)
        check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        super()._init_state(p, state, group)
        if group["momentum"] > 0:
            zero_buffers(p, state, "momentum_buffer")
        if group["centered"]:
            zero_buffers(p, state, "grad_avg")

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 批量版本：optimlab.sweep._rmsprop，同编号的行一一对应（tests/test_sweep.py 逐位核对）
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.RMSprop.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        alpha, eps, weight_decay, momentum = group["alpha"], group["eps"], group["weight_decay"], group["momentum"]

        grad = -grad if group["maximize"] else grad  # (1) g_t
        state["step"] += 1  # t ← t + 1
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)  # (2) g_t ← g_t + λθ

        param, grad, square_avg = real_view(param, grad, state["square_avg"])
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)  # (3) v_t = αv + (1 − α)g²

        if group["centered"]:
            (grad_avg,) = real_view(state["grad_avg"])
            grad_avg.lerp_(grad, 1 - alpha)  # (4) ḡ_t = αḡ + (1 − α)g
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()  # (4) √(v_t − ḡ_t²)
        else:
            avg = square_avg.sqrt()  # (4) √v_t
        avg = avg.add_(eps)  # (5)(6) √ṽ_t + ε

        if momentum > 0:
            (buf,) = real_view(state["momentum_buffer"])
            buf.mul_(momentum).addcdiv_(grad, avg)  # (5) b_t = μb + g/(√ṽ + ε)
            param.add_(buf, alpha=-lr)  # (5) θ_t = θ − ηb_t
        else:
            param.addcdiv_(grad, avg, value=-lr)  # (6) θ_t = θ − ηg/(√ṽ + ε)
