"""第 3 章《偏差校正》：不做偏差校正的 Adam（对照用），以及练习检查。"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..optim import Adam
from ..optim.base import BaseOptimizer, scalar_dtype, value
from . import Result, call_user, compare

__all__ = ["AdamNoBiasCorrection", "reference_moments", "check_bias_corrected_moments"]


class AdamNoBiasCorrection(BaseOptimizer):
    r"""可以关掉偏差校正的 Adam，只用于书中的对照实验（不是 optimlab 的正式优化器）。

    ``correct_first`` / ``correct_second`` 分别决定是否用 :math:`1-\beta_1^t`、:math:`1-\beta_2^t` 校正
    :math:`m_t`、:math:`v_t`；两者都为 ``True`` 时与 :class:`optimlab.Adam`\ （无权重衰减）逐位一致，
    都为 ``False`` 时更新是 :math:`\theta_t = \theta_{t-1} - \eta\, m_t/(\sqrt{v_t}+\epsilon)`。
    运算顺序与 :meth:`optimlab.Adam._update` 相同。
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 correct_first: bool = False, correct_second: bool = False) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps,
                    "correct_first": correct_first, "correct_second": correct_second}
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = torch.tensor(0.0, dtype=scalar_dtype())
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        t = value(state["step"])
        exp_avg.lerp_(grad, 1 - beta1)  # m_t
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # v_t
        bias_correction1 = 1 - beta1**t if group["correct_first"] else 1.0
        bias_correction2 = 1 - beta2**t if group["correct_second"] else 1.0
        denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(group["eps"])
        param.addcdiv_(exp_avg, denom, value=-group["lr"] / bias_correction1)


def reference_moments(grads: Tensor, beta1: float, beta2: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""把梯度序列 ``grads``\ （形状 ``(T, n)``）逐步喂给 :class:`optimlab.Adam`，读出它的状态。

    Returns:
        ``(m, v, m_hat, v_hat)``，形状都是 ``(T, n)``：第 ``t-1`` 行是第 ``t`` 步之后的
        ``exp_avg``、``exp_avg_sq`` 及其偏差校正 :math:`m_t/(1-\beta_1^t)`、:math:`v_t/(1-\beta_2^t)`。
    """
    grads = torch.as_tensor(grads)
    p = torch.zeros(grads.shape[1:], dtype=grads.dtype, requires_grad=True)
    opt = Adam([p], lr=0.0, betas=(beta1, beta2))  # lr=0：只更新状态，不动参数
    ms, vs = [], []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        ms.append(opt.state[p]["exp_avg"].clone())
        vs.append(opt.state[p]["exp_avg_sq"].clone())
    m, v = torch.stack(ms), torch.stack(vs)
    t = torch.arange(1, len(grads) + 1, dtype=grads.dtype).reshape(-1, *([1] * (grads.dim() - 1)))
    return m, v, m / (1 - beta1**t), v / (1 - beta2**t)


#: 检查所用的 (β₁, β₂)：默认值，以及一组较小的值（校正更快消失，便于发现 t 的差一错误）。
BIAS_CHECK_BETAS: tuple[tuple[float, float], ...] = ((0.9, 0.999), (0.5, 0.9))


def check_bias_corrected_moments(fn: Callable[..., Any], steps: int = 8, seed: int = 0) -> Result:
    r"""检查读者计算的偏差校正矩估计。

    ``fn(grads, beta1, beta2)`` 收到形状 ``(T, n)`` 的梯度序列 :math:`g_1, \dots, g_T`\ （float64），
    应返回 ``(m_hat, v_hat)``，形状都是 ``(T, n)``，第 ``t-1`` 行是 :math:`\hat m_t`、:math:`\hat v_t`。
    标准答案取自 :class:`optimlab.Adam` 的状态（见 :func:`reference_moments`）。从不抛出异常。
    """
    gen = torch.Generator().manual_seed(seed)
    grads = 1.0 + torch.randn(steps, 3, generator=gen, dtype=torch.float64)
    for beta1, beta2 in BIAS_CHECK_BETAS:
        m, v, m_hat, v_hat = reference_moments(grads, beta1, beta2)
        out, err = call_user(fn, grads.clone(), beta1, beta2)
        if err is not None:
            return err
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            return Result(False, "函数应返回两个值 (m_hat, v_hat)，实际返回了 " + type(out).__name__)
        for label, got, expected, raw in (("m̂", out[0], m_hat, m), ("v̂", out[1], v_hat, v)):
            r = compare(label, got, expected, rtol=1e-9, atol=1e-12)
            if r.ok:
                continue
            if compare(label, got, raw, rtol=1e-9, atol=1e-12).ok:
                hint = "。你返回的是未校正的矩估计，还要除以 1 − βᵗ"
            elif "第一个不一致的元素" in r.message:
                bad = ~torch.isclose(torch.as_tensor(got, dtype=expected.dtype), expected, rtol=1e-9, atol=1e-12)
                hint = f"。第一个出错的是第 t={int(torch.nonzero(bad)[0][0]) + 1} 步（第 t 步在第 t−1 行）"
            else:
                hint = ""
            return Result(False, f"β₁={beta1:g}, β₂={beta2:g} 时，{r.message}{hint}")
    return Result(True, f"{len(BIAS_CHECK_BETAS)} 组 (β₁, β₂) × {steps} 步，m̂_t、v̂_t 都与 optimlab.Adam 的状态一致")
