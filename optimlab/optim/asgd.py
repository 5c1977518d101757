"""ASGD：平均随机梯度下降（Polyak & Juditsky, 1992；调度与 t0 取自 Bottou, 2012）。"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import (
    BaseOptimizer, as_scalar, check_nonnegative, check_tensor_lr, real_view, scalar_dtype, value,
    zero_buffers,
)

__all__ = ["ASGD"]


class ASGD(BaseOptimizer):
    r"""ASGD：在 SGD 的迭代点之外维护它们的（从 :math:`t_0` 起的）算术平均。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应。
    :math:`\kappa` 是 torch 的 ``lambd``\ （Bottou 文中的正则系数 :math:`\lambda`；这里的 :math:`\lambda`
    仍是 ``weight_decay``），:math:`\eta_t`、:math:`\mu_t`、:math:`\bar\theta_t` 分别存在状态
    ``eta``、``mu``、``ax`` 中。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \kappa\ (\texttt{lambd}),\ \alpha\ (\texttt{alpha}),
        \ t_0\ (\texttt{t0}),\ \lambda\ (\texttt{weight\_decay}),\ \theta_0;
        \quad \eta_1 = \eta,\ \mu_1 = 1,\ \bar\theta_0 = 0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1})\quad(\texttt{maximize} \text{ 时取 } -\nabla_\theta f_t)
         && (1)\\
       &\quad g_t \leftarrow g_t + \lambda\,\theta_{t-1} && (2)\\
       &\quad \theta_t = (1 - \kappa\,\eta_t)\,\theta_{t-1} - \eta_t\, g_t && (3)\\
       &\quad \bar\theta_t = \bar\theta_{t-1} + \mu_t\,(\theta_t - \bar\theta_{t-1})
         \quad(\mu_t = 1 \text{ 时直接 } \bar\theta_t = \theta_t) && (4)\\
       &\quad \eta_{t+1} = \frac{\eta}{(1 + \kappa\,\eta\, t)^{\alpha}} && (5)\\
       &\quad \mu_{t+1} = \frac{1}{\max(1,\ t - t_0)} && (6)
       \end{aligned}

    与论文的差别：

    * Polyak & Juditsky 从第一步起对全部迭代点取平均 :math:`\bar\theta_t = \frac1t\sum_{i\le t}\theta_i`；
      torch 采用 Bottou (2012) 的做法，:math:`t_0` 步之后才开始平均。由于第 (6) 行在第 :math:`t`
      步末尾算出的是 **下一步** 的 :math:`\mu`，整数 :math:`t_0 \ge 0` 时
      :math:`\bar\theta_t = \frac{1}{t-t_0-1}\sum_{i=t_0+2}^{t}\theta_i`\ （例如 :math:`t_0 = 0`
      时平均从 :math:`\theta_2` 开始，不含 :math:`\theta_1`）；在此之前 :math:`\bar\theta_t = \theta_t`。
      默认 :math:`t_0 = 10^6`，一般的训练根本走不到平均开始的那一步。
    * 平均值 :math:`\bar\theta_t` 只保存在状态 ``ax`` 中，**从不写回参数**；要用平均后的模型，
      需要自己把 ``state[p]["ax"]`` 拷进参数。
    * 第 (3) 行的 :math:`\kappa` 即使在 ``weight_decay=0`` 时也每步把参数收缩 :math:`1-\kappa\eta_t`
      （默认 :math:`\kappa = 10^{-4}`）；它与 ``weight_decay`` 是两项独立的衰减。
    * 步长按 :math:`\eta_t = \eta\,(1 + \kappa\eta\,(t-1))^{-\alpha}` 递减（Bottou 取 :math:`\alpha = 0.75`），
      同样是上一步末尾算好的：学习率调度器改动 ``lr`` 之后，要晚一步才生效。
    * :math:`\eta_t`、:math:`\mu_t` 存为 float32 的 0 维张量（默认 dtype 为 float64 时是 float64），:math:`\eta_t` 在更新时
      用 ``.item()`` 取值，所以即便参数是 float64，实际步长也是舍入到 float32 的 :math:`\eta_t`\ （第一步就是
      float32 的 ``lr``），平均的权重 :math:`\mu_t = 1/k` 也是舍入过的（:math:`\bar\theta_t` 与真正的算术平均
      差一个舍入误差）。``load_state_dict`` 会把它们转换成参数的 dtype，所以载入之后继续训练与不中断的
      训练在最后几位上可以不同（torch 自己也是如此）。

    参数与 ``torch.optim.ASGD``\ （torch 2.13）完全相同：``lr`` 默认 1e-2；torch 只检查 ``lr`` 与
    ``weight_decay``，不检查 ``lambd``、``alpha``、``t0``。``foreach`` 被接受但忽略；``capturable``、
    ``differentiable`` 为 ``True`` 时抛出 ``NotImplementedError``。

    Args:
        lr (float | Tensor): 初始学习率 :math:`\eta`，默认 1e-2。
        lambd (float): 衰减项 :math:`\kappa`，默认 1e-4。
        alpha (float): 步长衰减的幂 :math:`\alpha`，默认 0.75。
        t0 (float): 开始平均的步数 :math:`t_0`，默认 1e6。
        weight_decay (float): L2 系数 :math:`\lambda`，默认 0。
        maximize (bool): 最大化目标函数，默认 False。
    """

    _sparse_error = "ASGD does not support sparse gradients"
    _scalar_state = {}  # step、eta、mu 放在参数所在的设备上（同 torch），由下面的 _init_state 与 __setstate__ 处理

    def __init__(self, params, lr: float | Tensor = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.ASGD。
        check_tensor_lr(lr)
        check_nonnegative(lr=lr, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for p in group["params"]:
                p_state = self.state.get(p, {})
                for key in ("step", "eta", "mu"):
                    if key in p_state and not torch.is_tensor(p_state[key]):
                        p_state[key] = torch.tensor(float(p_state[key]), dtype=scalar_dtype(), device=p.device)

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = torch.zeros((), device=p.device, dtype=scalar_dtype())
        state["eta"] = torch.as_tensor(as_scalar(group["lr"]), device=p.device, dtype=scalar_dtype()).clone().detach()
        state["mu"] = torch.ones((), device=p.device, dtype=scalar_dtype())
        zero_buffers(p, state, "ax")

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # 浏览器版本：optimlab/optim/rules.mjs 的 RULES.ASGD.update，同编号的行一一对应（tests/test_browser_math.py 核对）
        lr = as_scalar(group["lr"])
        lambd, alpha, t0, weight_decay = group["lambd"], group["alpha"], group["t0"], group["weight_decay"]
        eta, mu = state["eta"], state["mu"]

        grad = -grad if group["maximize"] else grad  # (1) g_t
        param, grad, ax = real_view(param, grad, state["ax"])
        state["step"] += 1  # t ← t + 1
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)  # (2) g_t ← g_t + λθ

        eta_value = value(eta)  # η_t（上一步末尾算好的，float32 精度）
        param.mul_(1 - lambd * eta_value)  # (3) θ ← (1 − κη_t)θ
        param.add_(grad, alpha=-eta_value)  # (3) θ_t = θ − η_t g_t

        if value(mu) != 1:
            ax.add_(param.sub(ax).mul_(mu))  # (4) θ̄_t = θ̄ + μ_t(θ_t − θ̄)
        else:
            ax.copy_(param)  # (4) μ_t = 1：θ̄_t = θ_t

        t = value(state["step"])
        eta.copy_(torch.as_tensor(lr / ((1 + lambd * lr * t) ** alpha)))  # (5) η_{t+1} = η/(1 + κηt)^α
        mu.copy_(torch.as_tensor(1 / max(1, t - t0)))  # (6) μ_{t+1} = 1/max(1, t − t₀)
