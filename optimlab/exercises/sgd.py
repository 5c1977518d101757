"""第 1 章（SGD）练习的自动检查。

读者实现一步带动量、阻尼、Nesterov 与 L2 权重衰减的 SGD：

.. code-block:: python

   def sgd_step(theta, grad, buf, t, lr, momentum=0.0, dampening=0.0,
                weight_decay=0.0, nesterov=False):
       ...
       return new_theta, new_buf

``theta``、``grad`` 是第 :math:`t` 步的参数 :math:`\\theta_{t-1}` 与梯度 :math:`g_t`\\ （未加权重衰减），
``buf`` 是上一步的动量缓冲 :math:`b_{t-1}`\\ （:math:`t = 1` 时为 ``None``），``t`` 从 1 开始。
返回 :math:`(\\theta_t, b_t)`；``momentum == 0`` 时 :math:`b_t` 可以是任何值（不检查）。
:func:`check_sgd_step` 用 :class:`optimlab.SGD` 算出标准答案并逐步比较。
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..optim import SGD
from . import Result, call_user, compare, summarize

__all__ = ["SGD_CASES", "check_sgd_step", "reference_steps"]

#: 检查用到的超参数组合：从最简单的到全部打开。
SGD_CASES: tuple[dict[str, Any], ...] = (
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1},
    {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.2, "nesterov": True},
)

# 一个三维二次函数 f(θ) = ½ θᵀAθ − cᵀθ 提供梯度：梯度随 θ 变化，因此每一步的输入都不同。
_A = torch.tensor([[3.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 2.0]], dtype=torch.float64)
_C = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
_THETA0 = torch.tensor([1.5, -0.5, 2.0], dtype=torch.float64)


def _grad(theta: torch.Tensor) -> torch.Tensor:
    return _A @ theta - _C


def reference_steps(steps: int = 3, **hparams: Any) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None,
                                                                   torch.Tensor, torch.Tensor | None]]:
    """用 :class:`optimlab.SGD` 跑 ``steps`` 步，返回每一步的 ``(θ_{t-1}, g_t, b_{t-1}, θ_t, b_t)``。

    没有动量时缓冲为 ``None``。
    """
    theta = _THETA0.clone().requires_grad_(True)
    opt = SGD([theta], **hparams)
    out = []
    buf_prev = None
    for _ in range(steps):
        before = theta.detach().clone()
        grad = _grad(before)
        theta.grad = grad.clone()
        opt.step()
        buf = opt.state[theta].get("momentum_buffer") if theta in opt.state else None
        buf = None if buf is None else buf.detach().clone()
        out.append((before, grad, buf_prev, theta.detach().clone(), buf))
        buf_prev = buf
    return out


def _describe(hparams: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in hparams.items())


def _unpack(ret: Any) -> tuple[Any, Any, Result | None]:
    if isinstance(ret, (tuple, list)) and len(ret) == 2:
        return ret[0], ret[1], None
    return None, None, Result(False, "函数应返回两个值 (new_theta, new_buf)")


def check_sgd_step(fn: Callable[..., Any], steps: int = 3) -> Result:
    """检查读者的 ``fn(theta, grad, buf, t, lr, momentum, dampening, weight_decay, nesterov)``。

    对 :data:`SGD_CASES` 中的每组超参数跑 ``steps`` 步，每一步都把 **标准答案** 的
    :math:`\\theta_{t-1}, g_t, b_{t-1}` 交给读者的函数（因此错误会定位到第一次出错的那一步），
    比较返回的 :math:`\\theta_t` 和（有动量时）:math:`b_t`。从不抛出异常。
    """
    results = []
    for hparams in SGD_CASES:
        case = _describe(hparams)
        for t, (theta, grad, buf_prev, theta_new, buf_new) in enumerate(reference_steps(steps, **hparams), start=1):
            args = (theta.clone(), grad.clone(), None if buf_prev is None else buf_prev.clone(), t)
            ret, err = call_user(fn, *args, **hparams)
            if err is not None:
                return err
            got_theta, got_buf, err = _unpack(ret)
            if err is not None:
                return err
            where = f"[{case}] 第 {t} 步"
            r = compare("θ_t", got_theta, theta_new)
            if r.ok and buf_new is not None:
                r = compare("b_t", got_buf, buf_new)
            if not r.ok:
                return Result(False, f"{where}：{r.message}")
        results.append(Result(True, case))
    total = summarize(results)
    if total.ok:
        return Result(True, f"{len(SGD_CASES)} 组超参数、每组 {steps} 步，θ_t 与 b_t 都与 optimlab.SGD 一致")
    return total
