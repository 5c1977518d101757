"""Adam 与 AdamW（Kingma & Ba, 2015；Loshchilov & Hutter, 2019）。"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import (
    BaseOptimizer, as_scalar, check_betas, check_nonnegative, check_tensor_lr, like, real_view,
    value, zero_buffers,
)

__all__ = ["Adam", "AdamW"]


def _check_tensor_betas(betas: tuple[Any, Any], foreach: Any, capturable: Any) -> None:
    """torch.optim.Adam 对张量 β 的检查：两个都是 float 或都是张量，且张量只有一个元素。"""
    if not (
        (isinstance(betas[0], float) and isinstance(betas[1], float))
        or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))
    ):
        raise ValueError("betas must be either both floats or both Tensors")
    for i in (0, 1):
        if isinstance(betas[i], Tensor):
            if not capturable and foreach:
                raise ValueError(f"betas[{i}] as a Tensor is not supported for capturable=False and foreach=True")
            if betas[i].numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")


def bias_corrections(beta1: Any, beta2: Any, t: float) -> tuple[Any, Any]:
    """第 (6) 行的两个校正量 :math:`1-\\beta_1^t` 与 :math:`\\sqrt{1-\\beta_2^t}`，按 torch 的运算顺序。

    ``_update`` 与批量内核的标量表（:mod:`optimlab.sweep`）都调用它，所以两边逐位相同。
    """
    return 1 - beta1**t, (1 - beta2**t) ** 0.5


class Adam(BaseOptimizer):
    r"""Adam：自适应矩估计（Adaptive Moment Estimation）。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \beta_1, \beta_2\ (\texttt{betas}),\ \epsilon\ (\texttt{eps}),
        \ \lambda\ (\texttt{weight\_decay}),\ \theta_0;\quad m_0 = v_0 = v_0^{\max} = 0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad g_t \leftarrow g_t + \lambda\,\theta_{t-1}\quad
         \text{或（解耦，AdamW）}\ \theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1} && (2)\\
       &\quad m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t && (3)\\
       &\quad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 && (4)\\
       &\quad v_t^{\max} = \max(v_{t-1}^{\max}, v_t)\quad(\texttt{amsgrad}\text{，此后用 } v_t^{\max}
         \text{ 代替 } v_t) && (5)\\
       &\quad \hat m_t = \frac{m_t}{1-\beta_1^t},\qquad \hat v_t = \frac{v_t}{1-\beta_2^t} && (6)\\
       &\quad \theta_t = \theta_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon} && (7)
       \end{aligned}

    与论文（Kingma & Ba, 2015，算法 1）和常见写法的差别：

    * :math:`\epsilon` 加在偏差校正 **之后**，即分母是 :math:`\sqrt{\hat v_t}+\epsilon`；论文第 2 节给出的
      "更高效"写法 :math:`\eta_t = \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)` 把 :math:`\epsilon` 加在
      :math:`\sqrt{v_t}` 上，二者在前几步差别明显。
    * 代码按 :math:`\theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\cdot
      \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t}+\epsilon}` 的顺序计算，这就是与 torch.optim 逐位一致的运算顺序。
    * AMSGrad（Reddi et al., 2018）取的是 **未校正** 的 :math:`v_t` 的最大值，再做偏差校正；
      原论文的算法没有偏差校正。
    * ``weight_decay`` 默认是 L2 正则（加到梯度上，会被 :math:`\sqrt{\hat v_t}` 缩放），
      并不等价于权重衰减；``decoupled_weight_decay=True`` 才是 AdamW 的解耦权重衰减。

    参数与 ``torch.optim.Adam``\ （torch 2.13）完全相同，默认值与参数检查也相同。
    ``foreach`` 被接受但忽略（optimlab 只有单张量循环）；``fused``、``capturable``、
    ``differentiable`` 为 ``True`` 时抛出 ``NotImplementedError``。

    Args:
        lr (float | Tensor): 学习率 :math:`\eta`，默认 1e-3。
        betas (tuple): :math:`(\beta_1, \beta_2)`，默认 (0.9, 0.999)。
        eps (float): :math:`\epsilon`，默认 1e-8。
        weight_decay (float): :math:`\lambda`，默认 0。
        amsgrad (bool): 是否使用 AMSGrad，默认 False。
        maximize (bool): 最大化目标函数，默认 False。
        decoupled_weight_decay (bool): 使用解耦权重衰减（即 AdamW），默认 False。
    """

    _sparse_error = "Adam does not support sparse gradients, please consider SparseAdam instead"
    _buffers = ("exp_avg", "exp_avg_sq")  # amsgrad 时再加 max_exp_avg_sq
    _group_setdefault = {"amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                         "differentiable": False, "decoupled_weight_decay": False, "fused": None}

    def __init__(self, params, lr: float | Tensor = 1e-3, betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.Adam。
        check_tensor_lr(lr, foreach=foreach, capturable=capturable)
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        _check_tensor_betas(betas, foreach, capturable)
        betas = tuple(map(as_scalar, betas))
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        super()._init_state(p, state, group)
        if group["amsgrad"]:
            zero_buffers(p, state, "max_exp_avg_sq")

    def _prepare(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 同 torch：每一步都检查（学习率可能在构造之后才被换成张量），在本组的任何更新之前报错
        if group["foreach"] and torch.is_tensor(group["lr"]) and not group["capturable"]:
            raise RuntimeError("lr as a Tensor is not supported for capturable=False and foreach=True")

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 批量版本：optimlab.sweep._adam，同编号的行一一对应（tests/test_sweep.py 逐位核对）
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.Adam.update（AdamW 共用），同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        beta1, beta2 = map(as_scalar, group["betas"])
        weight_decay, eps, amsgrad = group["weight_decay"], group["eps"], group["amsgrad"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        max_exp_avg_sq = state.get("max_exp_avg_sq")

        grad = -grad if group["maximize"] else grad  # (1) g_t
        state["step"] += 1  # t ← t + 1

        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * weight_decay)  # (2) θ ← (1 − ηλ)θ   (AdamW)
            else:
                grad = grad.add(param, alpha=weight_decay)  # (2) g_t ← g_t + λθ   (L2)

        param, grad, exp_avg, exp_avg_sq = real_view(param, grad, exp_avg, exp_avg_sq)

        exp_avg.lerp_(grad, 1 - like(beta1, param))  # (3) m_t = β₁m + (1 − β₁)g
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # (4) v_t = β₂v + (1 − β₂)g²

        t = value(state["step"])
        bias_correction1, bias_correction2_sqrt = bias_corrections(beta1, beta2, t)  # (6) 1 − β₁ᵗ, √(1 − β₂ᵗ)
        step_size = lr / bias_correction1  # (7) η / (1 − β₁ᵗ)

        if amsgrad:
            (max_exp_avg_sq,) = real_view(max_exp_avg_sq)
            torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)  # (5) vᵐᵃˣ = max(vᵐᵃˣ, v_t)
            exp_avg_sq = max_exp_avg_sq

        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)  # (6)(7) √v̂_t + ε
        param.addcdiv_(exp_avg, denom, value=-step_size)  # (7) θ_t = θ − η m̂_t / (√v̂_t + ε)


class AdamW(Adam):
    r"""AdamW：解耦权重衰减的 Adam（Loshchilov & Hutter, 2019）。

    即 :class:`Adam` 取 ``decoupled_weight_decay=True``，算法见 :class:`Adam` 的第 (2) 行：

    .. math::

       \theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1}

    衰减在计算矩估计之前直接作用于参数，不进入 :math:`m_t`、:math:`v_t`，因此不会被
    :math:`\sqrt{\hat v_t}` 缩放。这与 Adam 的 L2 正则（:math:`g_t + \lambda\theta`）不同。
    torch 的系数是 :math:`\eta\lambda`\ （随学习率调度一起变化），论文写作 :math:`\eta_t\lambda`，
    其中 :math:`\eta_t` 是调度乘子、:math:`\lambda` 不乘基础学习率 :math:`\alpha`。

    参数同 ``torch.optim.AdamW``：``weight_decay`` 默认 1e-2，没有 ``decoupled_weight_decay`` 参数。
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
