"""第 4 章（AMSGrad / AdamW / NAdam）练习的自动检查。

* :func:`check_adamw_step`：读者写一步 AdamW，与 :class:`optimlab.AdamW` 比较 :math:`m_t, v_t, \\theta_t`；
* :func:`check_nadam_mu`：读者写 NAdam 的动量调度 :math:`\\mu_t`，与 :class:`optimlab.NAdam`
  状态 ``mu_product`` 中相邻两步的比值 :math:`\\Pi_t/\\Pi_{t-1}` 比较。
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..optim import AdamW, NAdam
from . import Result, call_user, check_one_step, compare, one_step_reference

__all__ = ["check_adamw_step", "check_nadam_mu", "adamw_reference", "nadam_mu_reference"]

# (θ, g, m, v, t, lr, betas, eps, λ)：第 1 步（矩为 0）与中途的一步，衰减系数取得较大以便看出差别。
_ADAMW_CASES = (
    ([1.0, -2.0, 0.5], [0.3, 0.1, -4.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], 1, 1e-2, (0.9, 0.999), 1e-8, 0.1),
    ([0.8, -1.5, 3.0, 0.0], [-0.2, 2.0, 0.05, 1.0], [0.1, 0.4, -0.3, 0.2], [0.02, 0.5, 0.09, 0.3], 5, 0.05,
     (0.8, 0.99), 1e-6, 0.5),
)

# NAdam 检查用的 (β₁, ψ) 与步数。Π_t 以 float32 保存、很快下溢，因此只比较前 30 步。
_NADAM_CASES = ((0.9, 4e-3), (0.95, 0.1))
_NADAM_STEPS = 30


#: 用 :class:`optimlab.AdamW` 从给定状态 :math:`(m_{t-1}, v_{t-1})` 做第 ``t`` 步：
#: ``adamw_reference(theta, grad, m, v, t, lr, betas, eps, weight_decay) -> (θ_t, m_t, v_t)``。
adamw_reference = one_step_reference(AdamW, ("exp_avg", "exp_avg_sq"), ("lr", "betas", "eps", "weight_decay"))


def check_adamw_step(fn: Callable[..., Any]) -> Result:
    """检查读者的 ``fn(theta, grad, m, v, t, lr, betas, eps, weight_decay) -> (theta_t, m_t, v_t)``\\ （``t`` 是本步的步数，从 1 开始），
    依次比较 :math:`m_t`、:math:`v_t`、:math:`\\theta_t`；做法见 :func:`optimlab.exercises.check_one_step`。"""
    return check_one_step(fn, _ADAMW_CASES, adamw_reference, ("θ_t", "m_t", "v_t"), "(theta_t, m_t, v_t)",
                          lambda *c: f"t={c[4]}，λ={c[8]:g}", lambda *c: f"（t={c[4]}）", "optimlab.AdamW")


def nadam_mu_reference(beta1: float, momentum_decay: float, steps: int = _NADAM_STEPS) -> torch.Tensor:
    """运行 :class:`optimlab.NAdam` ``steps`` 步，用 ``mu_product`` 的比值 :math:`\\Pi_t/\\Pi_{t-1}` 还原 :math:`\\mu_1..\\mu_T`。"""
    p = torch.zeros(1)
    opt = NAdam([p], betas=(beta1, 0.999), momentum_decay=momentum_decay)
    products = [1.0]
    for _ in range(steps):
        p.grad = torch.ones(1)
        opt.step()
        products.append(float(opt.state[p]["mu_product"]))
    prod = torch.tensor(products, dtype=torch.float64)
    return prod[1:] / prod[:-1]


def check_nadam_mu(fn: Callable[..., Any]) -> Result:
    """检查读者的 ``fn(t, beta1, psi) -> μ_t``\\ （``t`` 从 1 开始）。

    与 :class:`optimlab.NAdam` 实际使用的 :math:`\\mu_t`\\ （由状态 ``mu_product`` 还原，float32 精度，
    相对误差容限 1e-5）比较，报告第一个不一致的步数。从不抛出异常。
    """
    for beta1, psi in _NADAM_CASES:
        expected = nadam_mu_reference(beta1, psi)
        for t in range(1, len(expected) + 1):
            got, err = call_user(fn, t, beta1, psi)
            if err is not None:
                return err
            r = compare(f"μ_{t}", got, expected[t - 1], rtol=1e-5, atol=0.0)
            if not r.ok:
                return Result(False, f"β₁={beta1:g}，ψ={psi:g}，t={t}：{r.message}")
    return Result(True, f"前 {_NADAM_STEPS} 步的 μ_t 与 optimlab.NAdam 一致（β₁, ψ 取了 {len(_NADAM_CASES)} 组）")
