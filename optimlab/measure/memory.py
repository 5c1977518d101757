"""优化器状态占用的内存：按 ``optimizer.state`` 里的张量数字节。"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..training import mlp

@dataclass
class StateMemory:
    """优化器状态占用的内存。

    Attributes:
        per_param: 与参数逐元素对应的状态张量（``exp_avg``、``momentum_buffer`` ……）的总字节数
            除以参数个数，即"每个参数要额外存几个字节"。
        by_key: 同上，按状态键分开。
        scalar_bytes: 其余状态张量的总字节数：0 维张量（``step``、``mu_product`` 等），以及形状与参数
            不同的张量（Adafactor 的行、列因子，LBFGS 挂在第一个参数上的展平向量与历史列表）。
        n_params: 参数（标量）个数。
        array_per_param: 所有至少一维的状态张量（含列表中的张量）的总字节数除以参数个数，即 ``per_param``
            再加上 Adafactor 的因子、LBFGS 的历史向量这类"形状不同、但随模型变大"的状态；不含 0 维张量。
        array_by_key: 同上，按状态键分开。
    """

    per_param: float
    by_key: dict[str, float]
    scalar_bytes: int
    n_params: int
    array_per_param: float = 0.0
    array_by_key: dict[str, float] = field(default_factory=dict)

    @property
    def zero_dim_bytes(self) -> int:
        """0 维状态张量（``step``、``mu_product``、LBFGS 的 ``ro`` ……）的总字节数，与模型大小无关。"""
        return round(self.per_param * self.n_params) + self.scalar_bytes - round(self.array_per_param * self.n_params)


def _state_tensors(value: object) -> list[Tensor]:
    """状态值中的张量：张量本身，或列表、元组中的张量（LBFGS 的 ``old_dirs`` 等）。"""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, Tensor)]
    return []


def state_nbytes(optimizer: torch.optim.Optimizer) -> StateMemory:
    """从 ``optimizer.state`` 统计状态张量的字节数（``numel × element_size``）。

    与参数形状相同的状态张量计入 ``per_param``；其余张量（0 维的、元素个数与参数不同的）计入
    ``scalar_bytes``。所有至少一维的张量（包括列表里的，如 LBFGS 的历史 ``old_dirs``、``old_stps``）
    另外计入 ``array_per_param``。参数个数按所有参数组里的参数计算。注意：SGD 的动量缓冲、以及所有
    优化器的状态都是在 **第一次** ``step()`` 时才创建的，统计前至少要走一步。
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    n_params = sum(p.numel() for p in params)
    by_key: dict[str, int] = {}
    arrays: dict[str, int] = {}
    scalar = 0
    for p in params:
        for key, val in optimizer.state.get(p, {}).items():
            for tensor in _state_tensors(val):
                nbytes = tensor.numel() * tensor.element_size()
                if tensor.dim() > 0:
                    arrays[key] = arrays.get(key, 0) + nbytes
                if isinstance(val, Tensor) and val.numel() == p.numel() and val.dim() > 0:
                    by_key[key] = by_key.get(key, 0) + nbytes
                else:
                    scalar += nbytes
    return StateMemory(
        per_param=sum(by_key.values()) / n_params,
        by_key={k: v / n_params for k, v in by_key.items()},
        scalar_bytes=scalar,
        n_params=n_params,
        array_per_param=sum(arrays.values()) / n_params,
        array_by_key={k: v / n_params for k, v in arrays.items()},
    )


def measure_state(
    optimizer: Callable[..., torch.optim.Optimizer],
    model: nn.Module | None = None,
    dtype: torch.dtype = torch.float32,
    inputs: Tensor | None = None,
    steps: int = 1,
    **hparams,
) -> StateMemory:
    """建一个模型（默认 ``mlp(64, 32, 10)``），用随机数据走 ``steps`` 步 ``optimizer``，再统计状态内存。

    ``dtype`` 是模型参数的类型：状态张量与参数同类型，所以 float64 时字节数翻倍。``inputs`` 默认是
    8 行标准正态随机数（列数取第一个参数的最后一维）；嵌入层这类要整数输入的模型须自己给出。
    每一步都通过闭包调用 ``step(closure)``\\ （LBFGS 必须有闭包，其他优化器也接受闭包）；LBFGS 的历史
    随步数增长，要走满 ``history_size`` 次迭代才达到最大。
    """
    model = mlp(64, 32, 10) if model is None else model
    model = model.to(dtype)
    if inputs is None:
        gen = torch.Generator().manual_seed(0)
        first = next(model.parameters())
        inputs = torch.randn(8, first.shape[-1], generator=gen, dtype=dtype)
    opt = optimizer(model.parameters(), **hparams)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = model(inputs).pow(2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return state_nbytes(opt)
