"""Adagrad（Duchi, Hazan & Singer, 2011）。"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import BaseOptimizer, as_scalar, check_nonnegative, check_tensor_lr, real_view, value

__all__ = ["Adagrad"]


def _sparse_like(grad: Tensor, values: Tensor) -> Tensor:
    """与稀疏梯度 ``grad`` 同索引、同形状、取值为 ``values`` 的稀疏张量。"""
    return torch.sparse_coo_tensor(grad._indices(), values, grad.size())


class Adagrad(BaseOptimizer):
    r"""Adagrad：用历史梯度平方和为每个坐标缩放步长。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \delta\ (\texttt{lr\_decay}),\ \lambda\ (\texttt{weight\_decay}),
        \ s_0\ (\texttt{initial\_accumulator\_value}),\ \epsilon\ (\texttt{eps}),\ \theta_0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad g_t \leftarrow g_t + \lambda\,\theta_{t-1} && (2)\\
       &\quad \tilde\eta_t = \frac{\eta}{1 + (t-1)\,\delta} && (3)\\
       &\quad s_t = s_{t-1} + g_t^2 && (4)\\
       &\quad \theta_t = \theta_{t-1} - \tilde\eta_t\,\frac{g_t}{\sqrt{s_t}+\epsilon} && (5)
       \end{aligned}

    稀疏梯度只更新出现的坐标（第 (4)(5) 行只作用于梯度的非零索引）；此时 ``weight_decay``
    必须为 0（同 torch）。状态 ``sum`` 在构造时就为每个参数创建（同 torch）；之后用
    ``add_param_group`` 加入的参数在第一次更新时创建，初值取构造时的 ``initial_accumulator_value``。

    参数与 ``torch.optim.Adagrad``\ （torch 2.13）完全相同：``lr`` 默认 1e-2，``eps`` 默认 1e-10。
    """

    _group_setdefault = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}

    def __init__(self, params, lr: float | Tensor = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.Adagrad。
        check_tensor_lr(lr)
        check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                          initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))
        # 状态在构造时就建好（同 torch），不等第一次更新
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], group)

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        super()._init_state(p, state, group)
        init = self.defaults["initial_accumulator_value"]
        state["sum"] = torch.full_like(
            p, complex(init, init) if torch.is_complex(p) else init, memory_format=torch.preserve_format
        )

    def share_memory(self) -> None:
        """对每个状态 ``sum`` 调用 ``share_memory_()``\\ （多进程共享，同 torch）。"""
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"].share_memory_()

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 批量版本：optimlab.sweep._adagrad，同编号的行一一对应（tests/test_sweep.py 逐位核对）
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.Adagrad.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        weight_decay, eps = group["weight_decay"], group["eps"]
        state_sum = state["sum"]

        state["step"] += 1  # t ← t + 1
        t = value(state["step"])
        grad = -grad if group["maximize"] else grad  # (1) g_t

        if weight_decay != 0:
            if grad.is_sparse:
                raise RuntimeError("weight_decay option is not compatible with sparse gradients")
            grad = grad.add(param, alpha=weight_decay)  # (2) g_t ← g_t + λθ

        clr = lr / (1 + (t - 1) * group["lr_decay"])  # (3) η̃_t

        if grad.is_sparse:
            grad = grad.coalesce()  # 更新是非线性的，索引必须唯一
            grad_values = grad._values()
            state_sum.add_(_sparse_like(grad, grad_values.pow(2)))  # 稀疏：(4) s_t = s + g²（仅非零坐标）
            std_values = state_sum.sparse_mask(grad)._values().sqrt_().add_(eps)  # 稀疏：(5) √s_t + ε
            param.add_(_sparse_like(grad, grad_values / std_values), alpha=-clr)  # 稀疏：(5)
        else:
            param, grad, state_sum = real_view(param, grad, state_sum)
            state_sum.addcmul_(grad, grad, value=1)  # (4) s_t = s + g²
            std = state_sum.sqrt().add_(eps)  # (5) √s_t + ε
            param.addcdiv_(grad, std, value=-clr)  # (5) θ_t = θ − η̃ g/(√s_t + ε)
