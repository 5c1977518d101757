"""LBFGS 按求值次数计步：曲面扫描（:func:`.surfaces.lbfgs_surface`）与全批量训练（:func:`.runs.fit_lbfgs`）共用。"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor


def lbfgs_iterates(opt: torch.optim.Optimizer, closure: Callable[[], Tensor], evals: int) -> Iterator[int]:
    """让 LBFGS 每次 ``step(closure)`` 只做一次迭代，每完成一次迭代产生"到此为止的求值次数"。

    ``opt`` 须以 ``max_iter=1`` 构造。L-BFGS 的历史、方向与步长都保存在状态中、跨 ``step`` 保留，
    所以迭代序列与一次 ``step`` 做许多次迭代时相同；只是每次 ``step`` 开头都要在当前点求一次值。
    有线搜索时，这个点在上一次线搜索中已经求过值（线搜索返回的就是那次求值的损失与梯度），
    一次做许多次迭代的 ``step`` 不会重算它，所以这里不计入；没有线搜索时，这一次求值就是本次迭代
    唯一的一次，照常计入。求值次数超过 ``evals``、梯度已经小于 ``tolerance_grad``、或者不再有进展
    （本次迭代没有用掉新的求值）时停止。
    """
    state = opt.state[opt.param_groups[0]["params"][0]]
    redundant = opt.param_groups[0]["line_search_fn"] is not None
    calls, spent = 0, 0
    while True:
        n_iter = state.get("n_iter", 0)
        opt.step(closure)
        calls += 1
        used = state["func_evals"] - (calls - 1 if redundant else 0)
        if state["n_iter"] == n_iter or used == spent or used > evals:
            return
        spent = used
        yield spent


def evals_to_losses(first: float, iterates: Sequence[tuple[int, float]], evals: int) -> np.ndarray:
    """第 e 个元素是用了 e 次求值之后、最新的迭代点的损失（第 0 个是起点的损失）。"""
    losses = np.full(evals + 1, first)
    for spent, value in iterates:
        losses[spent:] = value
    return losses
