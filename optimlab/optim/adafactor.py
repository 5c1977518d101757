"""Adafactor（Shazeer & Stern, 2018）：用行、列两个因子近似二阶矩，内存随参数边长线性增长。"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import BaseOptimizer, as_scalar, check_tensor_lr, value

__all__ = ["Adafactor"]


class Adafactor(BaseOptimizer):
    r"""Adafactor：分解的二阶矩、相对步长与更新裁剪，没有一阶矩。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。
    :math:`\operatorname{RMS}(x) = \lVert x\rVert_2/\sqrt{\operatorname{numel}(x)}`；
    对至少 2 维的参数，:math:`g_t` 按最后两维看成 :math:`n\times m` 矩阵（前面的维度是批），
    :math:`\operatorname{mean}_j` 是沿最后一维（列下标 :math:`j`）的平均，:math:`\operatorname{mean}_i`
    是沿倒数第二维（行下标 :math:`i`）的平均。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \tau\ (\texttt{beta2\_decay}),
        \ \epsilon_1, \epsilon_2\ (\texttt{eps}),\ d\ (\texttt{d}),\ \lambda\ (\texttt{weight\_decay}),\ \theta_0;
        \quad r_0 = c_0 = v_0 = 0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad \hat\beta_{2,t} = 1 - t^{\tau} && (2)\\
       &\quad \rho_t = \min\bigl(\eta,\ 1/\sqrt{t}\bigr) && (3)\\
       &\quad \alpha_t = \max\bigl(\epsilon_2,\ \operatorname{RMS}(\theta_{t-1})\bigr)\,\rho_t && (4)\\
       &\quad \theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1} && (5)\\
       &\quad r_t = \hat\beta_{2,t}\, r_{t-1} + (1-\hat\beta_{2,t})\operatorname{mean}_j(g_t^2),\quad
              c_t = \hat\beta_{2,t}\, c_{t-1} + (1-\hat\beta_{2,t})\operatorname{mean}_i(g_t^2)
              \quad(\dim \ge 2) && (6)\\
       &\quad \hat v_t = \frac{r_t\, c_t}{\max\bigl(\operatorname{mean}_i(r_t),\ \epsilon_1\bigr)}
              \quad(\text{外积，} \dim \ge 2) && (7)\\
       &\quad \hat v_t = v_t = \hat\beta_{2,t}\, v_{t-1} + (1-\hat\beta_{2,t})\, g_t^2\quad(\dim \le 1) && (8)\\
       &\quad u_t = \frac{g_t}{\max\bigl(\sqrt{\hat v_t},\ \epsilon_1\bigr)} && (9)\\
       &\quad \hat u_t = \frac{u_t}{\max\bigl(1,\ \operatorname{RMS}(u_t)/d\bigr)} && (10)\\
       &\quad \theta_t = \theta_{t-1} - \alpha_t\, \hat u_t && (11)
       \end{aligned}

    第 (6)(7) 行是 Adafactor 省内存的地方：:math:`n\times m` 的参数只存 :math:`n` 个行因子
    :math:`r_t`\ （状态 ``row_var``，形状 :math:`n\times 1`）和 :math:`m` 个列因子 :math:`c_t`\ （状态
    ``col_var``，形状 :math:`1\times m`），:math:`\hat v_t` 用完即弃；向量与标量参数存完整的
    :math:`v_t`\ （状态 ``variance``）。

    与论文（Shazeer & Stern, 2018，算法 4、5）的差别：

    * 论文没有学习率：相对步长是 :math:`\rho_t = \min(10^{-2}, 1/\sqrt t)`。torch 用 ``lr`` 取代常数
      :math:`10^{-2}`\ （所以默认 ``lr=1e-2`` 与论文相同），并用它做第 (5) 行的解耦权重衰减
      :math:`(1-\eta\lambda)\theta`\ ——系数是 :math:`\eta\lambda`，不是实际步长 :math:`\alpha_t\lambda`；
      :math:`\alpha_t` 按衰减 **之前** 的 :math:`\theta_{t-1}` 计算。论文没有权重衰减。
    * :math:`\epsilon_1` 的用法不同：论文把 :math:`\epsilon_1 = 10^{-30}` 加在 :math:`g_t^2` 上再求行、列因子；
      torch 不改动 :math:`r_t, c_t, v_t`，只在第 (7) 行下限截断分母、在第 (9) 行下限截断 :math:`\sqrt{\hat v_t}`，
      而且默认 :math:`\epsilon_1` 是参数 dtype 的机器精度 ``torch.finfo(dtype).eps``\ （float32 约
      :math:`1.19\times10^{-7}`，float64 约 :math:`2.2\times10^{-16}`），远大于 :math:`10^{-30}`。
      这个默认值取自每组 **第一个** 有梯度的参数的 dtype，用于整组。
    * 论文的行、列因子是平方和 :math:`(g_t^2)1_m`、:math:`1_n^\top(g_t^2)`，分母是 :math:`1_n^\top r_t`；
      torch 用平均值，代入第 (7) 行后二者相等（只差舍入）。
    * 没有一阶矩（论文的可选动量 :math:`\beta_1`）；``beta2_decay`` 就是论文的 :math:`-0.8`\ （:math:`t=1`
      时 :math:`\hat\beta_{2,1}=0`，因子直接取第一步的 :math:`g_1^2`，所以不需要偏差校正）。
    * 更新裁剪（第 (10) 行）与相对步长（第 (3)(4) 行）同论文。torch 文档写的 ``weight_decay`` 默认
      1e-2 是错的，实际默认 0。

    参数与 ``torch.optim.Adafactor``\ （torch 2.13）完全相同，默认值与参数检查也相同。torch 没有
    ``capturable``、``differentiable``、``fused`` 参数（optimlab 也没有）；``foreach`` 被接受但忽略，
    结果等于 torch 默认的单张量循环（torch 只有 ``foreach=True`` 时才用多张量实现）。不支持复数参数
    与稀疏梯度（同 torch）。

    Args:
        lr (float | Tensor): :math:`\eta`，相对步长的上限与权重衰减的系数，默认 1e-2。
        beta2_decay (float): :math:`\tau \le 0`，默认 -0.8。
        eps (tuple): :math:`(\epsilon_1, \epsilon_2)`，默认 ``(None, 1e-3)``；:math:`\epsilon_1` 为 ``None``
            时取 ``torch.finfo(dtype).eps``。
        d (float): 更新裁剪阈值 :math:`d \ge 1`，默认 1.0。
        weight_decay (float): :math:`\lambda`，默认 0。
        maximize (bool): 最大化目标函数，默认 False。
    """

    _complex_error = "Adafactor does not support complex parameters"
    _sparse_error = "Adafactor does not support sparse gradients"
    _group_setdefault = {"foreach": None}

    def __init__(self, params, lr: float | Tensor = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.Adafactor（措辞与其他优化器不同，照原样写出）。
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    def _update_group(self, group: dict[str, Any], todo: list[tuple[Tensor, dict[str, Any]]]) -> None:
        # 同 torch：ε₁ 为 None 时整组共用第一个有梯度参数的 dtype 的机器精度
        eps1 = group["eps"][0]
        if eps1 is None and todo:
            eps1 = torch.finfo(todo[0][0].dtype).eps
        for p, state in todo:
            self._update(p, p.grad, state, group, eps1=eps1)

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        grad = p.grad
        super()._init_state(p, state, group)
        if grad.dim() > 1:
            row_shape, col_shape = list(grad.shape), list(grad.shape)
            row_shape[-1] = 1
            col_shape[-2] = 1
            state["row_var"] = grad.new_zeros(row_shape)  # r：n × 1（沿最后一维约化）
            state["col_var"] = grad.new_zeros(col_shape)  # c：1 × m（沿倒数第二维约化）
        else:
            state["variance"] = torch.zeros_like(grad, memory_format=torch.preserve_format)

    def _update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any], *, eps1: float
    ) -> None:
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.Adafactor.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        eps2, d, weight_decay = group["eps"][1], group["d"], group["weight_decay"]

        grad = -grad if group["maximize"] else grad  # (1) g_t
        state["step"] += 1  # t ← t + 1
        t = value(state["step"])

        one_minus_beta2_t = t ** group["beta2_decay"]  # (2) 1 − β̂₂ = t^τ
        rho_t = min(lr, 1 / (t**0.5))  # (3) ρ_t = min(η, 1/√t)
        alpha = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * rho_t  # (4) α_t

        if weight_decay != 0:
            param.mul_(1 - lr * weight_decay)  # (5) θ ← (1 − ηλ)θ

        if grad.dim() > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            row_mean = torch.norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1))  # (6) mean_j g²
            row_var.lerp_(row_mean, one_minus_beta2_t)  # (6) r_t = β̂r + (1 − β̂)mean_j g²
            col_mean = torch.norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2))  # (6) mean_i g²
            col_var.lerp_(col_mean, one_minus_beta2_t)  # (6) c_t = β̂c + (1 − β̂)mean_i g²
            var_estimate = row_var @ col_var  # (7) r_t c_t（外积）
            var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))  # (7) / max(mean r_t, ε₁)
        else:
            variance = state["variance"]
            variance.lerp_(grad * grad, one_minus_beta2_t)  # (8) v_t = β̂v + (1 − β̂)g²
            var_estimate = variance.clone()  # (8) v̂_t = v_t（下一行原地运算，不能改动状态）

        update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_().mul_(grad)  # (9) u_t = g / max(√v̂, ε₁)
        denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))  # (10) max(1, RMS(u)/d)
        param.add_(update, alpha=-alpha / denom)  # (10)(11) θ_t = θ − α_t û_t
