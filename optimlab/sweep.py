r"""批量超参数扫描：把 K 组超参数放进张量的 K 行，一次运行代替 K 次运行。

``sweep(surface, "Adam", lr=lrs, beta1=b1s)`` 在二维曲面上同时优化 K 个点，第 i 个点用第 i 组超参数。
结果与 K 次 :func:`optimlab.trajectory.run`\ （用 optimlab 的优化器）**逐位相同**，发散的判定规则也相同。

为什么不直接调用优化器的 ``_update``：它的 ``add(..., alpha=)``、``addcmul(..., value=)``、
``addcdiv(..., value=)`` 只接受 Python 数，而这里每一行的系数不同。所以本文件为每个算法写了一个
逐行内核（``_sgd``、``_adam`` ……），每条语句与 ``_update`` 的同一行对应，带同样的 ``# (k)`` 编号；
公式本身只在 ``optimlab/optim`` 各类的文档字符串里写一次。``tests/test_sweep.py`` 把二者锁在一起：
逐位比较 K 次单独运行的结果，并检查两边的 ``(k)`` 编号集合相同。

逐位一致靠以下三条（都由测试检查）：

* 单张量代码中 ``x.add(y, alpha=c)`` 的标量核按 ``x + c * y`` 计算，编译器可能把它合成一次 FMA（只舍入一次）；
  逐行系数 ``c``\ （形状 ``(K, 1)``）时写成 ``torch.addcmul(x, c, y)``，它走同样的表达式。同理
  ``x.addcmul(y, z, value=c)`` 写成 ``torch.addcmul(x, c * y, z)``，``x.addcdiv(y, z, value=c)`` 写成
  ``torch.addcdiv(x, c * y, z)``。``lerp`` 直接接受逐行的权重张量。
* 单张量代码中用 Python ``float`` 计算的量，凡含 ``**``\ （``1 - β₁ᵗ``、``√(1 - β₂ᵗ)``、NAdam 的 μ_t）
  都仍在 Python 中计算（每个不同的取值算一次，见 ``_python_table``）：``torch.pow`` 与 C 库的 ``pow``
  不保证逐位相同。只含 ``+ − × ÷`` 的量在张量上按同样的顺序计算，IEEE 754 保证结果相同。
* 与参数同 dtype 的运算都是 float64；NAdam 的 :math:`\Pi_t`\ （``mu_product``）与单张量代码一样是
  ``scalar_dtype()``\ （通常为 float32）。
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import optim
from .optim.adam import bias_corrections
from .optim.base import scalar_dtype
from .optim.nadam import momentum_schedule
from .problems import Surface
from .trajectory import Trajectory, diverged

__all__ = ["SweepResult", "sweep", "sweep_grid", "sensitivity_grid", "OPTIMIZERS", "SENSITIVITY_PARAMS"]

#: 可扫描的优化器。
OPTIMIZERS = ("SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad")

# 构造函数里属于 torch 其他实现的开关，扫描时不接受。
_IMPLEMENTATION_FLAGS = ("foreach", "capturable", "differentiable", "fused")


@dataclass
class SweepResult:
    """一次批量扫描的结果。以下 ``S`` 是设置的形状：``sweep`` 为 ``(K,)``，``sweep_grid`` 为各网格轴的长度。

    Attributes:
        settings: 超参数名 → 形状 ``S`` 的数组（含取默认值的超参数与布尔开关）。
        path: 形状 ``S + (steps + 1, 2)``，float64；发散的那一步及之后为 NaN。
        loss: 形状 ``S + (steps + 1,)``；``loss[..., k]`` 是第 k 步之后的函数值，发散后为 NaN。
        diverged_at: 形状 ``S`` 的整数数组：第一次出现非有限值或越界的步数（从 1 开始），没有发散为 -1。
        optimizer: 优化器名称。
    """

    settings: dict[str, np.ndarray]
    path: np.ndarray
    loss: np.ndarray
    diverged_at: np.ndarray
    optimizer: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        """设置的形状 ``S``。"""
        return self.diverged_at.shape

    @property
    def final_loss(self) -> np.ndarray:
        """最后的损失，形状 ``S``；发散处为 ``inf``。"""
        return np.where(self.diverged_at >= 0, np.inf, self.loss[..., -1])

    def trajectory(self, *index: int, label: str = "") -> Trajectory:
        """第 ``index`` 组设置的结果，作为 :class:`~optimlab.trajectory.Trajectory`\\ （便于画图）。"""
        at = int(self.diverged_at[index])
        return Trajectory(self.path[index].copy(), self.loss[index].copy(), None if at < 0 else at, label)


# ---------------------------------------------------------------------------------------------------
# 逐行内核。param、grad 与状态形状 (K, 2)；h[name] 是形状 (K, 1) 的逐行超参数（布尔开关为 Python bool），
# h[表名][t] 是第 t 步的 Python 标量表（形状 (K, 1)）。每条语句对应优化器 _update 的同编号一行。
# 这些内核是 optimlab/optim 中 _update 的批量孪生（tests/test_sweep.py 逐位锁定），彼此的开头（读逐行超参数、
# 建零状态）也像各 _update 的开头一样相似：这是有意的，每个内核只逐行对应自己的 _update，不与别的内核共用代码。
# ---------------------------------------------------------------------------------------------------


def _l2(grad: Tensor, param: Tensor, weight_decay: Tensor) -> Tensor:
    """``if weight_decay != 0: grad = grad.add(param, alpha=weight_decay)`` 的逐行版本。"""
    return torch.where(weight_decay != 0, torch.addcmul(grad, weight_decay, param), grad)


def _sgd_init(param: Tensor, h: dict[str, Any]) -> dict[str, Tensor]:
    return {}  # 动量缓冲在第一次更新时由梯度本身创建，见 (3)


def _sgd(param: Tensor, grad: Tensor, state: dict[str, Tensor], h: dict[str, Any], t: int) -> None:
    lr, weight_decay, momentum = h["lr"], h["weight_decay"], h["momentum"]

    grad = -grad if h["maximize"] else grad  # (1) g_t
    grad = _l2(grad, param, weight_decay)  # (2) g_t ← g_t + λθ

    if t == 1:
        buf = grad.clone()  # (3) b_1 = g_1
    else:
        buf = torch.addcmul(state["momentum_buffer"] * momentum, 1 - h["dampening"], grad)  # (3) b_t = μb + (1 − τ)g
    state["momentum_buffer"] = buf
    if h["nesterov"]:
        d = torch.addcmul(grad, momentum, buf)  # (4) d_t = g_t + μb_t
    else:
        d = buf  # (4) d_t = b_t
    grad = torch.where(momentum != 0, d, grad)  # (4) μ = 0 时 d_t = g_t

    param.addcmul_(-lr, grad)  # (5) θ_t = θ − η d_t


def _adam_init(param: Tensor, h: dict[str, Any]) -> dict[str, Tensor]:
    state = {"exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}
    if h["amsgrad"]:
        state["max_exp_avg_sq"] = torch.zeros_like(param)
    return state


def _adam(param: Tensor, grad: Tensor, state: dict[str, Tensor], h: dict[str, Any], t: int) -> None:
    lr, beta1, beta2, eps, weight_decay = h["lr"], h["beta1"], h["beta2"], h["eps"], h["weight_decay"]
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]

    grad = -grad if h["maximize"] else grad  # (1) g_t
    if h["decoupled_weight_decay"]:
        param.mul_(1 - lr * weight_decay)  # (2) θ ← (1 − ηλ)θ   (AdamW；λ = 0 的行乘以 1，不变)
    else:
        grad = _l2(grad, param, weight_decay)  # (2) g_t ← g_t + λθ   (L2)

    exp_avg.lerp_(grad, 1 - beta1)  # (3) m_t = β₁m + (1 − β₁)g
    exp_avg_sq.mul_(beta2).addcmul_((1 - beta2) * grad, grad)  # (4) v_t = β₂v + (1 − β₂)g²

    bias_correction1, bias_correction2_sqrt = h["bias_correction1"][t], h["bias_correction2_sqrt"][t]  # (6)
    step_size = lr / bias_correction1  # (7) η / (1 − β₁ᵗ)

    if h["amsgrad"]:
        max_exp_avg_sq = state["max_exp_avg_sq"]
        torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)  # (5) vᵐᵃˣ = max(vᵐᵃˣ, v_t)
        exp_avg_sq = max_exp_avg_sq

    denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)  # (6)(7) √v̂_t + ε
    param.addcdiv_(-step_size * exp_avg, denom)  # (7) θ_t = θ − η m̂_t / (√v̂_t + ε)


def _nadam_init(param: Tensor, h: dict[str, Any]) -> dict[str, Tensor]:
    return {
        "mu_product": torch.ones(param.shape[0], 1, dtype=scalar_dtype()),
        "exp_avg": torch.zeros_like(param),
        "exp_avg_sq": torch.zeros_like(param),
    }


def _nadam(param: Tensor, grad: Tensor, state: dict[str, Tensor], h: dict[str, Any], t: int) -> None:
    lr, beta1, beta2, eps, weight_decay = h["lr"], h["beta1"], h["beta2"], h["eps"], h["weight_decay"]
    mu_product, exp_avg, exp_avg_sq = state["mu_product"], state["exp_avg"], state["exp_avg_sq"]

    grad = -grad if h["maximize"] else grad  # (1) g_t
    bias_correction2 = h["bias_correction2"][t]  # (7) 1 − β₂ᵗ

    if h["decoupled_weight_decay"]:
        param.mul_(1 - lr * weight_decay)  # (2) θ ← (1 − ηλ)θ
    else:
        grad = _l2(grad, param, weight_decay)  # (2) g_t ← g_t + λθ

    mu = h["mu"][t]  # (3) μ_t
    mu_next = h["mu"][t + 1]  # (3) μ_{t+1}
    mu_product.mul_(mu.to(mu_product.dtype))  # (4) Π_t = Π_{t−1} μ_t（与单张量代码一样在 Π 的 dtype 中相乘）

    exp_avg.lerp_(grad, 1 - beta1)  # (5) m_t
    exp_avg_sq.mul_(beta2).addcmul_((1 - beta2) * grad, grad)  # (6) v_t
    denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps)  # (7)(8) √v̂_t + ε

    mu_product = mu_product.double()
    mu_product_next = mu_product * mu_next  # (8) Π_t μ_{t+1}
    param.addcdiv_((-lr * (1.0 - mu) / (1.0 - mu_product)) * grad, denom)  # (8) 梯度项
    param.addcdiv_(((-lr * mu_next) / (1.0 - mu_product_next)) * exp_avg, denom)  # (8) 动量项


def _rmsprop_init(param: Tensor, h: dict[str, Any]) -> dict[str, Tensor]:
    state = {"square_avg": torch.zeros_like(param), "momentum_buffer": torch.zeros_like(param)}
    if h["centered"]:
        state["grad_avg"] = torch.zeros_like(param)
    return state


def _rmsprop(param: Tensor, grad: Tensor, state: dict[str, Tensor], h: dict[str, Any], t: int) -> None:
    lr, alpha, eps, weight_decay, momentum = h["lr"], h["alpha"], h["eps"], h["weight_decay"], h["momentum"]
    square_avg = state["square_avg"]

    grad = -grad if h["maximize"] else grad  # (1) g_t
    grad = _l2(grad, param, weight_decay)  # (2) g_t ← g_t + λθ

    square_avg.mul_(alpha).addcmul_((1 - alpha) * grad, grad)  # (3) v_t = αv + (1 − α)g²

    if h["centered"]:
        grad_avg = state["grad_avg"]
        grad_avg.lerp_(grad, 1 - alpha)  # (4) ḡ_t = αḡ + (1 − α)g
        avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()  # (4) √(v_t − ḡ_t²)
    else:
        avg = square_avg.sqrt()  # (4) √v_t
    avg = avg.add_(eps)  # (5)(6) √ṽ_t + ε

    buf = state["momentum_buffer"]
    buf.mul_(momentum).addcdiv_(grad, avg)  # (5) b_t = μb + g/(√ṽ + ε)
    with_momentum = torch.addcmul(param, -lr, buf)  # (5) θ_t = θ − ηb_t
    without_momentum = torch.addcdiv(param, -lr * grad, avg)  # (6) θ_t = θ − ηg/(√ṽ + ε)
    param.copy_(torch.where(momentum > 0, with_momentum, without_momentum))


def _adagrad_init(param: Tensor, h: dict[str, Any]) -> dict[str, Tensor]:
    return {"sum": h["initial_accumulator_value"].expand_as(param).clone()}


def _adagrad(param: Tensor, grad: Tensor, state: dict[str, Tensor], h: dict[str, Any], t: int) -> None:
    lr, weight_decay, eps = h["lr"], h["weight_decay"], h["eps"]
    state_sum = state["sum"]

    grad = -grad if h["maximize"] else grad  # (1) g_t
    grad = _l2(grad, param, weight_decay)  # (2) g_t ← g_t + λθ

    clr = lr / (1 + (t - 1) * h["lr_decay"])  # (3) η̃_t

    state_sum.addcmul_(grad, grad, value=1)  # (4) s_t = s + g²
    std = state_sum.sqrt().add_(eps)  # (5) √s_t + ε
    param.addcdiv_(-clr * grad, std)  # (5) θ_t = θ − η̃ g/(√s_t + ε)


# 在 Python 中计算的标量表：表名 → (函数 f(t, *取值), 取值的超参数名)。与单张量代码中的表达式逐字相同。
_TABLES: dict[str, dict[str, tuple[Callable[..., float], tuple[str, ...]]]] = {
    "Adam": {  # optimlab.optim.adam.bias_corrections：与 Adam._update 调用同一个函数
        "bias_correction1": (lambda t, beta1: bias_corrections(beta1, 0.0, t)[0], ("beta1",)),
        "bias_correction2_sqrt": (lambda t, beta2: bias_corrections(0.0, beta2, t)[1], ("beta2",)),
    },
    "NAdam": {  # optimlab.optim.nadam.momentum_schedule：与 NAdam._update 调用同一个函数
        "bias_correction2": (lambda t, beta2: 1 - beta2**t, ("beta2",)),
        "mu": (lambda t, beta1, psi: momentum_schedule(beta1, psi, t), ("beta1", "momentum_decay")),
    },
}
_TABLES["AdamW"] = _TABLES["Adam"]

_KERNELS: dict[str, tuple[Callable, Callable]] = {
    "SGD": (_sgd_init, _sgd),
    "Adam": (_adam_init, _adam),
    "AdamW": (_adam_init, _adam),
    "NAdam": (_nadam_init, _nadam),
    "RMSprop": (_rmsprop_init, _rmsprop),
    "Adagrad": (_adagrad_init, _adagrad),
}


# ---------------------------------------------------------------------------------------------------
# 超参数：名称与默认值取自优化器类的构造函数（默认值只写一处）；合法性由构造函数本身检查。
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    name: str
    cls: type
    hparams: dict[str, float] = field(default_factory=dict)  # 数值超参数 → 默认值
    flags: dict[str, bool] = field(default_factory=dict)  # 布尔开关 → 默认值


def _spec(name: str) -> _Spec:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {list(OPTIMIZERS)}")
    cls = getattr(optim, name)
    hparams: dict[str, float] = {}
    flags: dict[str, bool] = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[2:]:  # 跳过 self、params
        if p.name in _IMPLEMENTATION_FLAGS:
            continue
        if p.name == "betas":
            hparams["beta1"], hparams["beta2"] = p.default
        elif isinstance(p.default, bool):
            flags[p.name] = p.default
        else:
            hparams[p.name] = p.default
    if name == "AdamW":
        flags["decoupled_weight_decay"] = True  # AdamW 固定解耦，不是可选开关
    return _Spec(name, cls, hparams, flags)


def _constructor_kwargs(spec: _Spec, row: dict[str, float], flags: dict[str, bool]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {k: v for k, v in row.items() if k not in ("beta1", "beta2")}
    if "beta1" in row:
        kwargs["betas"] = (row["beta1"], row["beta2"])
    kwargs.update(flags)
    if spec.name == "AdamW":
        del kwargs["decoupled_weight_decay"]
    return kwargs


def _parse(spec: _Spec, hparams: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, bool], int]:
    """把用户给的超参数整理成 (名称 → (K,) float64 数组, 开关, K)，并检查形状。"""
    allowed = [*spec.hparams, *(f for f in spec.flags if not (spec.name == "AdamW" and f == "decoupled_weight_decay"))]
    for name in hparams:
        if name not in allowed:
            raise TypeError(f"{spec.name} has no hyperparameter {name!r}; choose from {allowed}")
    flags = dict(spec.flags)
    for name in spec.flags:
        if name in hparams:
            v = hparams[name]
            if np.ndim(v) != 0 or not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"{name} must be a single bool, got {v!r}")
            flags[name] = bool(v)
    values = {name: np.asarray(hparams.get(name, default), dtype=np.float64) for name, default in spec.hparams.items()}
    lengths = {}
    for name, v in values.items():
        if v.ndim > 1:
            raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {v.shape}")
        if v.ndim == 1:
            if v.size == 0:
                raise ValueError(f"{name} must not be empty")
            lengths[name] = v.size
    if len(set(lengths.values())) > 1:
        raise ValueError(f"all hyperparameter arrays must have the same length, got {lengths}")
    k = next(iter(lengths.values()), 1)
    return {name: np.broadcast_to(v, (k,)).copy() for name, v in values.items()}, flags, k


def _validate(spec: _Spec, values: dict[str, np.ndarray], flags: dict[str, bool]) -> None:
    """对每组不同的设置构造一次 optimlab 优化器：非法值抛出与构造函数相同的异常。"""
    dummy = [torch.zeros(2, dtype=torch.float64, requires_grad=True)]
    names = list(values)
    for row in dict.fromkeys(zip(*(values[n].tolist() for n in names))):
        spec.cls(dummy, **_constructor_kwargs(spec, dict(zip(names, row)), flags))


@contextmanager
def _one_thread():
    """临时只用一个线程：K × 2 个元素的小张量上，线程间交接的开销远大于计算（逐元素运算的结果与线程数无关）。"""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _python_table(fn: Callable[..., float], columns: Sequence[np.ndarray], steps: int) -> Tensor:
    """``fn(t, *取值)`` 对 t = 1 … steps + 1 与每组不同取值在 Python 中求值；返回 ``(steps + 2, K, 1)``，第 t 行对应 t。"""
    keys = np.stack(columns, axis=1)
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    distinct = [tuple(float(x) for x in row) for row in distinct]
    table = [[float("nan")] * len(distinct)]  # t = 0 不使用
    for t in range(1, steps + 2):
        table.append([fn(float(t), *row) for row in distinct])
    return torch.tensor(table, dtype=torch.float64)[:, inverse.reshape(-1)].unsqueeze(-1)


# ---------------------------------------------------------------------------------------------------
# 公共入口
# ---------------------------------------------------------------------------------------------------


def sweep(
    surface: Surface | Callable[[Tensor], Tensor],
    optimizer: str,
    steps: int = 200,
    x0: Sequence[float] | None = None,
    **hparams: Any,
) -> SweepResult:
    """在二维曲面上同时运行一个优化器的 K 组超参数，结果与 K 次 :func:`optimlab.trajectory.run` 逐位相同。

    Args:
        surface: 二维曲面（``(..., 2)`` → ``(...)`` 的批量函数）。
        optimizer: ``"SGD"``、``"Adam"``、``"AdamW"``、``"NAdam"``、``"RMSprop"`` 或 ``"Adagrad"``。
        steps: 步数。
        x0: 起点，默认 ``surface.x0``；所有设置从同一点出发。
        **hparams: 优化器的超参数，名称同构造函数（Adam 类的 ``betas`` 拆成 ``beta1``、``beta2``）。
            数值超参数可以是标量或长度为 K 的一维数组（所有数组长度相同）；布尔开关（``nesterov``、
            ``amsgrad``、``centered``、``maximize`` 等）只能是标量。没给的取构造函数的默认值。

    Returns:
        :class:`SweepResult`，设置的形状为 ``(K,)``。

    Raises:
        ValueError: 超参数非法（与优化器构造函数的信息相同）、数组长度不一致或优化器未知。
        TypeError: 该优化器没有这个超参数。
    """
    spec = _spec(optimizer)
    values, flags, k = _parse(spec, hparams)
    _validate(spec, values, flags)

    h: dict[str, Any] = {name: torch.from_numpy(v).reshape(k, 1) for name, v in values.items()}
    h.update(flags)
    for table, (fn, names) in _TABLES.get(optimizer, {}).items():
        h[table] = _python_table(fn, [values[n] for n in names], steps)

    start = surface.x0 if x0 is None else x0
    params = torch.tensor(start, dtype=torch.float64).reshape(1, 2).repeat(k, 1).requires_grad_()
    init, kernel = _KERNELS[optimizer]
    state = init(params.detach(), h)

    points = torch.empty(steps + 1, k, 2, dtype=torch.float64)
    losses = torch.empty(steps + 1, k, dtype=torch.float64)
    with _one_thread():
        with torch.no_grad():
            points[0] = params
            losses[0] = surface(params)
        for t in range(1, steps + 1):
            params.grad = None
            surface(params).sum().backward()  # 每一行的梯度只依赖这一行
            with torch.no_grad():
                kernel(params, params.grad, state, h, t)
                points[t] = params
                losses[t] = surface(params)

        bad = diverged(losses[1:], points[1:])  # 与 trajectory.run 相同的判据，从第 1 步起检查
        gone = bad.any(0)
        diverged_at = torch.where(gone, bad.to(torch.int8).argmax(0) + 1, -1)
        after = torch.arange(steps + 1).unsqueeze(1) >= torch.where(gone, diverged_at, steps + 1)
        points.masked_fill_(after.unsqueeze(-1), float("nan"))
        losses.masked_fill_(after, float("nan"))
        path, loss = points.permute(1, 0, 2).contiguous(), losses.T.contiguous()

    settings: dict[str, np.ndarray] = dict(values)
    settings.update({name: np.full(k, flags[name]) for name in flags})
    return SweepResult(
        settings=settings,
        path=path.numpy(),
        loss=loss.numpy(),
        diverged_at=diverged_at.numpy().astype(np.int64),
        optimizer=optimizer,
    )


def sweep_grid(
    surface: Surface | Callable[[Tensor], Tensor],
    optimizer: str,
    steps: int = 200,
    x0: Sequence[float] | None = None,
    **hparams: Any,
) -> SweepResult:
    """在一维数组超参数的笛卡儿积上运行 :func:`sweep`，结果形状为 ``(n₁, n₂, …, ...)``，轴的顺序同关键字参数的顺序。

    例：``sweep_grid(s, "SGD", lr=np.logspace(-4, 0, 50), momentum=np.linspace(0, 0.99, 50))`` 的
    ``final_loss`` 形状为 ``(50, 50)``，``[i, j]`` 对应 ``lr[i]``、``momentum[j]``。标量超参数对所有格点相同。
    """
    for name, v in hparams.items():
        if np.ndim(v) > 1:
            raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {np.shape(v)}")
    axes = [name for name, v in hparams.items() if np.ndim(v) == 1]
    if not axes:
        raise ValueError("sweep_grid needs at least one 1-D hyperparameter array")
    mesh = np.meshgrid(*(np.asarray(hparams[name], dtype=np.float64) for name in axes), indexing="ij")
    flat = dict(hparams)
    flat.update({name: m.ravel() for name, m in zip(axes, mesh)})
    res = sweep(surface, optimizer, steps, x0, **flat)
    shape = mesh[0].shape
    return SweepResult(
        settings={name: v.reshape(shape) for name, v in res.settings.items()},
        path=res.path.reshape(shape + res.path.shape[1:]),
        loss=res.loss.reshape(shape + res.loss.shape[1:]),
        diverged_at=res.diverged_at.reshape(shape),
        optimizer=optimizer,
    )


#: 敏感度图（第 6 章）中与学习率一起扫描的第二个超参数。
SENSITIVITY_PARAMS = {"SGD": "momentum", "Adam": "beta1", "RMSprop": "alpha", "NAdam": "beta1"}


def sensitivity_grid(surface: Surface | Callable[[Tensor], Tensor], optimizer: str, lr: np.ndarray,
                     second: np.ndarray, steps: int = 300) -> SweepResult:
    """敏感度图：``lr`` × 第二个超参数（:data:`SENSITIVITY_PARAMS`）网格上的 :func:`sweep_grid`。

    ``final_loss[i, j]`` 是 ``lr[i]``、``second[j]`` 的最终损失（发散为 inf），其余超参数取默认值。
    """
    return sweep_grid(surface, optimizer, steps, lr=lr, **{SENSITIVITY_PARAMS[optimizer]: second})
