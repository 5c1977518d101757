"""SparseAdam：只更新稀疏梯度出现的行的"惰性"Adam（Kingma & Ba, 2015 的掩码版本，torch 的实现）。"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .base import BaseOptimizer, as_scalar, check_betas, check_tensor_lr

__all__ = ["SparseAdam"]


def _sparse_like(grad: Tensor, values: Tensor) -> Tensor:
    """与稀疏梯度 ``grad`` 同索引、同形状、取值为 ``values`` 的稀疏张量。"""
    return torch.sparse_coo_tensor(grad._indices(), values, grad.size())


class SparseAdam(BaseOptimizer):
    r"""SparseAdam：梯度是稀疏张量（如 ``nn.Embedding(sparse=True)``）时的 Adam，只碰出现的坐标。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。:math:`I_t` 是第
    :math:`t` 步稀疏梯度中出现的坐标（合并重复索引之后），下标 :math:`I_t` 表示只取这些坐标；
    不在 :math:`I_t` 中的坐标，:math:`m`、:math:`v`、:math:`\theta` 都原样保留。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \beta_1, \beta_2\ (\texttt{betas}),\ \epsilon\ (\texttt{eps}),
        \ \theta_0;\quad m_0 = v_0 = 0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         \text{，重复索引先相加} && (1)\\
       &\quad m_{t,I_t} = m_{t-1,I_t} + (1-\beta_1)\,(g_{t,I_t} - m_{t-1,I_t}) && (2)\\
       &\quad v_{t,I_t} = v_{t-1,I_t} + (1-\beta_2)\,(g_{t,I_t}^2 - v_{t-1,I_t}) && (3)\\
       &\quad \eta_t = \eta\,\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t} && (4)\\
       &\quad \theta_{t,I_t} = \theta_{t-1,I_t} - \eta_t\,\frac{m_{t,I_t}}{\sqrt{v_{t,I_t}} + \epsilon} && (5)
       \end{aligned}

    与 Adam（论文与 ``torch.optim.Adam``）的差别：

    * **惰性**：不出现的坐标，其 :math:`m`、:math:`v` 不衰减；但偏差校正用的 :math:`t` 是这个参数张量
      ``step()`` 的次数，而不是某一行出现的次数。第一次出现在第 :math:`t` 步的行，
      :math:`m = (1-\beta_1)g`、:math:`v = (1-\beta_2)g^2`，它的第一步是
      :math:`\eta\,\frac{1-\beta_1}{1-\beta_1^t}\sqrt{\frac{1-\beta_2^t}{1-\beta_2}}`，而不是 Adam 第一步的
      :math:`\eta`：默认 betas 下 :math:`t = 50` 时约 :math:`0.7\eta`，:math:`t \gg 1/(1-\beta_2)` 时趋于
      :math:`\eta\,(1-\beta_1)/\sqrt{1-\beta_2} \approx 3.16\,\eta`。
    * :math:`\epsilon` 加在未校正的 :math:`\sqrt{v_t}` 上，偏差校正并进步长 :math:`\eta_t`\ （论文第 2 节
      "更高效"的写法）；``torch.optim.Adam`` 把 :math:`\epsilon` 加在 :math:`\sqrt{\hat v_t}` 上。所以即使
      每一步所有坐标都出现，SparseAdam 与 Adam 也不逐位相同。
    * 稀疏梯度没有非零值（``nnz = 0``）时跳过更新，但 :math:`t` 照样加 1。
    * 状态 ``step`` 是 Python 整数，不是张量（torch 其他优化器都用张量）。
    * 只接受稀疏梯度（稠密梯度报错，请用 Adam）；参数本身必须是稠密的实数张量。``lr`` 与 ``eps``
      必须 **严格** 大于 0（Adam 允许 0）。没有 ``weight_decay``、``amsgrad`` 与
      ``foreach`` / ``fused`` 等开关（同 torch，传入它们会得到 ``TypeError``）。

    参数与 ``torch.optim.SparseAdam``\ （torch 2.13）完全相同。

    Args:
        lr (float | Tensor): 学习率 :math:`\eta`，默认 1e-3。
        betas (tuple): :math:`(\beta_1, \beta_2)`，默认 (0.9, 0.999)。
        eps (float): :math:`\epsilon`，默认 1e-8。
        maximize (bool): 最大化目标函数，默认 False。
    """

    _scalar_state = {}  # step 是 Python 整数（同 torch），载入时不转换成张量；见 _init_state
    _buffers = ("exp_avg", "exp_avg_sq")
    _group_setdefault = {}  # torch 的 SparseAdam 载入旧状态时不补任何键

    def __init__(self, params, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.SparseAdam（学习率与 ε 必须严格为正）。
        check_tensor_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

        # 参数本身必须是稠密的实数张量：先报告所有稀疏参数，再报告所有复数参数（同 torch）
        sparse_params, complex_params = [], []
        for index, group in enumerate(self.param_groups):
            for d_index, d_param in enumerate(group["params"]):
                if d_param.is_sparse:
                    sparse_params.append([index, d_index])
                if d_param.is_complex():
                    complex_params.append([index, d_index])
        if sparse_params:
            raise ValueError(
                f"Sparse params at indices {sparse_params}: SparseAdam requires dense parameter tensors"
            )
        if complex_params:
            raise ValueError(
                f"Complex params at indices {complex_params}: SparseAdam does not support complex parameters"
            )

    def _check_param(self, p: Tensor) -> None:
        # 与其他优化器相反（同 torch）：只接受稀疏梯度
        if not p.grad.is_sparse:
            raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = 0
        super()._init_state(p, state, group)

    def _prepare(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 同 torch：t 在检查整组时就加 1，早于本组的任何更新
        state["step"] += 1  # t ← t + 1

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr = as_scalar(group["lr"])
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq, t = state["exp_avg"], state["exp_avg_sq"], state["step"]

        grad = -grad if group.get("maximize", False) else grad  # (1) g_t
        grad = grad.coalesce()  # (1) 重复索引相加：更新是非线性的，索引必须唯一
        grad_values = grad._values()
        if grad_values.numel() == 0:
            return  # 没有出现任何坐标：跳过（t 已经加 1）

        old_exp_avg_values = exp_avg.sparse_mask(grad)._values()  # m_{t−1,I}
        exp_avg_update_values = grad_values.sub(old_exp_avg_values).mul_(1 - beta1)  # (2) (1 − β₁)(g − m)
        exp_avg.add_(_sparse_like(grad, exp_avg_update_values))  # (2) m_{t,I}
        old_exp_avg_sq_values = exp_avg_sq.sparse_mask(grad)._values()  # v_{t−1,I}
        exp_avg_sq_update_values = grad_values.pow(2).sub_(old_exp_avg_sq_values).mul_(1 - beta2)  # (3)
        exp_avg_sq.add_(_sparse_like(grad, exp_avg_sq_update_values))  # (3) v_{t,I}

        # 稠密的取值向量上再加一次，得到 m_{t,I}、v_{t,I}（省去又一次 sparse_mask）
        numer = exp_avg_update_values.add_(old_exp_avg_values)  # (2) m_{t,I}
        denom = exp_avg_sq_update_values.add_(old_exp_avg_sq_values).sqrt_().add_(group["eps"])  # (5) √v + ε

        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1  # (4) η_t
        param.add_(_sparse_like(grad, -step_size * numer.div_(denom)))  # (5) θ_{t,I} −= η_t m/(√v + ε)
