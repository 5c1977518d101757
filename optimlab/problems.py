"""书中用到的测试问题：二维曲面、Reddi 等人的反例，以及可离线使用的小型真实数据。

二维曲面都是纯函数，输入形状 ``(..., 2)`` 的张量，输出形状 ``(...)`` 的函数值，
因此同一个函数既能对单个点求梯度，也能在网格上一次算出整张等高线图。
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "Surface",
    "quadratic",
    "rosenbrock",
    "beale",
    "SURFACES",
    "surface",
    "reddi_loss",
    "linear_regression",
    "digits",
]


@dataclass(frozen=True)
class Surface:
    """二维测试曲面 :math:`f:\\mathbb{R}^2\\to\\mathbb{R}`。

    Attributes:
        name: 中文名称（用于图标题与图例）。
        fn: 批量函数，``(..., 2)`` → ``(...)``。
        minimizer: 全局最小点。
        x0: 书中默认的起点。
        xlim, ylim: 画等高线图的范围。
    """

    name: str
    fn: Callable[[Tensor], Tensor]
    minimizer: tuple[float, float]
    x0: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def __call__(self, xy: Tensor) -> Tensor:
        return self.fn(xy)

    @property
    def f_min(self) -> float:
        """最小值 :math:`f(x^*)`。"""
        return float(self.fn(torch.tensor(self.minimizer, dtype=torch.float64)))


def quadratic(cond: float = 10.0) -> Surface:
    r"""病态二次函数 :math:`f(x, y) = \tfrac12\,(x^2 + \kappa\, y^2)`，条件数 :math:`\kappa` = ``cond``。

    Hessian 为 :math:`\mathrm{diag}(1, \kappa)`：沿 :math:`y` 方向陡、沿 :math:`x` 方向缓，
    梯度下降的步长受陡方向限制（:math:`\eta < 2/\kappa`），在缓方向上走得很慢。
    """
    if not cond >= 1.0:
        raise ValueError(f"cond must be >= 1, got {cond}")

    def fn(xy: Tensor) -> Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return 0.5 * (x**2 + cond * y**2)

    return Surface(f"二次函数（κ={cond:g}）", fn, (0.0, 0.0), (-4.0, 1.5), (-4.5, 4.5), (-2.5, 2.5))


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    r"""Rosenbrock 函数 :math:`f(x, y) = (a - x)^2 + b\,(y - x^2)^2`，最小点 :math:`(a, a^2)`。

    最小点位于一条弯曲、平坦的"香蕉形"山谷底部：找到山谷容易，沿谷底走到最小点难。
    """

    def fn(xy: Tensor) -> Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (a - x) ** 2 + b * (y - x**2) ** 2

    return Surface("Rosenbrock 函数", fn, (a, a * a), (-1.5, 2.0), (-2.0, 2.0), (-1.0, 3.0))


def beale() -> Surface:
    r"""Beale 函数 :math:`f(x,y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2`，最小点 (3, 0.5)。

    四角非常陡、中间有平坦区域，梯度的尺度在不同区域相差好几个数量级。
    """

    def fn(xy: Tensor) -> Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2

    return Surface("Beale 函数", fn, (3.0, 0.5), (1.0, 1.4), (-0.5, 4.5), (-1.5, 2.0))


SURFACES: dict[str, Callable[..., Surface]] = {
    "quadratic": quadratic,
    "rosenbrock": rosenbrock,
    "beale": beale,
}


def surface(name: str, **kwargs) -> Surface:
    """按名称取曲面：``"quadratic"``、``"rosenbrock"``、``"beale"``。"""
    try:
        factory = SURFACES[name]
    except KeyError:
        raise ValueError(f"unknown surface {name!r}; choose from {sorted(SURFACES)}") from None
    return factory(**kwargs)


def reddi_loss(x: Tensor, t: int, C: float = 3.0) -> Tensor:
    r"""Reddi, Kale & Kumar (2018) 第 3 节的在线凸问题，:math:`x \in [-1, 1]`：

    .. math::

       f_t(x) = \begin{cases} C\,x & t \bmod 3 = 1 \\ -x & \text{否则} \end{cases}

    每 3 步的平均梯度是 :math:`(C - 2)/3 > 0`，最优点是 :math:`x^* = -1`。
    Adam（:math:`\beta_1 = 0,\ \beta_2 = 1/(1 + C^2)`）却会收敛到最差的 :math:`x = +1`。
    ``t`` 从 1 开始计数。
    """
    return C * x if t % 3 == 1 else -x


def linear_regression(n: int = 200, noise: float = 0.5, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    r"""一元线性回归数据 :math:`y = 2x + 1 + \varepsilon`，:math:`x \sim U(-3, 3)`，:math:`\varepsilon\sim N(0, \sigma^2)`。

    Returns:
        ``(X, y, w_true)``：``X`` 形状 ``(n, 2)``\ （第二列恒为 1，对应截距），``y`` 形状 ``(n,)``，
        ``w_true = [2, 1]``。全部为 float64。
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=gen, dtype=torch.float64) * 6 - 3
    w_true = torch.tensor([2.0, 1.0], dtype=torch.float64)
    X = torch.stack([x, torch.ones_like(x)], dim=1)
    y = X @ w_true + noise * torch.randn(n, generator=gen, dtype=torch.float64)
    return X, y, w_true


def digits(test_fraction: float = 0.25, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """scikit-learn 自带的手写数字数据集（1797 张 8×8 图，10 类），离线可用。

    像素按训练集的均值和标准差标准化（训练集中恒定的像素只减去均值）。

    Returns:
        ``(X_train, y_train, X_test, y_test)``：``X`` 为 float32、形状 ``(n, 64)``，``y`` 为 int64。
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    X = torch.tensor(data.data, dtype=torch.float32)
    y = torch.tensor(data.target, dtype=torch.int64)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(X), generator=gen)
    n_test = int(math.floor(len(X) * test_fraction))
    test, train = perm[:n_test], perm[n_test:]
    mean, std = X[train].mean(0), X[train].std(0)
    std[std == 0] = 1.0  # 训练集中恒定的像素只减去均值，不除以 0
    return (X[train] - mean) / std, y[train], (X[test] - mean) / std, y[test]
