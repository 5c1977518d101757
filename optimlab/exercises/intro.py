"""《前言》的练习检查：读者补全训练循环，验证 optimlab.Adam 可以直接替换 torch.optim.Adam。"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..optim import Adam
from . import Result, call_user

__all__ = ["check_drop_in"]


class _Watched(Adam):
    """记录每次 ``step()`` 之前是否调用过 ``zero_grad()``。"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zeroed, self.missing, self.steps = False, [], 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.zeroed = True
        super().zero_grad(set_to_none)

    def step(self, closure=None):
        self.steps += 1
        if not self.zeroed:
            self.missing.append(self.steps)
        self.zeroed = False
        return super().step(closure)


class _Frozen(Adam):
    """从不更新参数的 Adam：用来得到训练前的参数。"""

    def step(self, closure=None):
        return None


def _as_tensors(out: Any) -> list[torch.Tensor] | None:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)) and out and all(isinstance(t, torch.Tensor) for t in out):
        return list(out)
    return None


def check_drop_in(train: Callable[[type], Any]) -> Result:
    """检查读者的 ``train(optimizer_cls)``：它用给定的优化器类训练一个模型并返回参数列表。

    依次检查：每一步之前都调用了 ``zero_grad()``；参数确实被更新了；用 ``torch.optim.Adam`` 与
    ``optimlab.Adam`` 训练得到的参数逐位相同。从不抛出异常。
    """
    watched: list[_Watched] = []

    def watched_cls(*args: Any, **kwargs: Any) -> _Watched:
        watched.append(_Watched(*args, **kwargs))
        return watched[-1]

    out, err = call_user(train, watched_cls)
    if err is not None:
        return err
    params = _as_tensors(out)
    if params is None:
        return Result(False, "train 应返回参数张量的列表，例如 [p.detach() for p in model.parameters()]")
    if not watched or watched[0].steps == 0:
        return Result(False, "优化器的 step() 一次也没有被调用")
    if watched[0].missing:
        return Result(False, f"第 {watched[0].missing[0]} 次 step() 之前没有调用 optimizer.zero_grad()：梯度会在各步之间累加")
    frozen, err = call_user(train, _Frozen)
    if err is not None:
        return err
    if all(torch.equal(a, b) for a, b in zip(params, _as_tensors(frozen) or [], strict=False)):
        return Result(False, "参数没有变化：是否在 step() 之前调用了 loss.backward()？")
    theirs, err = call_user(train, torch.optim.Adam)
    if err is not None:
        return err
    ours, err = call_user(train, Adam)
    if err is not None:
        return err
    theirs, ours = _as_tensors(theirs), _as_tensors(ours)
    if theirs is None or ours is None or len(theirs) != len(ours):
        return Result(False, "两次调用返回的参数个数不同：train 里是否用了没有固定种子的随机数？")
    for i, (a, b) in enumerate(zip(theirs, ours)):
        if a.shape != b.shape or not torch.equal(a, b):
            return Result(False, f"第 {i} 个参数不一致：train 里的随机数（初始化、数据）是否都用 torch.manual_seed 固定了？")
    return Result(True, f"用 torch.optim.Adam 与 optimlab.Adam 训练 {watched[0].steps} 步，{len(ours)} 个参数逐位相同")
