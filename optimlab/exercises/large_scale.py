"""《大模型时代：SparseAdam、Adafactor 与 Muon》一章练习的自动检查。

* :func:`check_adafactor_state_bytes`：读者算出 Adafactor 为一个参数保存的二阶矩状态有多少字节，
  与 ``torch.optim.Adafactor`` 走一步之后实际创建的状态张量比较；
* :func:`check_ns_step`：读者写 Newton–Schulz 的一步 :math:`aX + (bA + cA^2)X`\\ （:math:`A = XX^\\top`），
  与由奇异值分解得到的闭式解 :math:`U\\,\\varphi(\\Sigma)\\,V^\\top` 比较。

两个标准答案都不来自 optimlab 的优化器：前者是 torch.optim 的实测，后者是线性代数的闭式解。
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from . import Result, call_user, compare

__all__ = [
    "ADAFACTOR_CASES",
    "NS_CASES",
    "adafactor_state_reference",
    "check_adafactor_state_bytes",
    "ns_step_reference",
    "check_ns_step",
]

# (形状, dtype)：向量、宽矩阵、高矩阵、批量矩阵（3 维）、n×1 矩阵（因子比参数还多）、低精度。
ADAFACTOR_CASES: tuple[tuple[tuple[int, ...], torch.dtype], ...] = (
    ((1024,), torch.float32),
    ((64, 256), torch.float32),
    ((256, 64), torch.float64),
    ((3, 32, 48), torch.float32),
    ((7, 1), torch.float32),
    ((40, 50), torch.bfloat16),
)

# (行数, 列数, (a, b, c), 种子)：宽、高、方阵；Keller Jordan 的系数与收敛到 1 的经典五次系数 (15, −10, 3)/8。
NS_CASES: tuple[tuple[int, int, tuple[float, float, float], int], ...] = (
    (4, 7, (3.4445, -4.7750, 2.0315), 0),
    (6, 3, (3.4445, -4.7750, 2.0315), 1),
    (5, 5, (1.875, -1.25, 0.375), 2),
)


def adafactor_state_reference(shape: tuple[int, ...], dtype: torch.dtype) -> int:
    """``torch.optim.Adafactor`` 对一个 ``shape``、``dtype`` 的参数走一步之后，除 ``step`` 以外的状态张量的总字节数。"""
    p = torch.zeros(shape, dtype=dtype, requires_grad=True)
    opt = torch.optim.Adafactor([p])
    gen = torch.Generator().manual_seed(0)
    p.grad = torch.randn(shape, generator=gen).to(dtype)
    opt.step()
    return sum(v.numel() * v.element_size() for k, v in opt.state[p].items() if k != "step")


def check_adafactor_state_bytes(fn: Callable[..., Any]) -> Result:
    """检查读者的 ``fn(shape, dtype) -> int``：Adafactor 为这个参数保存的二阶矩状态（``row_var`` 与
    ``col_var``，或 ``variance``）共有多少字节，不计标量 ``step``。

    对 :data:`ADAFACTOR_CASES` 中的每个形状，与 ``torch.optim.Adafactor`` 实际创建的状态比较，
    报告第一个不一致的形状。从不抛出异常。
    """
    for shape, dtype in ADAFACTOR_CASES:
        got, err = call_user(fn, shape, dtype)
        if err is not None:
            return err
        expected = adafactor_state_reference(shape, dtype)
        label = f"形状 {shape}、{str(dtype).replace('torch.', '')}"
        try:
            ok = int(got) == expected and float(got) == expected
        except (TypeError, ValueError, OverflowError):
            return Result(False, f"{label}：返回值应是整数（字节数），实际返回了 {type(got).__name__}")
        if not ok:
            return Result(False, f"{label}：你的结果 {got} 字节，torch.optim.Adafactor 实际保存了 {expected} 字节")
    return Result(True, f"{len(ADAFACTOR_CASES)} 个形状的状态字节数都与 torch.optim.Adafactor 一致")


def _ns_input(rows: int, cols: int, seed: int) -> torch.Tensor:
    """float64 随机矩阵，按 Frobenius 范数归一化（即 Newton–Schulz 的 :math:`X_0`）。"""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, cols, generator=gen, dtype=torch.float64)
    return x / x.norm()


def ns_step_reference(x: torch.Tensor, coefficients: tuple[float, float, float]) -> torch.Tensor:
    """闭式解：:math:`X = U\\Sigma V^\\top` 时，一步 Newton–Schulz 得到 :math:`U\\,\\varphi(\\Sigma)\\,V^\\top`，
    :math:`\\varphi(\\sigma) = a\\sigma + b\\sigma^3 + c\\sigma^5`。"""
    a, b, c = coefficients
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    phi = a * s + b * s**3 + c * s**5
    return u @ torch.diag(phi) @ vh


def check_ns_step(fn: Callable[..., Any]) -> Result:
    """检查读者的 ``fn(X, a, b, c) -> X'``：一步 Newton–Schulz :math:`X' = aX + (bA + cA^2)X`，:math:`A = XX^\\top`。

    输入是按 Frobenius 范数归一化的 float64 矩阵（宽、高、方阵各一个），与奇异值分解给出的闭式解
    :math:`U\\,\\varphi(\\Sigma)\\,V^\\top` 比较（相对容限 1e-9），报告第一个不一致的元素。从不抛出异常。
    """
    for rows, cols, coefficients, seed in NS_CASES:
        x = _ns_input(rows, cols, seed)
        got, err = call_user(fn, x.clone(), *coefficients)
        if err is not None:
            return err
        expected = ns_step_reference(x, coefficients)
        r = compare("X'", got, expected, rtol=1e-9, atol=1e-12)
        if not r.ok:
            return Result(False, f"{rows}×{cols} 矩阵，(a, b, c) = {coefficients}：{r.message}")
    return Result(True, f"{len(NS_CASES)} 个矩阵（宽、高、方阵）都与奇异值分解的闭式解 Uφ(Σ)Vᵀ 一致")
