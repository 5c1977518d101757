"""在线凸优化：Reddi 等人（2018）的反例上的投影优化与遗憾（regret）。

在线问题每一步给出一个新的损失 :math:`f_t`，算法在看到 :math:`f_t` 之前选定 :math:`x_{t-1}`，
付出 :math:`f_t(x_{t-1})`。遗憾是算法的累计损失与事后最优的固定点之差：

.. math::

   R_T = \\sum_{t=1}^{T} f_t(x_{t-1}) - \\min_{x\\in[-1,1]} \\sum_{t=1}^{T} f_t(x).

平均遗憾 :math:`R_T/T \\to 0` 是在线算法收敛的标准；Reddi 等人构造的问题上 Adam 的平均遗憾
不趋于 0，AMSGrad 的趋于 0。
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .problems import reddi_loss

__all__ = ["OnlineRun", "reddi_best_loss", "run_reddi", "reddi_paper"]


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

    :math:`C > 2` 时每 3 步的梯度和 :math:`C - 2 > 0`，线性损失的最优点是区间左端 :math:`-1`；
    对于不是 3 的倍数的 :math:`T`，:math:`-1` 仍然最优（前缀和的系数 :math:`C`、:math:`C-1`、:math:`C-2` 都为正）。
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

    ``x`` 是 float64 的标量参数。第 t 步先取学习率 :math:`\\eta_t = \\eta/\\sqrt{t}`\\ （``sqrt_decay=True``，
    论文定理 1 的设置）或常数 :math:`\\eta`，再对 :math:`f_t(x_{t-1})` 求梯度、``step()``，最后
    ``clamp_(-1, 1)``\\ （一维时论文中按 :math:`\\sqrt{\\hat V_t}` 加权的投影就是截断）。
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

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,\\quad
       \\hat v_t = \\max(\\hat v_{t-1}, v_t)\\ (\\text{AMSGrad})\\ \\text{或}\\ v_t\\ (\\text{Adam}),\\quad
       x_t = \\Pi_{[-1,1]}\\bigl(x_{t-1} - \\tfrac{\\alpha}{\\sqrt t}\\, m_t/\\sqrt{\\hat v_t}\\bigr)

    ``betas`` 默认取定理 1 的 :math:`(0,\\ 1/(1+C^2))`。梯度是解析的：:math:`t \\bmod 3 = 1` 时为 :math:`C`，否则为 :math:`-1`。
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
