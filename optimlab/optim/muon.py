"""Muon（Jordan et al., 2024；Liu et al., 2025, "Muon is Scalable for LLM Training"）：动量 + Newton–Schulz 正交化。"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .base import BaseOptimizer, as_scalar, check_tensor_lr

__all__ = ["Muon", "newton_schulz"]

# Keller Jordan 的五次多项式系数与默认步数、归一化的下限（同 torch.optim.Muon）。
EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5


def newton_schulz(
    grad: Tensor,
    ns_coefficients: tuple[float, float, float] = (DEFAULT_A, DEFAULT_B, DEFAULT_C),
    ns_steps: int = DEFAULT_NS_STEPS,
    eps: float = EPS,
) -> Tensor:
    r"""Newton–Schulz 迭代：把矩阵 :math:`B = U\Sigma V^\top` 近似正交化为 :math:`U\Sigma' V^\top`，:math:`\Sigma'\approx I`。

    .. math::

       \begin{aligned}
       &X_0 = B / \max\bigl(\lVert B\rVert_F,\ \epsilon\bigr)
         \quad(\text{bfloat16；行数多于列数时先转置成 } B^\top) && (1)\\
       &\textbf{for } k = 1, \dots, K: \\
       &\quad A_k = X_{k-1} X_{k-1}^\top && (2)\\
       &\quad X_k = a\, X_{k-1} + \bigl(b\, A_k + c\, A_k^2\bigr) X_{k-1} && (3)\\
       &O = X_K\quad(\text{若转置过，再转置回来}) && (4)
       \end{aligned}

    第 (1) 行用 Frobenius 范数归一化：:math:`\lVert B\rVert_2 \le \lVert B\rVert_F`，所以 :math:`X_0` 的奇异值
    都在 :math:`[0, 1]` 内。第 (3) 行不改变奇异向量，只把每个奇异值 :math:`\sigma` 换成五次多项式
    :math:`\varphi(\sigma) = a\sigma + b\sigma^3 + c\sigma^5`。默认系数 :math:`(3.4445, -4.7750, 2.0315)`
    让 :math:`\varphi'(0) = a` 尽量大，代价是迭代不收敛到 1：5 步之后，:math:`X_0` 中不小于 0.01 的奇异值
    落在约 :math:`[0.68, 1.13]` 的带内（:math:`\varphi` 复合 5 次在 :math:`[0.01, 1]` 上的值域，bfloat16 的舍入
    再放宽约 0.02）；更小的奇异值每步最多放大 :math:`a` 倍，5 步约 490 倍，来不及进入这个带。
    转置保证 :math:`A_k` 是两边中较小的那一边的方阵。

    整个迭代在 **bfloat16** 中进行（同 Keller Jordan 的实现与 torch），返回 bfloat16 张量。输入已经是
    bfloat16 时 ``grad.bfloat16()`` 不复制，第 (1) 行会原地改写输入（torch 也如此）。
    与 Keller Jordan 的实现的差别：torch 用 :math:`\max(\lVert B\rVert_F, \epsilon)` 而不是
    :math:`\lVert B\rVert_F + \epsilon` 归一化；第 (3) 行用两次 ``addmm`` 各算一个融合的乘加，
    Keller Jordan 的代码分开计算，bfloat16 下的舍入不同。参数检查与报错信息同 torch（在每一步调用时进行）。

    Args:
        grad (Tensor): 二维矩阵 :math:`B`。
        ns_coefficients (tuple): 多项式系数 :math:`(a, b, c)`。
        ns_steps (int): 迭代步数 :math:`K`，必须小于 100。
        eps (float): 归一化分母的下限 :math:`\epsilon`。

    Returns:
        Tensor: 与 ``grad`` 同形状的 bfloat16 矩阵 :math:`O`。
    """
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    transposed = grad.size(0) > grad.size(1)

    x = grad.bfloat16()
    if transposed:
        x = x.T  # (1) 宽矩阵：X Xᵀ 取较小的一边
    x.div_(x.norm().clamp(min=eps))  # (1) X₀ = B / max(‖B‖_F, ε)
    for _ in range(ns_steps):
        gram = x @ x.T  # (2) A = X Xᵀ
        poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # (3) bA + cA²
        x = torch.addmm(x, poly, x, beta=a)  # (3) X ← aX + (bA + cA²)X
    if transposed:
        x = x.T  # (4) 转置回来
    return x


def _adjusted_lr(lr: float | Tensor, adjust_lr_fn: str | None, shape: torch.Size) -> float | Tensor:
    """第 (6) 行：按矩阵形状 :math:`A\\times B` 调整学习率（公式同 torch 的 ``_adjust_lr``）。"""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))  # (6) √max(1, A/B)
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))  # (6) 0.2 √max(A, B)
    else:
        ratio = 1.0
    return lr * ratio


class Muon(BaseOptimizer):
    r"""Muon：对动量做 Newton–Schulz 正交化，只用于二维参数（隐藏层的权重矩阵）。

    记号见书中的《符号表》。每一行右侧的编号与 ``_update`` 中的注释一一对应；
    :math:`\operatorname{NS}` 见 :func:`optimlab.optim.muon.newton_schulz`，参数是 :math:`A\times B` 矩阵。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ \lambda\ (\texttt{weight\_decay}),\ \mu\ (\texttt{momentum}),
        \ (a, b, c)\ (\texttt{ns\_coefficients}),\ K\ (\texttt{ns\_steps}),\ \epsilon\ (\texttt{eps}),
        \ \theta_0;\quad b_0 = 0 \\
       &\textbf{for } t = 1, 2, \dots \\
       &\quad g_t = \nabla_\theta f_t(\theta_{t-1}) && (1)\\
       &\quad b_t = \mu\, b_{t-1} + (1-\mu)\, g_t && (2)\\
       &\quad d_t = \begin{cases} (1-\mu)\, g_t + \mu\, b_t & \texttt{nesterov} \\ b_t & \text{否则} \end{cases}
         && (3)\\
       &\quad O_t = \operatorname{NS}^{(a,b,c)}_K(d_t;\ \epsilon)\quad(\text{bfloat16}) && (4)\\
       &\quad \theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1} && (5)\\
       &\quad \eta' = \begin{cases} \eta\sqrt{\max(1, A/B)} & \texttt{adjust\_lr\_fn} = \texttt{None}
              \text{ 或 } \texttt{"original"} \\
              0.2\,\eta\sqrt{\max(A, B)} & \texttt{"match\_rms\_adamw"} \end{cases} && (6)\\
       &\quad \theta_t = \theta_{t-1} - \eta'\, O_t && (7)
       \end{aligned}

    :math:`O_t` 的 :math:`\min(A,B)` 个奇异值都接近 1，所以 :math:`\operatorname{RMS}(O_t)\approx 1/\sqrt{\max(A,B)}`\ ：
    ``"original"``\ （Keller Jordan）给出 RMS 约 :math:`\eta/\sqrt{B}` 的更新（:math:`B` 是列数，即 ``nn.Linear``
    的输入维数）；``"match_rms_adamw"``\ （Liu et al., 2025）给出约 :math:`0.2\,\eta`，与 AdamW 典型更新的 RMS
    相当，从而可以沿用为 AdamW 调好的 ``lr`` 和 ``weight_decay``。

    与论文、博客和 torch 自己的文档的差别：

    * 动量是指数移动平均 :math:`b_t = \mu b_{t-1} + (1-\mu) g_t`\ （Keller Jordan 现在的代码也这样写）；
      博客与 torch 文档的公式写作 :math:`b_t = \mu b_{t-1} + g_t`、Nesterov 为 :math:`g_t + \mu b_t`。
      两种写法的 :math:`d_t` 只差一个正的常数因子 :math:`1-\mu`，而 :math:`\operatorname{NS}` 先归一化，
      所以除 :math:`\epsilon` 的作用外结果相同。
    * 正交化在 bfloat16 中进行，:math:`O_t` 是 bfloat16；第 (7) 行把它加到 float32/float64 参数上。
      bfloat16 参数且 ``nesterov=False`` 时，NS 的原地归一化会改写动量缓冲 :math:`b_t`\ （torch 的行为，照搬）。
    * 权重衰减是解耦的，系数用 **未调整** 的 :math:`\eta\lambda`\ （同 Liu et al. 与 Keller Jordan 的代码），
      torch 文档称其为 "L2 penalty" 并不准确。torch 的默认 ``weight_decay=0.1``，Keller Jordan 的默认是 0。
    * 只接受二维参数：构造时检查（``add_param_group`` 加入的参数不检查，第一次更新时才报错）。
      偏置、嵌入等应交给 AdamW 之类的优化器；torch 不提供 Keller Jordan 的辅助 AdamW。
    * 没有 ``maximize``、``foreach``、``capturable``、``differentiable``、``fused`` 参数（同 torch，
      optimlab 也不接受它们）；不支持复数参数与稀疏梯度。状态只有 ``momentum_buffer``，没有 ``step``。

    参数与 ``torch.optim.Muon``\ （torch 2.13）完全相同，默认值与参数检查也相同。

    Args:
        params: 待优化的二维参数。
        lr (float | Tensor): 学习率 :math:`\eta`，默认 1e-3。
        weight_decay (float): 解耦权重衰减 :math:`\lambda`，默认 0.1。
        momentum (float): 动量因子 :math:`\mu`，默认 0.95。
        nesterov (bool): 是否使用 Nesterov 动量，默认 True。
        ns_coefficients (tuple): Newton–Schulz 多项式系数 :math:`(a, b, c)`，默认 (3.4445, -4.7750, 2.0315)。
        eps (float): 归一化分母的下限 :math:`\epsilon`，默认 1e-7。
        ns_steps (int): Newton–Schulz 步数 :math:`K`，默认 5。
        adjust_lr_fn (str | None): ``"original"``\ （``None`` 同此）或 ``"match_rms_adamw"``，默认 None。
    """

    _complex_error = "Muon does not support complex parameters"
    _sparse_error = "Muon does not support sparse gradients"
    _scalar_state = {}  # 没有 step
    _init_key = "momentum_buffer"  # 同 torch：状态里没有动量缓冲时才初始化

    def __init__(self, params, lr: float | Tensor = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True,
                 ns_coefficients: tuple[float, float, float] = (DEFAULT_A, DEFAULT_B, DEFAULT_C),
                 eps: float = EPS, ns_steps: int = DEFAULT_NS_STEPS, adjust_lr_fn: str | None = None) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.Muon（措辞与其他优化器不同，照原样写出）。
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))

        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(
                        f"Muon only supports 2D parameters whereas we found a parameter with size: {p.size()}"
                    )

    def _init_state(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["momentum_buffer"] = torch.zeros_like(p.grad, memory_format=torch.preserve_format)

    def _update(self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr = as_scalar(group["lr"])
        momentum = group["momentum"]
        if grad.ndim != 2:  # (1) g_t 必须是矩阵（add_param_group 加入的参数到这里才检查）
            raise ValueError("Param gradient must be a 2D matrix")

        buf = state["momentum_buffer"]
        buf.lerp_(grad, 1 - momentum)  # (2) b_t = μb + (1 − μ)g
        update = grad.lerp(buf, momentum) if group["nesterov"] else buf  # (3) d_t

        update = newton_schulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])  # (4) O_t
        adjusted_lr = _adjusted_lr(lr, group["adjust_lr_fn"], param.shape)  # (6) η'

        param.mul_(1 - lr * group["weight_decay"])  # (5) θ ← (1 − ηλ)θ
        param.add_(update, alpha=-adjusted_lr)  # (7) θ_t = θ − η' O_t
