"""第 2 章《Adam》的练习检查：读者手写一步 Adam，与 :class:`optimlab.Adam` 逐步比较。"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from ..optim import Adam
from . import Result, call_user, compare, noisy_steps

__all__ = ["check_adam_step", "ADAM_STEP_CONFIGS"]

#: 检查所用的两组超参数：默认值，以及一组较大的 ε，使 "ε 放在哪里" 的差别看得出来。
ADAM_STEP_CONFIGS: tuple[dict[str, Any], ...] = (
    {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    {"lr": 0.1, "beta1": 0.8, "beta2": 0.99, "eps": 1e-2},
)

_HINTS = {
    "m_t": "提示：m_t = β₁·m_{t−1} + (1 − β₁)·g_t",
    "v_t": "提示：v_t = β₂·v_{t−1} + (1 − β₂)·g_t²（逐元素平方）",
    "θ_t": "提示：m_t、v_t 都对，检查偏差校正 1 − βᵗ 中的 t，以及 ε 是否加在 √v̂_t 之后",
}


def _cases(steps: int, seed: int) -> Iterator[tuple[int, dict[str, Any], int, tuple[Tensor, ...], tuple[Tensor, ...]]]:
    """逐步产生 ``(配置序号, 超参数, t, (θ_{t−1}, g_t, m_{t−1}, v_{t−1}), (θ_t, m_t, v_t))``。

    梯度是带噪声的 :math:`\\nabla\\tfrac12\\lVert\\theta\\rVert^2 = \\theta`，用固定种子生成；标准答案由
    :class:`optimlab.Adam` 在 float64 下给出。
    """
    for k, cfg in enumerate(ADAM_STEP_CONFIGS, start=1):
        m = torch.zeros(4, dtype=torch.float64)
        v = torch.zeros(4, dtype=torch.float64)
        make = lambda params, cfg=cfg: Adam(params, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"])  # noqa: E731
        for t, theta, grad, p, opt in noisy_steps(make, steps, seed + k):
            state = opt.state[p]
            expected = (p.detach().clone(), state["exp_avg"].clone(), state["exp_avg_sq"].clone())
            yield k, cfg, t, (theta, grad, m, v), expected
            m, v = expected[1], expected[2]


def check_adam_step(fn: Callable[..., Any], steps: int = 5, seed: int = 0) -> Result:
    """检查读者写的一步 Adam。

    ``fn(theta, grad, m, v, t, lr, beta1, beta2, eps)`` 收到 :math:`\\theta_{t-1}, g_t, m_{t-1}, v_{t-1}`
    （float64 张量的副本）、步数 ``t``\\ （从 1 开始）和超参数，应返回 ``(theta_t, m_t, v_t)``。
    在两组超参数下各比较 ``steps`` 步，每一步都从标准答案的状态出发，因此报告的是第一个出错的步骤；
    依次检查 :math:`m_t`、:math:`v_t`、:math:`\\theta_t`。从不抛出异常。
    """
    for k, cfg, t, (theta, grad, m, v), (e_theta, e_m, e_v) in _cases(steps, seed):
        out, err = call_user(fn, theta.clone(), grad.clone(), m.clone(), v.clone(), t, **cfg)
        if err is not None:
            return err
        if not (isinstance(out, (tuple, list)) and len(out) == 3):
            return Result(False, "函数应返回三个值 (theta_t, m_t, v_t)，实际返回了 " + type(out).__name__)
        where = (f"超参数组 {k}（lr={cfg['lr']:g}, β₁={cfg['beta1']:g}, β₂={cfg['beta2']:g}, "
                 f"ε={cfg['eps']:g}）第 t={t} 步")
        for label, got, expected in (("m_t", out[1], e_m), ("v_t", out[2], e_v), ("θ_t", out[0], e_theta)):
            r = compare(label, got, expected, rtol=1e-6, atol=1e-12)
            if not r.ok:
                return Result(False, f"{where}，{r.message}。{_HINTS[label]}")
    n = len(ADAM_STEP_CONFIGS)
    return Result(True, f"{n} 组超参数 × {steps} 步，θ_t、m_t、v_t 都与 optimlab.Adam 一致")
