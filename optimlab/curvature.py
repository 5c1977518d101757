r"""损失曲面的曲率：Hessian–向量积、幂迭代，以及（预条件的）尖锐度。

*尖锐度*\ （sharpness）是损失 Hessian 的最大特征值 :math:`\lambda_{\max}(H)`。梯度下降在二次函数上
只有 :math:`\eta\lambda_{\max} < 2` 时才稳定；Cohen 等人（2021）发现，全批量梯度下降训练神经网络时，
尖锐度先上升，到达 :math:`2/\eta` 后就在它附近徘徊（“稳定性边缘”）。对 Adam，相应的量是
*预条件尖锐度* :math:`\lambda_{\max}(P_t^{-1} H)`\ （Cohen 等人，2022），其中

.. math::

   P_t = (1-\beta_1^t)\,\mathrm{diag}\bigl(\sqrt{\hat v_t} + \epsilon\bigr),

使 Adam 的一步恰好写成 :math:`\theta_t = \theta_{t-1} - \eta\,P_t^{-1} m_t`\ （:math:`m_t` 不做偏差校正）。

这里不构造 Hessian 矩阵：``hvp_operator`` 对同一个损失做两次反向传播，得到映射
:math:`v \mapsto Hv`\ （双重反向传播）；``power_iteration`` 只用这个映射求最大特征值。
:math:`P^{-1}H` 不对称，但与对称矩阵 :math:`P^{-1/2} H P^{-1/2}` 相似，特征值相同，所以对后者做幂迭代。

所有向量都是把参数按 ``params`` 的顺序展平后拼接成的一维张量。建议用 float64：
幂迭代的精度受 Hessian–向量积的舍入误差限制。
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "flatten",
    "hvp_operator",
    "power_iteration",
    "sharpness",
    "adam_preconditioner",
    "preconditioned_sharpness",
    "SharpnessTrace",
    "track_sharpness",
]


def flatten(tensors: Sequence[Tensor]) -> Tensor:
    """把若干张量展平后拼成一个一维张量。"""
    return torch.cat([t.reshape(-1) for t in tensors])


def hvp_operator(loss: Tensor, params: Sequence[Tensor]) -> Callable[[Tensor], Tensor]:
    r"""返回映射 :math:`v \mapsto H v`，:math:`H = \nabla^2_\theta\,\mathrm{loss}`。

    ``loss`` 必须是由 ``params`` 算出、还带着计算图的标量。一阶梯度只求一次（``create_graph=True``），
    之后每次调用只对 :math:`\nabla\mathrm{loss}\cdot v` 再反向传播一次：
    :math:`Hv = \nabla_\theta\bigl(\nabla_\theta \mathrm{loss}\cdot v\bigr)`。
    """
    params = list(params)
    grad = flatten(torch.autograd.grad(loss, params, create_graph=True))

    def hvp(v: Tensor) -> Tensor:
        hv = torch.autograd.grad(grad, params, grad_outputs=v, retain_graph=True,
                                 allow_unused=True)
        return flatten([torch.zeros_like(p) if h is None else h for p, h in zip(params, hv)])

    return hvp


def power_iteration(
    matvec: Callable[[Tensor], Tensor],
    v0: Tensor,
    iters: int = 100,
    tol: float = 1e-6,
) -> tuple[float, Tensor]:
    r"""幂迭代：求对称线性映射 ``matvec`` 模最大的特征值及其单位特征向量。

    每步 :math:`v \leftarrow Av/\lVert Av\rVert`，特征值取 Rayleigh 商 :math:`v^\top A v`；
    相邻两次的相对变化小于 ``tol`` 或满 ``iters`` 步时停止。收敛速度取决于第二大与最大特征值之比，
    所以训练中应把上一次的特征向量作为 ``v0``\ （热启动）。

    注意：幂迭代找的是 **模** 最大的特征值。若最负的特征值比最大的正特征值更大（按绝对值），
    返回的是前者（为负数）。

    Returns:
        ``(特征值, 单位特征向量)``。
    """
    v = v0 / v0.norm()
    value = float("nan")
    for _ in range(iters):
        w = matvec(v)
        new = float(v @ w)
        v = w / w.norm()
        if abs(new - value) <= tol * abs(new):
            return new, v
        value = new
    return value, v


def sharpness(
    loss_fn: Callable[[], Tensor],
    params: Sequence[Tensor],
    v0: Tensor | None = None,
    iters: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
) -> tuple[float, Tensor]:
    r"""尖锐度 :math:`\lambda_{\max}(H)`：对 ``loss_fn()`` 的 Hessian 做幂迭代。

    Args:
        loss_fn: 无参数函数，用 ``params`` 的当前值算出标量损失（带计算图）。
        v0: 初始向量；``None`` 时用 ``seed`` 生成的高斯随机向量。

    Returns:
        ``(特征值, 单位特征向量)``，特征向量可作为下一次调用的 ``v0``。
    """
    params = list(params)
    matvec = hvp_operator(loss_fn(), params)
    if v0 is None:
        v0 = _random_vector(params, seed)
    return power_iteration(matvec, v0, iters=iters, tol=tol)


def adam_preconditioner(optimizer: torch.optim.Optimizer) -> Tensor:
    r"""Adam / AdamW 的预条件矩阵的对角线 :math:`P_t = (1-\beta_1^t)\,(\sqrt{\hat v_t} + \epsilon)`。

    :math:`\hat v_t = v_t/(1-\beta_2^t)`；:math:`v_t` 与 :math:`t` 取自优化器状态 ``exp_avg_sq``、
    ``step``\ （optimlab 与 torch.optim 的状态键相同）。按参数组和参数的顺序展平拼接，
    与 ``flatten(params)`` 的顺序一致。不支持 ``amsgrad=True``。
    """
    parts = []
    for group in optimizer.param_groups:
        if group.get("amsgrad", False):
            raise ValueError("adam_preconditioner 不支持 amsgrad=True")
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            state = optimizer.state[p]
            t = float(state["step"])
            v_hat = state["exp_avg_sq"] / (1 - beta2**t)
            parts.append((1 - beta1**t) * (v_hat.sqrt() + group["eps"]))
    return flatten(parts)


def preconditioned_sharpness(
    loss_fn: Callable[[], Tensor],
    params: Sequence[Tensor],
    precond: Tensor,
    v0: Tensor | None = None,
    iters: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
) -> tuple[float, Tensor]:
    r"""预条件尖锐度 :math:`\lambda_{\max}(P^{-1}H)`，``precond`` 是对角矩阵 :math:`P` 的对角线。

    对对称矩阵 :math:`P^{-1/2} H P^{-1/2}`\ （与 :math:`P^{-1}H` 相似）做幂迭代。返回的特征向量属于
    这个对称矩阵，可作为下一次调用的 ``v0``。
    """
    params = list(params)
    hvp = hvp_operator(loss_fn(), params)
    scale = precond.rsqrt()

    def matvec(v: Tensor) -> Tensor:
        return scale * hvp(scale * v)

    if v0 is None:
        v0 = _random_vector(params, seed)
    return power_iteration(matvec, v0, iters=iters, tol=tol)


def _random_vector(params: Sequence[Tensor], seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    n = sum(p.numel() for p in params)
    return torch.randn(n, generator=gen, dtype=params[0].dtype).to(params[0].device)


@dataclass
class SharpnessTrace:
    """``track_sharpness`` 的记录。

    Attributes:
        loss: 每一步之前的全批量损失 :math:`f(\\theta_t)`，:math:`t = 0, \\dots,` ``steps``。
        steps: 测量尖锐度的步数 :math:`t`。
        sharpness: 在这些 :math:`\\theta_t` 处的（预条件）尖锐度。
    """

    loss: np.ndarray
    steps: np.ndarray
    sharpness: np.ndarray


def track_sharpness(
    loss_fn: Callable[[], Tensor],
    optimizer: torch.optim.Optimizer,
    steps: int,
    every: int = 10,
    preconditioned: bool = False,
    iters: int = 1000,
    tol: float = 1e-5,
) -> SharpnessTrace:
    r"""用 ``optimizer`` 对 ``loss_fn()`` 做 ``steps`` 步全批量训练，每 ``every`` 步测一次尖锐度。

    ``preconditioned=False`` 时测 :math:`\lambda_{\max}(H)`\ （从 :math:`t = 0` 起）；
    ``True`` 时测 Adam 的 :math:`\lambda_{\max}(P_t^{-1}H)`\ （从 :math:`t =` ``every`` 起，此时才有
    :math:`v_t`）。每次幂迭代从上一次的特征向量热启动。
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    losses, marks, values = [], [], []
    v = None
    for t in range(steps + 1):
        if t % every == 0 and not (preconditioned and t == 0):
            if preconditioned:
                precond = adam_preconditioner(optimizer)
                value, v = preconditioned_sharpness(loss_fn, params, precond, v0=v,
                                                    iters=iters, tol=tol)
            else:
                value, v = sharpness(loss_fn, params, v0=v, iters=iters, tol=tol)
            marks.append(t)
            values.append(value)
        optimizer.zero_grad()
        loss = loss_fn()
        losses.append(float(loss.detach()))
        if t == steps:
            break
        loss.backward()
        optimizer.step()
    return SharpnessTrace(np.array(losses), np.array(marks), np.array(values))
