"""所有 optimlab 优化器共用的部分（不含任何具体算法）。

``BaseOptimizer`` 继承 :class:`torch.optim.Optimizer`，负责：

* ``step(closure)``：在 ``torch.no_grad()`` 下遍历参数组，跳过 ``.grad is None`` 的参数；
* 按 torch.optim 的顺序做稀疏梯度检查与状态的惰性初始化；
* 拒绝 optimlab 不支持的性能开关（``fused`` / ``capturable`` / ``differentiable``）；
* ``__setstate__``：载入旧格式状态时把 ``step`` 等标量转换成张量。

具体算法只需实现 ``_init_state``\\ （新参数的状态）和 ``_update``\\ （一个参数的一步更新）。
每个算法的 ``_update`` 就是书中对应章节的公式，逐行对应。
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = [
    "BaseOptimizer", "as_scalar", "check_betas", "check_fused", "check_nonnegative", "check_unsupported",
    "evaluate", "like", "real_view", "scalar_dtype", "value",
]

# optimlab 只有一份单张量循环实现；以下开关属于 torch 的其他实现（CUDA Graph、
# 可微优化器、融合内核），打开时报错，而不是悄悄给出不同的行为。
_UNSUPPORTED_FLAGS = ("fused", "capturable", "differentiable")


def scalar_dtype() -> torch.dtype:
    """``step`` 这类标量状态的 dtype：默认 dtype 为 float64 时用 float64，否则 float32（同 torch）。"""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def as_scalar(x: Any) -> Any:
    """把 1 元素的多维张量超参数压成 0 维张量；Python 数保持不变。"""
    if isinstance(x, Tensor) and x.dim() != 0:
        return x.squeeze()
    return x


def value(x: Any) -> Any:
    """取出 0 维张量的 Python 数值（``.item()``），Python 数原样返回。"""
    return x.item() if isinstance(x, Tensor) else x


def evaluate(closure: Any) -> Any:
    """``step(closure)`` 的第一件事：在启用梯度的环境下调用闭包，返回它的损失（没有闭包时为 ``None``）。"""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def like(x: Any, param: Tensor) -> Any:
    """张量超参数（如张量形式的 β₁）移到参数的设备与 dtype 上，``lerp_`` 这类运算才能使用它；Python 数原样返回。"""
    return x.to(device=param.device, dtype=param.dtype) if isinstance(x, Tensor) else x


def real_view(*tensors: Tensor) -> tuple[Tensor, ...]:
    """复数张量换成实数视图 ``view_as_real``\\ （共享存储），实数张量原样返回。"""
    return tuple(torch.view_as_real(t) if torch.is_complex(t) else t for t in tensors)


#: torch 构造函数中"不得为负"检查的报错信息；其余超参数都是 ``Invalid <名称> value: <值>``。
_NONNEGATIVE_MESSAGES = {"lr": "Invalid learning rate: {}", "eps": "Invalid epsilon value: {}"}


def check_nonnegative(**values: Any) -> None:
    """torch 构造函数中的 ``if not 0.0 <= x: raise ValueError(...)``，按关键字给出的顺序检查。

    顺序与 torch 的构造函数相同，几个值同时非法时报的是同一个错误；NaN 不满足 ``0.0 <= x``，同样报错。
    torch 写法不同的检查（SGD 的 ``lr < 0.0``、SparseAdam 的 ``0.0 < lr``、Adafactor 与 Muon 的
    另一种措辞）留在各自的构造函数里，照原样写出。
    """
    for name, x in values.items():
        if not 0.0 <= x:
            raise ValueError(_NONNEGATIVE_MESSAGES.get(name, f"Invalid {name} value: {{}}").format(x))


def check_betas(betas: tuple[Any, Any]) -> None:
    """:math:`0 \\le \\beta_1, \\beta_2 < 1`，报错信息同 torch。"""
    for i in (0, 1):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")


def check_fused(fused: Any, foreach: Any, differentiable: Any) -> None:
    """torch 对 ``fused`` 与其他开关组合的检查（在 ``Optimizer.__init__`` 之后进行）。"""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def check_unsupported(cls_name: str, **flags: Any) -> None:
    """``fused`` / ``capturable`` / ``differentiable`` 为真时给出明确的错误。"""
    for name in _UNSUPPORTED_FLAGS:
        if flags.get(name):
            raise NotImplementedError(
                f"optimlab.{cls_name} 不支持 {name}=True：optimlab 只有一份逐个张量更新的"
                f"易读实现；需要 {name} 时请用 torch.optim.{cls_name}"
            )


class BaseOptimizer(Optimizer):
    """optimlab 优化器的基类。子类设置以下类属性并实现 ``_init_state`` 与 ``_update``。"""

    #: 不接受稀疏梯度时的报错信息（与 torch 一字不差）；``None`` 表示由 ``_update`` 自己处理。
    _sparse_error: str | None = None
    #: 载入旧状态时需要从 Python 数转换成张量的标量状态键。
    _scalar_state: tuple[str, ...] = ("step",)
    #: 载入旧状态时参数组缺少的键及其默认值（同 torch 各优化器的 ``__setstate__``）。
    _group_setdefault: dict[str, Any] = {}

    def _uses_state(self, group: dict[str, Any]) -> bool:
        """该参数组是否需要每个参数的状态（SGD 在 momentum=0 时不需要）。"""
        return True

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _check_group(self, group: dict[str, Any]) -> None:
        """参数组级的兼容性检查，torch 在 ``_init_group`` 中对每个有梯度的参数、初始化状态之后进行
        （例如 Adam 的“张量学习率与 foreach”）。默认什么也不做；放在这里，``_update`` 只剩公式。"""

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        """执行一步优化。

        Args:
            closure (Callable, optional): 重新计算损失并返回它的闭包（在启用梯度的环境下调用）。
        """
        loss = evaluate(closure)

        for group in self.param_groups:
            check_unsupported(type(self).__name__, **group)
            uses_state = self._uses_state(group)
            todo = []
            # 与 torch 的 _init_group 同序：先检查稀疏并惰性初始化整组的状态，再逐个更新。
            for p in group["params"]:
                if p.grad is None:
                    continue
                if self._sparse_error is not None and p.grad.is_sparse:
                    raise RuntimeError(self._sparse_error)
                state = None
                if uses_state:
                    state = self.state[p]
                    if len(state) == 0:
                        self._init_state(p, state, group)
                self._check_group(group)
                todo.append((p, state))
            for p, state in todo:
                self._update(p, p.grad, state, group)
        return loss

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for key, default in self._group_setdefault.items():
                group.setdefault(key, default)
            for p in group["params"]:
                p_state = self.state.get(p, {})
                for key in self._scalar_state:
                    if key in p_state and not torch.is_tensor(p_state[key]):
                        p_state[key] = torch.tensor(float(p_state[key]), dtype=scalar_dtype())
