"""所有 optimlab 优化器共用的部分（不含任何具体算法）。

``BaseOptimizer`` 继承 :class:`torch.optim.Optimizer`，负责：

* 构造：构造参数就是参数组的默认值；``fused`` 的组合检查；拒绝 optimlab 不支持的性能开关
  （``fused`` / ``capturable`` / ``differentiable``）；
* ``step(closure)``：在 ``torch.no_grad()`` 下遍历参数组，跳过 ``.grad is None`` 的参数，
  按 torch.optim 的顺序做复数与稀疏检查、惰性初始化状态（标量状态与零缓冲，用 torch 的状态键）；
* ``__setstate__``：载入旧格式状态时把 ``step`` 等标量转换成张量，补齐参数组缺少的键。

构造参数的检查也在这里（``check_tensor_lr``、``check_nonnegative``、``check_betas``），报错信息同 torch。
具体算法只需声明自己的状态（类属性 ``_buffers`` 等，特殊的才覆盖 ``_init_state``）并实现 ``_update``\\ （一个参数的
一步更新）。每个算法的 ``_update`` 就是书中对应章节的公式，逐行对应。
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = [
    "FLAG_DEFAULTS", "BaseOptimizer", "as_scalar", "check_betas", "check_fused", "check_nonnegative",
    "check_tensor_lr", "check_unsupported", "evaluate", "like", "real_view", "scalar_dtype", "value", "zero_buffers",
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


def check_tensor_lr(lr: Any, *, foreach: Any = None, capturable: Any = False) -> None:
    """张量学习率必须只有一个元素；Adam 类还拒绝 ``foreach=True`` 且 ``capturable=False`` 的张量学习率（同 torch）。"""
    if isinstance(lr, Tensor):
        if foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
        if lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")


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


def zero_buffers(p: Tensor, state: dict[str, Any], *names: str) -> None:
    """``state[name]`` 设为与 ``p`` 同形状、同内存格式的零张量，按给出的顺序（torch 的状态键名）。"""
    for name in names:
        state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)


#: torch 中 ``foreach``、``maximize``、``differentiable``、``capturable`` 四个开关的参数组默认值；
#: torch 多数优化器的 ``__setstate__`` 用它补齐旧状态里缺少的键。
FLAG_DEFAULTS: dict[str, Any] = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}


def check_unsupported(cls_name: str, **flags: Any) -> None:
    """``fused`` / ``capturable`` / ``differentiable`` 为真时给出明确的错误。"""
    for name in _UNSUPPORTED_FLAGS:
        if flags.get(name):
            raise NotImplementedError(
                f"optimlab.{cls_name} 不支持 {name}=True：optimlab 只有一份逐个张量更新的"
                f"易读实现；需要 {name} 时请用 torch.optim.{cls_name}"
            )


class BaseOptimizer(Optimizer):
    """optimlab 优化器的基类。子类用以下类属性声明自己与 torch 不同的地方，并实现 ``_update``。

    构造函数做完参数检查后调用 ``super().__init__(params, defaults)``\\ ：构造参数（除 ``params``）就是
    参数组的默认值，键的顺序同 torch；随后这里做 torch 在 ``Optimizer.__init__`` 之后的 ``fused`` 检查，
    并拒绝 optimlab 不支持的开关。

    torch 的 ``foreach`` 参数被接受但忽略（optimlab 只有单张量循环）；``fused``、``capturable``、``differentiable``
    为 ``True`` 时抛出 ``NotImplementedError``。各优化器有哪些开关与 torch 相同。

    所有优化器的第一个参数 ``params`` 是待优化的参数：可迭代的张量、``named_parameters()`` 或参数组字典
    （同 torch）；各优化器的 Args 只列出 ``params`` 之后的参数。
    """

    #: 不接受稀疏梯度时的报错信息（与 torch 一字不差）；``None`` 表示由 ``_update`` 自己处理。
    _sparse_error: str | None = None
    #: 不接受复数参数时的报错信息（Adafactor、Muon），在稀疏检查之前；``None`` 表示接受。
    _complex_error: str | None = None
    #: 标量状态及其初值：``_init_state`` 先按此顺序建 0 维张量（dtype 见 :func:`scalar_dtype`），
    #: 载入旧状态时把这些键从 Python 数转换成张量。
    _scalar_state: dict[str, float] = {"step": 0.0}
    #: 与参数同形状的零缓冲，用 torch 的状态键，在标量状态之后按此顺序创建。
    _buffers: tuple[str, ...] = ()
    #: 状态缺少这个键时初始化（torch 的 Muon）；``None`` 表示状态为空时初始化（其余优化器）。
    _init_key: str | None = None
    #: 载入旧状态时参数组缺少的键及其默认值（同 torch 各优化器的 ``__setstate__``）；``None`` 表示
    #: :data:`FLAG_DEFAULTS` 中本优化器的构造函数也有的那几个开关（torch 多数优化器正是这样做的）。
    _group_setdefault: dict[str, Any] | None = None

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)
        if "fused" in defaults:
            check_fused(defaults["fused"], defaults["foreach"], defaults["differentiable"])
        check_unsupported(type(self).__name__, **defaults)

    def _uses_state(self, group: dict[str, Any]) -> bool:
        """该参数组是否需要每个参数的状态（SGD 在 momentum=0 时不需要）。"""
        return True

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        """新参数的状态：``_scalar_state`` 的 0 维张量，再是 ``_buffers`` 的零缓冲（同 torch 的顺序）。"""
        for key, init in self._scalar_state.items():
            state[key] = torch.tensor(init, dtype=scalar_dtype())
        zero_buffers(p, state, *self._buffers)

    def _check_param(self, p: Tensor) -> None:
        """有梯度的参数在初始化状态之前的检查：先复数参数，再稀疏梯度（报错信息见类属性）。"""
        if self._complex_error is not None and torch.is_complex(p):
            raise RuntimeError(self._complex_error)
        if self._sparse_error is not None and p.grad.is_sparse:
            raise RuntimeError(self._sparse_error)

    def _prepare(self, p: Tensor, state: dict[str, Any] | None, group: dict[str, Any]) -> None:
        """初始化状态之后、本组任何更新之前，对每个有梯度的参数做的其余事情（torch 的 ``_init_group``），
        例如 Adam 的参数组级兼容性检查。默认什么也不做；放在这里，``_update`` 只剩公式。"""

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _prepare_group(self, group: dict[str, Any]) -> list[tuple[Tensor, dict[str, Any] | None]]:
        """与 torch 的 ``_init_group`` 同序：逐个有梯度的参数检查、惰性初始化状态、``_prepare``；
        返回 ``(参数, 状态)`` 列表。整组准备好之后才开始更新，所以出错时本组没有任何参数被改动。"""
        uses_state = self._uses_state(group)
        todo = []
        for p in group["params"]:
            if p.grad is None:
                continue
            self._check_param(p)
            state = None
            if uses_state:
                state = self.state[p]
                if (self._init_key not in state) if self._init_key is not None else len(state) == 0:
                    self._init_state(p, state, group)
            self._prepare(p, state, group)
            todo.append((p, state))
        return todo

    def _update_group(self, group: dict[str, Any], todo: list[tuple[Tensor, dict[str, Any] | None]]) -> None:
        """逐个参数调用 ``_update``。"""
        for p, state in todo:
            self._update(p, p.grad, state, group)

    @torch.no_grad()
    def step(self, closure=None):
        """执行一步优化。

        Args:
            closure (Callable, optional): 重新计算损失并返回它的闭包（在启用梯度的环境下调用）。
        """
        loss = evaluate(closure)
        for group in self.param_groups:
            check_unsupported(type(self).__name__, **group)
            self._update_group(group, self._prepare_group(group))
        return loss

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        setdefault = self._group_setdefault
        if setdefault is None:  # 构造函数里有的那几个开关（不看 defaults：torch 的 __setstate__ 会往里加键）
            names = inspect.signature(type(self)).parameters
            setdefault = {key: default for key, default in FLAG_DEFAULTS.items() if key in names}
        for group in self.param_groups:
            for key, default in setdefault.items():
                group.setdefault(key, default)
            for p in group["params"]:
                p_state = self.state.get(p, {})
                for key in self._scalar_state:
                    if key in p_state and not torch.is_tensor(p_state[key]):
                        p_state[key] = torch.tensor(float(p_state[key]), dtype=scalar_dtype())
