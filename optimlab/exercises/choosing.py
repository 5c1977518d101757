"""《优化器选择》一章的练习检查：状态内存与学习率敏感度。"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .. import optim
from ..measure import measure_state, sensitivity_width
from . import Result, call_user, summarize

__all__ = ["STATE_CASES", "WIDTH_CASES", "check_state_bytes", "check_sensitivity_width"]

#: ``check_state_bytes`` 检查的配置：(优化器名, 参数 dtype, 超参数)。
STATE_CASES: list[tuple[str, torch.dtype, dict]] = [
    ("SGD", torch.float32, {}),
    ("SGD", torch.float32, {"momentum": 0.9}),
    ("SGD", torch.float64, {"momentum": 0.9, "nesterov": True}),
    ("Adam", torch.float32, {}),
    ("Adam", torch.float32, {"amsgrad": True}),
    ("AdamW", torch.float64, {}),
    ("NAdam", torch.float32, {}),
    ("RMSprop", torch.float32, {}),
    ("RMSprop", torch.float32, {"centered": True}),
    ("RMSprop", torch.float64, {"momentum": 0.9, "centered": True}),
    ("Adagrad", torch.float32, {}),
]

#: ``check_sensitivity_width`` 检查的数据：(学习率, 最终损失, factor)。
WIDTH_CASES: list[tuple[np.ndarray, list[float], float]] = [
    (np.logspace(-3, 0, 7), [2.0, 0.5, 0.11, 0.1, 0.15, 0.3, float("inf")], 2.0),
    (np.logspace(-3, 0, 6), [0.15, 0.9, 0.1, 0.12, float("nan"), 0.11], 2.0),
    (np.logspace(-4, -1, 4), [0.1, 0.15, 0.3, 1.0], 2.0),
    (np.logspace(-2, 0, 3), [1.0, 0.01, 1.0], 10.0),
]


def _describe(name: str, dtype: torch.dtype, hparams: dict) -> str:
    args = [repr(name), str(dtype)] + [f"{k}={v!r}" for k, v in hparams.items()]
    return f"state_bytes({', '.join(args)})"


def check_state_bytes(fn: Callable[..., float]) -> Result:
    """检查 ``fn(name, dtype, **hparams)`` 是否给出每个参数的状态字节数（与实测的 ``optimizer.state`` 比较）。"""
    results = []
    for name, dtype, hparams in STATE_CASES:
        label = _describe(name, dtype, hparams)
        got, err = call_user(fn, name, dtype, **hparams)
        if err is not None:
            return err
        expected = measure_state(getattr(optim, name), dtype=dtype, **hparams).per_param
        try:
            value = float(got)
        except (TypeError, ValueError):
            return Result(False, f"{label}：返回值应是一个数，实际为 {got!r}")
        if value != expected:
            return Result(False, f"{label}：你的结果 {value:g} 字节，实测为 {expected:g} 字节")
        results.append(Result(True, label))
    return Result(True, f"全部 {len(results)} 种配置与实测一致")


def check_sensitivity_width(fn: Callable[..., float]) -> Result:
    """检查 ``fn(lrs, final_losses, factor)`` 是否等于 :func:`optimlab.measure.sensitivity_width`。"""
    results = []
    for k, (lrs, losses, factor) in enumerate(WIDTH_CASES, start=1):
        got, err = call_user(fn, lrs.copy(), list(losses), factor)
        if err is not None:
            return err
        expected = sensitivity_width(lrs, losses, factor)
        shown = ", ".join(f"{v:g}" for v in losses)
        try:
            value = float(got)
        except (TypeError, ValueError):
            return Result(False, f"第 {k} 组数据：返回值应是一个数，实际为 {got!r}")
        if not np.isclose(value, expected, rtol=1e-9, atol=1e-12):
            return Result(False, f"第 {k} 组数据（损失 [{shown}]，factor={factor:g}）：你的结果 {value:.4g}，"
                                 f"应为 {expected:.4g} 个数量级")
        results.append(Result(True, f"第 {k} 组"))
    return summarize(results) if not results else Result(True, f"全部 {len(results)} 组数据正确")
