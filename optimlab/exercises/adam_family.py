"""第 8 章（RAdam / Adamax / Adadelta）练习的自动检查。

标准答案都不取自 optimlab 的实现，而取自独立的来源：

* :func:`check_radam_rho`：读者写 RAdam 的 :math:`\\rho_t`，与它的 **定义** 比较——
  与权重为 :math:`\\beta_2^{t-i}` 的指数移动平均"重心"相同的简单移动平均的长度
  （逐项求和，不用闭式）；
* :func:`check_radam_rect`：读者写修正项 :math:`r_t`\\ （:math:`\\rho_t \\le 5` 时返回 ``None``），
  与 ``torch.optim.RAdam`` 实际走出的步长比较；
* :func:`check_adamax_step`：读者写一步 Adamax，与 ``torch.optim.Adamax`` 比较 :math:`m_t, u_t, \\theta_t`。
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from . import Result, call_user, check_one_step, compare, one_step_reference

__all__ = [
    "check_radam_rho",
    "check_radam_rect",
    "check_adamax_step",
    "radam_rho_reference",
    "radam_rect_reference",
    "adamax_reference",
]

#: 检查 ρ_t、r_t 所用的 β₂ 与步数 t = 1..T。
_RADAM_BETA2 = (0.999, 0.9)
_RADAM_STEPS = 30

# (θ, g, m, u, t, lr, betas, eps)：第 1 步（含一个梯度为 0 的坐标：论文的公式在这里是 0/0），
# 与中途的一步（ε 取得很大，β₂u 大于 |g| + ε 的坐标能看出 ε 放在 max 里面还是外面）。
_ADAMAX_CASES = (
    ([1.0, -2.0, 0.5], [0.3, 0.0, -4.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], 1, 2e-3, (0.9, 0.999), 1e-8),
    ([0.8, -1.5, 3.0, 0.0], [-0.2, 2.0, 0.05, 1.0], [0.1, 0.4, -0.3, 0.2], [0.5, 0.3, 0.9, 0.2], 5, 0.05,
     (0.8, 0.99), 0.1),
)


def radam_rho_reference(t: int, beta2: float) -> float:
    """按定义计算 :math:`\\rho_t`：指数移动平均 :math:`v_t` 的权重 :math:`w_k \\propto \\beta_2^{k}`
    （:math:`k = t - i` 是"年龄"，:math:`k = 0..t-1`）的平均年龄为 :math:`\\bar k`；
    长度为 :math:`\\rho` 的简单移动平均的平均年龄是 :math:`(\\rho - 1)/2`，令二者相等得
    :math:`\\rho_t = 1 + 2\\bar k`。逐项求和，不用闭式。"""
    weights = [(1 - beta2) * beta2**k for k in range(t)]
    mean_age = sum(k * w for k, w in zip(range(t), weights)) / sum(weights)
    return 1 + 2 * mean_age


def _radam_steps(beta2: float, grad: float, steps: int) -> list[float]:
    """``torch.optim.RAdam``\\ （β₁ = 0，ε = 0，lr = 1）在恒定梯度 ``grad`` 下每一步的位移。"""
    p = torch.zeros(1, dtype=torch.float64)
    opt = torch.optim.RAdam([p], lr=1.0, betas=(0.0, beta2), eps=0.0)
    out = []
    for _ in range(steps):
        p.zero_()  # 每步从 0 出发：位移就是 −θ_t（状态与 θ 无关）
        p.grad = torch.tensor([grad], dtype=torch.float64)
        opt.step()
        out.append(-float(p))
    return out


def radam_rect_reference(beta2: float, steps: int = _RADAM_STEPS) -> list[float | None]:
    """从 ``torch.optim.RAdam`` 的实际步长还原每一步的 :math:`r_t`；没有用 :math:`v_t` 的步为 ``None``。

    β₁ = 0 时 :math:`\\hat m_t = g_t`。恒定梯度 :math:`g` 下，用了自适应项的步长是
    :math:`\\eta\\, r_t\\, g/\\sqrt{\\hat v_t} = \\eta\\, r_t`，与 :math:`g` 无关；动量 SGD 的步长是 :math:`\\eta g`。
    所以分别用 :math:`g = 1` 与 :math:`g = 2` 各走一遍：步长翻倍的步是动量 SGD（``None``），
    否则 :math:`g = 1` 时的步长就是 :math:`r_t`。
    """
    one, two = _radam_steps(beta2, 1.0, steps), _radam_steps(beta2, 2.0, steps)
    return [None if abs(b - 2 * a) <= 1e-12 * abs(b) else a for a, b in zip(one, two)]


def check_radam_rho(fn: Callable[..., Any]) -> Result:
    """检查读者的 ``fn(t, beta2) -> ρ_t``\\ （``t`` 从 1 开始）。

    在 β₂ = 0.999 与 0.9 下比较 :math:`t = 1..30`，标准答案见 :func:`radam_rho_reference`。从不抛出异常。
    """
    for beta2 in _RADAM_BETA2:
        for t in range(1, _RADAM_STEPS + 1):
            got, err = call_user(fn, t, beta2)
            if err is not None:
                return err
            expected = torch.tensor(radam_rho_reference(t, beta2), dtype=torch.float64)
            r = compare(f"ρ_{t}", got, expected, rtol=1e-9, atol=1e-9)
            if not r.ok:
                return Result(False, f"β₂={beta2:g}，t={t}：{r.message}")
    return Result(True, f"ρ_t 与定义一致（β₂ = 0.999、0.9，t = 1…{_RADAM_STEPS}）")


def check_radam_rect(fn: Callable[..., Any]) -> Result:
    """检查读者的 ``fn(t, beta2) -> r_t``；:math:`\\rho_t \\le 5`\\ （RAdam 不用 :math:`v_t`）时应返回 ``None``。

    与 ``torch.optim.RAdam`` 实际走出的步长比较（见 :func:`radam_rect_reference`），
    β₂ = 0.999 与 0.9，:math:`t = 1..30`。从不抛出异常。
    """
    for beta2 in _RADAM_BETA2:
        for t, expected in enumerate(radam_rect_reference(beta2), start=1):
            got, err = call_user(fn, t, beta2)
            if err is not None:
                return err
            where = f"β₂={beta2:g}，t={t}"
            if expected is None:
                if got is not None:
                    return Result(False, f"{where}：这一步 torch.optim.RAdam 没有用 v_t（走的是动量 SGD），"
                                         f"应返回 None，你的函数返回了 {got!r}")
                continue
            if got is None:
                return Result(False, f"{where}：这一步 torch.optim.RAdam 已经用 r_t 修正自适应步长，"
                                     f"r_t 应为 {expected:.6g}，你的函数返回了 None")
            r = compare(f"r_{t}", got, torch.tensor(expected, dtype=torch.float64), rtol=1e-9, atol=1e-12)
            if not r.ok:
                return Result(False, f"{where}：{r.message}")
    return Result(True, f"r_t 与 torch.optim.RAdam 的实际步长一致（β₂ = 0.999、0.9，t = 1…{_RADAM_STEPS}）")


#: 用 ``torch.optim.Adamax`` 从给定状态 :math:`(m_{t-1}, u_{t-1})` 做第 ``t`` 步：
#: ``adamax_reference(theta, grad, m, u, t, lr, betas, eps) -> (θ_t, m_t, u_t)``。
adamax_reference = one_step_reference(torch.optim.Adamax, ("exp_avg", "exp_inf"), ("lr", "betas", "eps"))


def check_adamax_step(fn: Callable[..., Any]) -> Result:
    """检查读者的 ``fn(theta, grad, m, u, t, lr, betas, eps) -> (theta_t, m_t, u_t)``\\ （``t`` 是本步的步数，从 1 开始），
    依次比较 :math:`m_t`、:math:`u_t`、:math:`\\theta_t`；做法见 :func:`optimlab.exercises.check_one_step`。"""
    return check_one_step(fn, _ADAMAX_CASES, adamax_reference, ("θ_t", "m_t", "u_t"), "(theta_t, m_t, u_t)",
                          lambda *c: f"t={c[4]}，ε={c[7]:g}", lambda *c: f"（t={c[4]}）", "torch.optim.Adamax")
