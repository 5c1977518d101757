"""第 7 章《总结》的练习检查：读者手写一步 RMSprop，与 :class:`optimlab.RMSprop` 逐步比较。"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..optim import RMSprop
from . import Result, call_user, compare, noisy_steps

__all__ = ["check_rmsprop_step", "RMSPROP_STEP_CONFIGS"]

#: 检查所用的两组超参数；第二组的 ε 较大，使 "ε 加在哪里" 的差别看得出来。
RMSPROP_STEP_CONFIGS: tuple[dict[str, Any], ...] = (
    {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8},
    {"lr": 0.1, "alpha": 0.9, "eps": 1e-2},
)

_HINTS = {
    "v_t": "提示：v_t = α·v_{t−1} + (1 − α)·g_t²（逐元素平方）",
    "θ_t": "提示：θ_t = θ_{t−1} − η·g_t / (√v_t + ε)：ε 加在开方之后，RMSprop 没有偏差校正",
}


def check_rmsprop_step(fn: Callable[..., Any], steps: int = 5, seed: int = 0) -> Result:
    """检查读者写的一步 RMSprop（无动量、非 centered、无权重衰减）。

    ``fn(theta, grad, v, lr, alpha, eps)`` 收到 :math:`\\theta_{t-1}, g_t, v_{t-1}`\\ （float64 张量的副本）
    和超参数，应返回 ``(theta_t, v_t)``。两组超参数各比较 ``steps`` 步，每一步都从标准答案的状态出发，
    报告第一个出错的步骤与元素。从不抛出异常。
    """
    for k, cfg in enumerate(RMSPROP_STEP_CONFIGS, start=1):
        v = torch.zeros(4, dtype=torch.float64)
        for t, theta, grad, p, opt in noisy_steps(lambda params, cfg=cfg: RMSprop(params, **cfg), steps, seed + k):
            e_theta, e_v = p.detach().clone(), opt.state[p]["square_avg"].clone()
            out, err = call_user(fn, theta.clone(), grad.clone(), v.clone(), **cfg)
            if err is not None:
                return err
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                return Result(False, "函数应返回两个值 (theta_t, v_t)，实际返回了 " + type(out).__name__)
            where = f"超参数组 {k}（lr={cfg['lr']:g}, α={cfg['alpha']:g}, ε={cfg['eps']:g}）第 t={t} 步"
            for label, got, expected in (("v_t", out[1], e_v), ("θ_t", out[0], e_theta)):
                r = compare(label, got, expected, rtol=1e-6, atol=1e-12)
                if not r.ok:
                    return Result(False, f"{where}，{r.message}。{_HINTS[label]}")
            v = e_v
    return Result(True, f"{len(RMSPROP_STEP_CONFIGS)} 组超参数 × {steps} 步，θ_t、v_t 都与 optimlab.RMSprop 一致")
