"""在线凸优化：Reddi 等人（2018）的反例上的投影优化与遗憾（regret）。

在线问题每一步给出一个新的损失 :math:`f_t`，算法在看到 :math:`f_t` 之前选定
:math:`x_{t-1}`，付出 :math:`f_t(x_{t-1})`。遗憾是算法的累计损失与事后最优的固定点之差：

.. math::

   R_T = \\sum_{t=1}^{T} f_t(x_{t-1}) - \\min_{x\\in[-1,1]} \\sum_{t=1}^{T} f_t(x).

平均遗憾 :math:`R_T/T \\to 0` 是在线算法收敛的标准；Reddi 等人构造的问题上 Adam 的
平均遗憾不趋于 0，AMSGrad 的趋于 0。

梯度与 :math:`x` 无关（周期为 3 的 :math:`C, -1, -1`），所以 :math:`m_t, v_t` 是确定的
序列；一个周期的稳态位移 :func:`reddi_drift` 的符号决定迭代点最终停在哪一端
（Zhang 等人 2022 所说的 :math:`(\\beta_1, \\beta_2)` 相变，见 :func:`reddi_critical_beta2`）。
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .problems import reddi_loss

__all__ = [
    "OnlineRun",
    "reddi_best_loss",
    "run_reddi",
    "run_reddi_groups",
    "reddi_paper",
    "reddi_drift",
    "reddi_critical_beta2",
]


@dataclass
class OnlineRun:
    """一次在线优化的记录。

    Attributes:
        x: 形状 ``(T + 1,)``，``x[0]`` 是起点，``x[t]`` 是第 t 步（投影）之后的点。
        loss: 形状 ``(T,)``，``loss[t - 1]`` 是 :math:`f_t(x_{t-1})`。
        regret: 形状 ``(T,)``，``regret[t - 1]`` 是 :math:`R_t`。
        label: 图例文字。
    """

    x: np.ndarray
    loss: np.ndarray
    regret: np.ndarray
    label: str = ""

    @property
    def avg_regret(self) -> np.ndarray:
        """平均遗憾 :math:`R_t / t`，形状 ``(T,)``。"""
        return self.regret / np.arange(1, len(self.regret) + 1)


def reddi_best_loss(steps: int, C: float = 3.0) -> np.ndarray:
    """事后最优固定点 :math:`x^* = -1` 的累计损失 :math:`\\sum_{s\\le t} f_s(-1)`，:math:`t = 1..T`。

    :math:`C > 2` 时每 3 步的梯度和 :math:`C - 2 > 0`，线性损失的最优点是区间左端
    :math:`-1`；对于不是 3 的倍数的 :math:`T`，:math:`-1` 仍然最优（前缀和的系数
    :math:`C`、:math:`C-1`、:math:`C-2` 都为正）。
    """
    f = np.array([float(reddi_loss(-1.0, t, C)) for t in range(1, steps + 1)])
    return np.cumsum(f)


def _record(xs: list[float], losses: list[float], C: float, label: str) -> OnlineRun:
    loss = np.asarray(losses)
    regret = np.cumsum(loss) - reddi_best_loss(len(loss), C)
    return OnlineRun(np.asarray(xs), loss, regret, label)


def run_reddi(
    optimizer: Callable[..., torch.optim.Optimizer],
    steps: int,
    C: float = 3.0,
    lr: float = 0.5,
    sqrt_decay: bool = True,
    x0: float = 1.0,
    label: str = "",
    **hparams,
) -> OnlineRun:
    """用 ``optimizer([x], lr=lr, **hparams)`` 在 Reddi 的问题上跑 ``steps`` 步，每步后投影到 [-1, 1]。

    ``x`` 是 float64 的标量参数。第 t 步先取学习率 :math:`\\eta_t = \\eta/\\sqrt{t}`
    \\ （``sqrt_decay=True``，论文定理 1 的设置）或常数 :math:`\\eta`，再对
    :math:`f_t(x_{t-1})` 求梯度、``step()``，最后 ``clamp_(-1, 1)``\\ （一维时论文中按
    :math:`\\sqrt{\\hat V_t}` 加权的投影就是截断）。
    """
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = optimizer([x], lr=lr, **hparams)
    xs, losses = [x0], []
    for t in range(1, steps + 1):
        if sqrt_decay:
            for group in opt.param_groups:
                group["lr"] = lr / math.sqrt(t)
        opt.zero_grad()
        loss = reddi_loss(x, t, C)
        losses.append(float(loss.detach()))
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)
        xs.append(float(x.detach()))
    return _record(xs, losses, C, label)


def run_reddi_groups(
    optimizer: Callable[..., torch.optim.Optimizer],
    groups: list[dict],
    steps: int,
    C: float = 3.0,
    lr: float = 0.5,
    x0: float = 1.0,
    **hparams,
) -> list[OnlineRun]:
    """一次跑多种超参数设置的 :func:`run_reddi`\\ （学习率 :math:`\\eta/\\sqrt t`），返回与
    ``groups`` 同序的记录。

    ``groups`` 的每一项是一个参数组的选项（例如 ``{"betas": (0.0, 0.5), "amsgrad": True}``），
    其余超参数 ``hparams`` 对所有组相同。所有设置放在 **同一个** 优化器里：每组一个 float64
    标量参数，一次 ``step()`` 推进全部设置。梯度与 :math:`x` 无关，直接写成 :math:`C` 或
    :math:`-1`\\ （与 :func:`run_reddi` 中自动求导得到的值相同）。优化器对每个参数组的计算与
    单独运行时一样，所以每条记录的 :math:`x_t` 与损失都与
    ``run_reddi(optimizer, steps, C, lr, **group, **hparams)`` 逐位相同。
    """
    xs = [torch.tensor(x0, dtype=torch.float64) for _ in groups]
    param_groups = [{"params": [x], **g} for x, g in zip(xs, groups)]
    opt = optimizer(param_groups, lr=lr, **hparams)
    path = np.empty((len(groups), steps + 1))
    path[:, 0] = x0
    for t in range(1, steps + 1):
        g = C if t % 3 == 1 else -1.0
        for group in opt.param_groups:
            group["lr"] = lr / math.sqrt(t)
        for x in xs:
            x.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        with torch.no_grad():
            for x in xs:
                x.clamp_(-1.0, 1.0)
        path[:, t] = [float(x) for x in xs]
    # 损失 f_t(x_{t-1})：t mod 3 = 1 时为 C·x，否则为 −x
    coef = np.where(np.arange(1, steps + 1) % 3 == 1, C, -1.0)
    loss = coef * path[:, :-1]
    regret = np.cumsum(loss, axis=1) - reddi_best_loss(steps, C)
    labels = [", ".join(f"{k}={v}" for k, v in g.items()) for g in groups]
    return [OnlineRun(path[i], loss[i], regret[i], labels[i]) for i in range(len(xs))]


def reddi_paper(
    steps: int,
    C: float = 3.0,
    alpha: float = 0.5,
    betas: tuple[float, float] | None = None,
    amsgrad: bool = False,
    x0: float = 1.0,
    label: str = "",
) -> OnlineRun:
    """Reddi 等人论文中的算法（无偏差校正、无 :math:`\\epsilon`），用于与 torch 的实现对照。

    .. math::

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad
       v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,\\quad
       \\hat v_t = \\max(\\hat v_{t-1}, v_t)\\ (\\text{AMSGrad})\\
       \\text{或}\\ v_t\\ (\\text{Adam}),\\quad
       x_t = \\Pi_{[-1,1]}\\bigl(x_{t-1}
       - \\tfrac{\\alpha}{\\sqrt t}\\, m_t/\\sqrt{\\hat v_t}\\bigr)

    ``betas`` 默认取定理 1 的 :math:`(0,\\ 1/(1+C^2))`。梯度是解析的：:math:`t \\bmod 3 = 1`
    时为 :math:`C`，否则为 :math:`-1`。
    """
    beta1, beta2 = (0.0, 1.0 / (1.0 + C * C)) if betas is None else betas
    x, m, v, v_hat = x0, 0.0, 0.0, 0.0
    xs, losses = [x0], []
    for t in range(1, steps + 1):
        losses.append(float(reddi_loss(x, t, C)))
        g = C if t % 3 == 1 else -1.0
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_hat, v) if amsgrad else v
        x = min(1.0, max(-1.0, x - alpha / math.sqrt(t) * m / math.sqrt(v_hat)))
        xs.append(x)
    return _record(xs, losses, C, label)


def _periodic(beta, x):
    """指数平均 :math:`s_k = \\beta s_{k-1} + (1-\\beta) x_k` 在周期输入 ``x``（长 3）下的稳态。"""
    s = (1 - beta) * (beta**2 * x[0] + beta * x[1] + x[2]) / (1 - beta**3)  # 周期末的值
    out = []
    for xk in x:
        s = beta * s + (1 - beta) * xk
        out.append(s)
    return out


def reddi_drift(beta1, beta2, C: float = 3.0, amsgrad: bool = False):
    r"""Adam 在 Reddi 问题上一个周期的稳态位移 :math:`\Delta`\ （以 :math:`\eta_t` 为单位，向右为正）。

    梯度按 :math:`C, -1, -1` 循环。:math:`t` 很大时偏差校正和 :math:`\epsilon` 可以忽略，
    :math:`m_t`、:math:`v_t` 进入周期为 3 的稳态 :math:`m_1, m_2, m_3`、:math:`v_1, v_2, v_3`，
    :math:`\eta_t` 在一个周期内几乎不变，于是

    .. math::

       \Delta = -\sum_{k=1}^{3} \frac{m_k}{\sqrt{v_k}}\quad(\text{Adam}),\qquad
       \Delta = -\frac{\sum_k m_k}{\sqrt{\max_k v_k}} = -\frac{C-2}{\sqrt{\max_k v_k}}
       \quad(\text{AMSGrad}).

    :math:`\sum_t \eta_t` 发散，所以 :math:`\Delta > 0` 时迭代点停在最差点 :math:`+1`，
    :math:`\Delta < 0` 时走向最优点 :math:`-1`。AMSGrad 的 :math:`v^{\max}` 是未校正的
    :math:`v_t` 的历史最大值，它从下方逼近 :math:`\max_k v_k`。``beta1``、``beta2`` 可以是
    numpy 数组（按广播规则逐元素计算）。
    """
    beta1, beta2 = np.asarray(beta1, dtype=float), np.asarray(beta2, dtype=float)
    g = (C, -1.0, -1.0)
    m = _periodic(beta1, g)
    v = _periodic(beta2, [gk * gk for gk in g])
    if amsgrad:
        return -sum(m) / np.sqrt(np.maximum(np.maximum(v[0], v[1]), v[2]))
    return -sum(mk / np.sqrt(vk) for mk, vk in zip(m, v))


def reddi_critical_beta2(
    C: float = 3.0, beta1: float = 0.0, tol: float = 1e-12
) -> float:
    r"""Adam 由停在 :math:`+1` 变为收敛到 :math:`-1` 的临界 :math:`\beta_2^*`：
    :func:`reddi_drift` 的零点（二分法）。

    要求 :math:`\Delta` 在 :math:`\beta_2 \to 0` 时为正、在 :math:`\beta_2 \to 1` 时为负
    （:math:`\beta_2 \to 1` 时 :math:`v_k \to (C^2+2)/3`，
    :math:`\Delta \to (2-C)/\sqrt{(C^2+2)/3} < 0`）；
    否则抛出 ``ValueError``。
    """
    lo, hi = 0.0, 1.0 - 1e-12
    if not (reddi_drift(beta1, lo, C) > 0 > reddi_drift(beta1, hi, C)):
        raise ValueError(f"β₁ = {beta1}、C = {C} 时 Δ 在 (0, 1) 上不变号")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if reddi_drift(beta1, mid, C) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
