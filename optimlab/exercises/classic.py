"""第 9 章（ASGD / Rprop / L-BFGS）练习的自动检查。

* :func:`check_rprop_step`：读者写一步 Rprop（torch 的 iRprop−），与 :class:`torch.optim.Rprop` 比较
  :math:`\\Delta_t`、:math:`\\tilde g_t`、:math:`\\theta_t`；
* :func:`check_two_loop`：读者写 L-BFGS 的双循环递归，与显式构造的 BFGS 矩阵 :math:`H_k` 算出的
  :math:`d_k = -H_k g_k` 比较。

两处标准答案都不来自被检查的代码：Rprop 用 torch.optim 作参照，双循环用逐次 BFGS 更新公式
:math:`H \\leftarrow (I - \\rho s y^\\top) H (I - \\rho y s^\\top) + \\rho s s^\\top` 直接算出的矩阵。
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from . import Result, call_user, check_one_step, compare, step_from_state

__all__ = ["check_rprop_step", "check_two_loop", "rprop_reference", "bfgs_matrix", "two_loop_reference"]

# Rprop 的两组输入 (θ_{t−1}, g_t, g̃_{t−1}, Δ_{t−1}, etas, step_sizes)。每个坐标对应一种情形：
# 同号、异号、g̃_{t−1} = 0（上一步刚翻转过）、g_t = 0、放大后超过 Δ_max、缩小后低于 Δ_min。
_RPROP_CASES = (
    ([0.5, -1.0, 2.0, 0.3, -0.7, 1.5],
     [0.2, -3.0, 1.0, 0.0, 4.0, -0.1],
     [0.1, 2.0, 0.0, -1.0, 5.0, 0.3],
     [0.01, 0.02, 0.05, 0.04, 45.0, 1.5e-6],
     (0.5, 1.2), (1e-6, 50.0)),
    ([1.0, 1.0, -2.0, 0.0, 3.0],
     [-1e-8, 5.0, -2.0, 1e3, 0.0],
     [-2e-8, 0.5, 3.0, 0.0, 1.0],
     [0.3, 0.9, 0.2, 0.1, 0.5],
     (0.3, 1.5), (1e-3, 1.0)),
)


def rprop_reference(theta, grad, prev, step_size, etas, step_sizes) -> tuple[torch.Tensor, ...]:
    """用 :class:`torch.optim.Rprop` 从给定状态 :math:`(\\tilde g_{t-1}, \\Delta_{t-1})` 做一步，
    返回 ``(θ_t, Δ_t, g̃_t)``\\ （float64）。"""
    theta_t, st = step_from_state(torch.optim.Rprop, theta, grad, {"step": 1, "prev": prev, "step_size": step_size},
                                  etas=etas, step_sizes=step_sizes)
    return theta_t, st["step_size"], st["prev"]


def check_rprop_step(fn: Callable[..., Any]) -> Result:
    """检查读者的 ``fn(theta, grad, prev, step_size, etas, step_sizes) -> (theta_t, step_size_t, prev_t)``。

    输入是 float64 张量 :math:`\\theta_{t-1}`、:math:`g_t`、:math:`\\tilde g_{t-1}`\\ （状态 ``prev``）、
    :math:`\\Delta_{t-1}`\\ （状态 ``step_size``）与两个二元组。依次比较 :math:`\\Delta_t`、
    :math:`\\tilde g_t`、:math:`\\theta_t`，报告第一个不一致的量与元素。从不抛出异常。
    """
    return check_one_step(fn, _RPROP_CASES, rprop_reference, ("θ_t", "Δ_t", "g̃_t"), "(theta_t, step_size_t, prev_t)",
                          lambda *c: f"etas={c[4]}，step_sizes={c[5]}", lambda *c: "", "torch.optim.Rprop")


def bfgs_matrix(s_list: Sequence[torch.Tensor], y_list: Sequence[torch.Tensor], gamma: float) -> torch.Tensor:
    """显式构造逆 Hessian 近似：:math:`H = \\gamma I`，再按从旧到新的顺序对每一对 :math:`(s_i, y_i)` 做 BFGS 更新

    .. math::

       H \\leftarrow (I - \\rho_i s_i y_i^\\top)\\, H\\, (I - \\rho_i y_i s_i^\\top) + \\rho_i s_i s_i^\\top,
       \\qquad \\rho_i = 1 / y_i^\\top s_i

    （Nocedal & Wright 第 6 章的 BFGS 公式）。用于检查双循环递归，不调用任何优化器。
    """
    n = len(s_list[0]) if len(s_list) else None
    if n is None:
        raise ValueError("bfgs_matrix needs at least one pair; with an empty history H = γI")
    eye = torch.eye(n, dtype=torch.float64)
    H = gamma * eye
    for s, y in zip(s_list, y_list, strict=True):
        rho = 1.0 / torch.dot(y, s)
        V = eye - rho * torch.outer(y, s)
        H = V.T @ H @ V + rho * torch.outer(s, s)
    return H


def two_loop_reference(grad: torch.Tensor, s_list, y_list, gamma: float) -> torch.Tensor:
    """:math:`d = -H g`，:math:`H` 由 :func:`bfgs_matrix` 显式构造（历史为空时 :math:`H = \\gamma I`）。"""
    if len(s_list) == 0:
        return -gamma * grad
    return -(bfgs_matrix(s_list, y_list, gamma) @ grad)


def _two_loop_cases() -> list[tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], float]]:
    """三组历史：空历史、1 对、4 对。曲率对取自一个对称正定矩阵 :math:`A`（:math:`y = A s`，:math:`y^\\top s > 0`），
    :math:`\\gamma` 按 torch 的做法取最新一对的 :math:`s^\\top y / y^\\top y`；空历史时取 0.5（检查是否乘了 :math:`\\gamma`）。"""
    gen = torch.Generator().manual_seed(9)
    cases = []
    for n, m in ((3, 0), (4, 1), (5, 4)):
        B = torch.randn(n, n, generator=gen, dtype=torch.float64)
        A = B @ B.T + n * torch.eye(n, dtype=torch.float64)
        s_list = [torch.randn(n, generator=gen, dtype=torch.float64) for _ in range(m)]
        y_list = [A @ s for s in s_list]
        gamma = float(torch.dot(s_list[-1], y_list[-1]) / torch.dot(y_list[-1], y_list[-1])) if m else 0.5
        grad = torch.randn(n, generator=gen, dtype=torch.float64)
        cases.append((grad, s_list, y_list, gamma))
    return cases


def check_two_loop(fn: Callable[..., Any]) -> Result:
    """检查读者的 ``fn(grad, s_list, y_list, gamma) -> d``\\ （:math:`d = -H g`）。

    ``s_list``、``y_list`` 是从旧到新排列的 float64 向量列表，``gamma`` 是 :math:`H_0 = \\gamma I` 的系数。
    与显式矩阵算出的 :math:`-H g` 比较（历史为空、1 对、4 对三组）。从不抛出异常；
    结果恰好差一个负号时单独指出。
    """
    passed = []
    for grad, s_list, y_list, gamma in _two_loop_cases():
        m = len(s_list)
        got, err = call_user(fn, grad.clone(), [s.clone() for s in s_list], [y.clone() for y in y_list], gamma)
        if err is not None:
            return err
        expected = two_loop_reference(grad, s_list, y_list, gamma)
        r = compare("d", got, expected)
        if not r.ok:
            if compare("d", got, -expected).ok:
                return Result(False, f"历史 {m} 对：结果是 +Hg，差一个负号——应返回下降方向 d = −Hg")
            return Result(False, f"历史 {m} 对 —— {r.message}")
        passed.append(f"{m} 对")
    return Result(True, "与显式构造的 BFGS 矩阵一致：d = −Hg（历史 " + "、".join(passed) + "）")
