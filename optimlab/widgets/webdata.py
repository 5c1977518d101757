"""网页探索器需要、而 JavaScript 无法重新生成的数据：来自 torch 随机数生成器的序列。

网页上的探索器（``optimlab/web/problems.mjs``）在浏览器里重算一切，只有 torch 的随机数生成器给出的
数据要从 Python 写进页面：

* ``bias_correction``\\ （第 3 章）：噪声序列 :math:`\\xi_t`，梯度是 :math:`g_t = 1 + \\sigma\\,\\xi_t`
  （:func:`optimlab.widgets.moments.noisy_gradients`）；
* ``scheduler``\\ （第 5 章）：``problems.linear_regression`` 的数据 :math:`(x_i, y_i)`、线性模型的初始权重、
  每轮的打乱顺序（:func:`optimlab.training.fit` 用种子 0 的生成器每轮调用一次 ``randperm``），以及
  噪声下限 :math:`L^*` 与全批量稳定上限 :math:`2/\\lambda_{\\max}`；
* 其余探索器：``{}``。

浮点数原样写出（JSON 的最短表示，在 JavaScript 中读回同一个 float64）。
"""

from __future__ import annotations

import base64
import math

import torch

from .. import problems
from ..training import linear_model, regression_lr_limit, regression_optimum
from .controls import DEFINITIONS
from .moments import noisy_gradients

__all__ = ["explorer_data"]


def explorer_data(name: str, **options) -> dict:
    """探索器 ``name`` 在网页上所需的数据（可写成 JSON，不含 NaN）。

    ``options`` 是探索器的构造参数（``max_steps``、``epochs``、``batch_size`` 等），与本函数无关的忽略。
    """
    if name not in DEFINITIONS:
        raise ValueError(f"unknown explorer {name!r}")
    if name == "bias_correction":
        return _noise(int(options.get("max_steps", 300)))
    if name == "scheduler":
        return _regression(int(options.get("epochs", 30)), int(options.get("batch_size", 20)))
    return {}


def _noise(n: int) -> dict:
    """:math:`\\xi_1 … \\xi_n`：``noisy_gradients(n, σ=1, mean=0)`` 就是 ξ 本身（乘 1、加 0 都是精确的）。"""
    return {"xi": noisy_gradients(n, 1.0, mean=0.0).tolist()}


def _regression(epochs: int, batch_size: int, seed: int = 0) -> dict:
    """:func:`optimlab.training.scheduler_run` 的问题：数据、初始权重、每轮的顺序、:math:`L^*` 与稳定上限。

    ``order`` 是 ``epochs`` 轮的排列首尾相接（每轮 ``n`` 个下标，每个下标一个字节，``n ≤ 256``），写成
    base64 字符串（比 JSON 整数列表小一半）；批量不小于 ``n`` 时不打乱，为空串。
    """
    X, y, _ = problems.linear_regression()
    n = len(X)
    with torch.random.fork_rng(devices=[]):  # linear_model 设置全局种子：不改动调用者（笔记本内核）的随机数状态
        model = linear_model(1, seed=seed)
    order = b""
    if batch_size < n:  # 与 training.fit 相同：种子 seed 的生成器，每轮一次 randperm
        assert n <= 256, "每个下标一个字节"
        gen = torch.Generator().manual_seed(seed)
        order = b"".join(bytes(torch.randperm(n, generator=gen).tolist()) for _ in range(epochs))
    return {
        "x": X[:, 0].tolist(),
        "y": y.tolist(),
        "w0": float(model.weight.detach()[0, 0]),
        "b0": float(model.bias.detach()[0]),
        "epochs": epochs,
        "batch_size": batch_size,
        "updates_per_epoch": math.ceil(n / batch_size),
        "order": base64.b64encode(order).decode("ascii"),
        "loss_min": regression_optimum(),
        "lr_limit": regression_lr_limit(),
    }
