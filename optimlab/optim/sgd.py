"""随机梯度下降：动量（Polyak, 1964）、Nesterov 动量（Nesterov, 1983；Sutskever et al., 2013）。"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .base import BaseOptimizer, as_scalar, check_tensor_lr

__all__ = ["SGD"]


class SGD(BaseOptimizer):
    r"""随机梯度下降（可选动量、阻尼、Nesterov 与 L2 权重衰减）。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \mu\ (\texttt{momentum}),\ \tau\ (\texttt{dampening}),
        \ \lambda\ (\texttt{weight\_decay}),\ \theta_0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad g_t \leftarrow g_t + \lambda\,\theta_{t-1} && (2)\\
       &\quad b_t = \begin{cases} g_t & t = 1 \\ \mu\, b_{t-1} + (1-\tau)\, g_t & t > 1 \end{cases}
         && (3)\\
       &\quad d_t = \begin{cases} g_t + \mu\, b_t & \texttt{nesterov} \\ b_t & \text{否则} \end{cases}
         \quad(\mu = 0 \text{ 时 } d_t = g_t) && (4)\\
       &\quad \theta_t = \theta_{t-1} - \eta\, d_t && (5)
       \end{aligned}

    与论文和常见写法的差别：

    * 第一步的动量缓冲直接取 :math:`b_1 = g_1`，**不乘** :math:`1-\tau`\ （阻尼从第二步才起作用）。
    * 常见写法 :math:`v_t = \gamma v_{t-1} + \eta g_t,\ \theta_t = \theta_{t-1} - v_t`
      （Ruder, 2016 的记法；Sutskever et al., 2013 写作
      :math:`v_{t+1} = \mu v_t - \varepsilon\nabla f(\theta_t),\ \theta_{t+1} = \theta_t + v_{t+1}`）
      把学习率放在缓冲里；torch 把它放在缓冲外。学习率不变时两者等价
      （:math:`v_t = \eta b_t`），学习率随调度变化时不等价。
    * Nesterov 用的是 Sutskever 等人的改写形式 :math:`g_t + \mu b_t`，不在"前瞻点"重新求梯度。
    * ``weight_decay`` 是加在梯度上的 L2 正则 :math:`\tfrac{\lambda}{2}\lVert\theta\rVert^2`
      的梯度 :math:`\lambda\theta`，它也会进入动量缓冲。

    参数与 ``torch.optim.SGD``\ （torch 2.13）完全相同：``lr`` 默认 1e-3（旧版本 torch 中 ``lr`` 是必填参数，
    许多资料写的"默认 0.01"并不成立）。``foreach`` 被接受但忽略；``fused``、``differentiable``
    为 ``True`` 时抛出 ``NotImplementedError``。支持稀疏梯度（同 torch）。

    Args:
        lr (float | Tensor): 学习率 :math:`\eta`，默认 1e-3。
        momentum (float): 动量因子 :math:`\mu`，默认 0。
        dampening (float): 阻尼 :math:`\tau`，默认 0。
        weight_decay (float | Tensor): L2 系数 :math:`\lambda`，默认 0。
        nesterov (bool): 是否使用 Nesterov 动量，默认 False。
        maximize (bool): 最大化目标函数，默认 False。
    """

    _scalar_state = {}  # 没有 step；动量缓冲在第一次更新时由梯度本身创建，见 _update 的 (3)
    _group_setdefault = {"nesterov": False, "maximize": False, "foreach": None, "differentiable": False, "fused": False}

    def __init__(self, params, lr: float | Tensor = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float | Tensor = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.SGD（这里是 ``x < 0.0``，NaN 能通过，不同于 check_nonnegative）。
        check_tensor_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _uses_state(self, group: dict[str, Any]) -> bool:
        # 没有动量时 SGD 不保存任何状态（state_dict 的 state 为空，同 torch）
        return group["momentum"] != 0

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any] | None, group: dict[str, Any]) -> None:
        # 批量版本：optimlab.sweep._sgd，同编号的行一一对应（tests/test_sweep.py 逐位核对）
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.SGD.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        weight_decay, momentum = group["weight_decay"], group["momentum"]

        grad = -grad if group["maximize"] else grad  # (1) g_t
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)  # (2) g_t ← g_t + λθ

        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = grad.detach().clone()  # (3) b_1 = g_1
                state["momentum_buffer"] = buf
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])  # (3) b_t = μb + (1 − τ)g
            if group["nesterov"]:
                grad = grad.add(buf, alpha=momentum)  # (4) d_t = g_t + μb_t
            else:
                grad = buf  # (4) d_t = b_t

        if isinstance(lr, Tensor) and lr.requires_grad:
            param.addcmul_(grad, lr, value=-1)  # (5) θ_t = θ − η d_t（η 为需要梯度的张量）
        else:
            param.add_(grad, alpha=-lr)  # (5) θ_t = θ − η d_t
