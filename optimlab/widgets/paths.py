"""二维曲面上的轨迹探索器：SGD、Adam、NAdam、AdamW（左：等高线 + 轨迹；右：损失曲线）。"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from .. import problems
from ..optim import SGD, Adam, AdamW, NAdam, RMSprop
from ..plotting import draw_contour
from ..problems import Surface
from ..trajectory import Trajectory
from .base import COLORS, LOSS_FLOOR, RED, Explorer, RunCache, divergence_message, error_message, fmt
from .controls import KAPPA, SURFACE, Control, Definition, define, make_controls

__all__ = ["PathExplorer", "SGDExplorer", "AdamExplorer", "NAdamExplorer", "AdamWExplorer", "scaled_quadratic",
           "ADAMW_TARGET", "ADAM_LR", "draw_surface_contour"]

#: 探索器的等高线：比 :func:`optimlab.plotting.plot_contour` 的分辨率低，切换曲面更快。
draw_surface_contour = functools.partial(draw_contour, levels=25, resolution=120, linewidth=0.6)

_LR = {"SGD": Control("log", "学习率 η", 1e-3, -4, 0, 0.25), "Adam": Control("log", "学习率 η", 0.05, -3, 0, 0.25)}
_BETA1 = Control("float", "β₁", 0.9, 0.0, 0.999, 0.001)
_BETA2 = Control("float", "β₂", 0.999, 0.5, 0.9999, 0.0001, ".4g")
#: Adam 类探索器在各曲面上的默认学习率。
ADAM_LR = {"quadratic": 0.1, "rosenbrock": 0.05, "beale": 0.05}

SGD_DEF = define(Definition(
    "sgd", "SGD：学习率 η、动量 μ、阻尼 τ、Nesterov、权重衰减 λ", "surface",
    {"surface": SURFACE, "kappa": KAPPA, "lr": _LR["SGD"],
     "momentum": Control("float", "动量 μ", 0.9, 0.0, 0.99, 0.01),
     "dampening": Control("float", "阻尼 τ", 0.0, 0.0, 0.9, 0.1),
     "nesterov": Control("checkbox", "Nesterov", False),
     "weight_decay": Control("float", "权重衰减 λ", 0.0, 0.0, 1.0, 0.01)},
    series=("SGD",), surface_defaults={"lr": {"quadratic": 0.05, "rosenbrock": 1e-3, "beale": 1e-3}}))

ADAM_DEF = define(Definition(
    "adam", "Adam 与 SGD 动量（μ = β₁）、RMSprop（α = β₂，同 η 与 ε）在同一曲面上比较", "surface",
    {"surface": SURFACE, "kappa": KAPPA, "lr": _LR["Adam"], "beta1": _BETA1, "beta2": _BETA2,
     "eps": Control("log", "ε", 1e-8, -12, 0, 1.0),
     "sgd_lr": Control("log", "SGD 学习率", 1e-3, -5, 0, 0.25)},
    series=("Adam", "SGD", "RMSprop"), surface_defaults={"lr": ADAM_LR}))

NADAM_DEF = define(Definition(
    "nadam", "NAdam 与 Adam：相同的 η、β₁、β₂，NAdam 另有动量调度 ψ", "surface",
    {"surface": SURFACE, "kappa": KAPPA, "lr": _LR["Adam"], "beta1": _BETA1, "beta2": _BETA2,
     "momentum_decay": Control("log", "动量调度 ψ", 4e-3, -4, 0, 0.25)},
    series=("Adam", "NAdam"), surface_defaults={"lr": ADAM_LR}))

ADAMW_DEF = define(Definition(
    "adamw", "AdamW（解耦权重衰减）与 Adam + L2：权重衰减 λ 与梯度尺度 s", "scaled_quadratic",
    {"weight_decay": Control("float", "权重衰减 λ", 0.1, 0.0, 1.0, 0.01),
     "scale": Control("log", "梯度尺度 s", 1.0, -3, 3, 0.25),
     "lr": Control("log", "学习率 η", 0.05, -3, 0, 0.25)},
    series=("AdamW", "Adam + L2")))


class PathExplorer(Explorer):
    """左：等高线 + 轨迹；右：损失曲线 :math:`f(\\theta_t) - f^*`。子类给出定义与要运行的优化器。"""

    definition: Definition
    #: 改变曲面本身的控件（不沿它们预取）。
    _surface_controls: tuple[str, ...] = ("surface", "kappa", "scale")

    def __init__(self, surface: str | Surface, steps: int, kappa: float = 10, figsize=(8.6, 3.5),
                 **values: Any) -> None:
        super().__init__(figsize)
        self.steps = steps
        self.cache = RunCache()
        self._fixed_surface = surface if isinstance(surface, Surface) else None
        name = surface if isinstance(surface, str) else None
        skip = () if name is not None else ("surface", "kappa")
        self.controls.update(make_controls(self.definition, name, skip, surface=name, kappa=kappa, **values))
        self.ax, self.ax_loss = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.84, wspace=0.25)
        self._cs = None
        self._star = None
        self.lines: dict[str, Any] = {}
        self.ends: dict[str, Any] = {}
        self.loss_lines: dict[str, Any] = {}
        self.trajectories: dict[str, Trajectory | Exception] = {}
        for name in self.definition.series:
            c = COLORS.get(name)
            (self.lines[name],) = self.ax.plot([], [], "-o", markersize=1.5, linewidth=1.1, color=c, label=name)
            (self.ends[name],) = self.ax.plot([], [], "o", markersize=5, color=c)
            (self.loss_lines[name],) = self.ax_loss.plot([], [], linewidth=1.3, color=c, label=name)
            self._dyn(self.lines[name])
            self._dyn(self.ends[name])
            self._dyn(self.loss_lines[name])
        (self._start,) = self.ax.plot([], [], "o", color="black", markersize=5)
        self.ax_loss.set_yscale("log")
        self.ax_loss.set_xlim(0, steps)
        self.ax_loss.set_xlabel("步数 $t$")
        self.ax_loss.set_ylabel("$f(\\theta_t) - f^*$")
        self.ax_loss.grid(alpha=0.3)
        self.ax_loss.legend(loc="lower left", fontsize=8)
        self.title = self._dyn(self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=10))
        self.status = self._dyn(self.ax_loss.text(0.98, 0.97, "", transform=self.ax_loss.transAxes, ha="right",
                                                  va="top", fontsize=9, color=RED, linespacing=1.4))
        self.surface_key: Any = None
        self.surface: Surface | None = None

    # --- 曲面 ------------------------------------------------------------------------------
    def _current_surface(self) -> tuple[Any, Surface]:
        if self._fixed_surface is not None:
            return ("fixed", id(self._fixed_surface)), self._fixed_surface
        name = self.controls["surface"].value
        if name == "quadratic":
            kappa = float(self.controls["kappa"].value)
            return ("quadratic", kappa), problems.quadratic(kappa)
        return (name,), problems.surface(name)

    def _sync_surface(self) -> None:
        key, surf = self._current_surface()
        if "kappa" in self.controls:
            self.controls["kappa"].disabled = key[0] != "quadratic"
        if key == self.surface_key:
            return
        self.surface_key, self.surface = key, surf
        if self._cs is not None:
            self._cs.remove()
        self._cs = draw_surface_contour(self.ax, surf)
        if self._star is not None:
            self._star.remove()
        (self._star,) = self.ax.plot(*surf.minimizer, marker="*", color="crimson", markersize=11,
                                     linestyle="none", label="最小点")
        self._start.set_data([surf.x0[0]], [surf.x0[1]])
        self.ax.set_xlim(surf.xlim)
        self.ax.set_ylim(surf.ylim)
        self.ax.set_title(surf.name, fontsize=10)
        gap0 = float(surf(torch.tensor(surf.x0, dtype=torch.float64))) - surf.f_min
        self.ax_loss.set_ylim(LOSS_FLOOR, max(gap0, 1.0) * 1e4)
        self._static_changed()

    # --- 子类实现 --------------------------------------------------------------------------
    def _specs(self) -> list[tuple[str, type, dict[str, Any]]]:
        raise NotImplementedError

    def _title(self) -> str:
        raise NotImplementedError

    def _prefetch(self) -> None:
        name, values = self._neighbours()
        if not values or name in self._surface_controls:
            return
        if all(self.cache.key(self.surface_key, cls, hp, self.steps) in self.cache for _, cls, hp in self._specs()):
            return  # 当前取值已在缓存中：拖动时每隔约 PREFETCH 格才批量计算一次
        per_cls: dict[type, list] = {}
        try:
            for v in values:
                self._override = {name: v}
                for _, cls, hp in self._specs():
                    per_cls.setdefault(cls, []).append(hp)
        finally:
            self._override = {}
        for cls, settings in per_cls.items():
            self.cache.prefetch(self.surface_key, self.surface, cls, settings, self.steps)

    def _compute(self) -> None:
        self._sync_surface()
        self._prefetch()
        specs = self._specs()
        runs = self.cache.runs(self.surface_key, self.surface, [(cls, hp) for _, cls, hp in specs], self.steps)
        self.messages = []
        f_min = self.surface.f_min
        for (name, _, _), res in zip(specs, runs):
            self.trajectories[name] = res
            if isinstance(res, Exception):
                for art in (self.lines[name], self.ends[name], self.loss_lines[name]):
                    art.set_data([], [])
                self.messages.append(f"{name}：{error_message(res)}")
                continue
            ok = np.isfinite(res.path).all(axis=1)
            self.lines[name].set_data(res.path[ok, 0], res.path[ok, 1])
            last = res.path[ok][-1]
            self.ends[name].set_data([last[0]], [last[1]])
            gap = np.maximum(res.loss - f_min, LOSS_FLOOR)
            self.loss_lines[name].set_data(np.arange(len(gap)), gap)
            if res.diverged_at is not None:
                self.messages.append(f"{name}：{divergence_message(res.diverged_at)}")
            else:
                self.messages.append(f"{name}：第 {self.steps} 步 f − f* = {fmt(res.loss[-1] - f_min)}")
        self.title.set_text(self._title())
        self._show_messages()


class SGDExplorer(PathExplorer):
    """SGD：学习率 η、动量 μ、阻尼 τ、Nesterov、权重衰减 λ。"""

    definition = SGD_DEF

    def __init__(self, surface: str = "rosenbrock", steps: int = 200, lr: float | None = None,
                 momentum: float = 0.9, kappa: float = 10) -> None:
        super().__init__(surface, steps, kappa, lr=lr, momentum=momentum)
        self._finish()

    def _hparams(self) -> dict[str, Any]:
        return {"lr": float(self.value("lr")), "momentum": float(self.value("momentum")),
                "dampening": float(self.value("dampening")), "nesterov": bool(self.value("nesterov")),
                "weight_decay": float(self.value("weight_decay"))}

    def _specs(self):
        return [("SGD", SGD, self._hparams())]

    def _title(self) -> str:
        h = self._hparams()
        return (f"SGD：η = {fmt(h['lr'])}，μ = {fmt(h['momentum'])}，τ = {fmt(h['dampening'])}，"
                f"Nesterov = {'是' if h['nesterov'] else '否'}，λ = {fmt(h['weight_decay'])}")


class AdamExplorer(PathExplorer):
    """Adam 与 SGD 动量（μ = β₁）、RMSprop（α = β₂，同 η 与 ε）在同一曲面上比较。"""

    definition = ADAM_DEF

    def __init__(self, surface: str = "rosenbrock", steps: int = 200, lr: float | None = None,
                 sgd_lr: float = 1e-3, kappa: float = 10) -> None:
        super().__init__(surface, steps, kappa, lr=lr, sgd_lr=sgd_lr)
        self._finish()

    def _hparams(self):
        return tuple(float(self.value(k)) for k in ("lr", "beta1", "beta2", "eps", "sgd_lr"))

    def _specs(self):
        lr, b1, b2, eps, sgd_lr = self._hparams()
        return [("Adam", Adam, {"lr": lr, "betas": (b1, b2), "eps": eps}),
                ("SGD", SGD, {"lr": sgd_lr, "momentum": b1}),
                ("RMSprop", RMSprop, {"lr": lr, "alpha": b2, "eps": eps})]

    def _title(self) -> str:
        lr, b1, b2, eps, sgd_lr = self._hparams()
        return (f"Adam：η = {fmt(lr)}，β₁ = {fmt(b1)}，β₂ = {fmt(b2)}，ε = {fmt(eps)}"
                f"｜SGD：μ = β₁，η = {fmt(sgd_lr)}｜RMSprop：α = β₂")


class NAdamExplorer(PathExplorer):
    """NAdam 与 Adam：相同的 η、β₁、β₂，NAdam 另有动量调度 ψ（``momentum_decay``）。"""

    definition = NADAM_DEF

    def __init__(self, surface: str = "rosenbrock", steps: int = 200, lr: float | None = None,
                 kappa: float = 10) -> None:
        super().__init__(surface, steps, kappa, lr=lr)
        self._finish()

    def _hparams(self):
        return tuple(float(self.value(k)) for k in ("lr", "beta1", "beta2", "momentum_decay"))

    def _specs(self):
        lr, b1, b2, psi = self._hparams()
        return [("Adam", Adam, {"lr": lr, "betas": (b1, b2)}),
                ("NAdam", NAdam, {"lr": lr, "betas": (b1, b2), "momentum_decay": psi})]

    def _title(self) -> str:
        lr, b1, b2, psi = self._hparams()
        return f"Adam 与 NAdam：η = {fmt(lr)}，β₁ = {fmt(b1)}，β₂ = {fmt(b2)}；NAdam 的 ψ = {fmt(psi)}"


# --- AdamW 与 Adam + L2 ---------------------------------------------------------------------

#: AdamW 实验用的二次函数的最小点；权重衰减把参数拉向原点。
ADAMW_TARGET = (2.0, 1.5)
_ADAMW_H = (1.0, 4.0)


@functools.lru_cache(maxsize=256)
def scaled_quadratic(scale: float) -> Surface:
    r""":math:`f_s(x, y) = s\cdot\tfrac12\bigl((x-2)^2 + 4(y-1.5)^2\bigr)`：形状不变、梯度按 :math:`s` 缩放的二次函数。"""
    (a, b), (h1, h2) = ADAMW_TARGET, _ADAMW_H

    def fn(xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return scale * (0.5 * (h1 * (x - a) ** 2 + h2 * (y - b) ** 2))

    return Surface(f"梯度尺度 s = {fmt(scale)}", fn, ADAMW_TARGET, (-1.5, -1.0), (-2.0, 3.0), (-1.5, 2.5))


class AdamWExplorer(PathExplorer):
    """AdamW（解耦权重衰减）与 Adam + L2（``weight_decay``）：改变权重衰减 λ 与梯度尺度 s。

    Adam 的更新对梯度尺度不敏感（:math:`\\epsilon` 可忽略时），AdamW 的衰减项 :math:`\\eta\\lambda\\theta`
    也与 :math:`s` 无关，所以 AdamW 的轨迹几乎不随 :math:`s` 变化；L2 项 :math:`\\lambda\\theta`
    却与梯度 :math:`s\\nabla f` 相加后一起被归一化，:math:`s` 越小，衰减越占上风。
    """

    definition = ADAMW_DEF

    def __init__(self, steps: int = 200, lr: float = 0.05, weight_decay: float = 0.1, scale: float = 1.0) -> None:
        super().__init__(scaled_quadratic(1.0), steps, weight_decay=weight_decay, scale=scale, lr=lr)
        (self.l2_point,) = self.ax.plot([], [], "D", color=COLORS["Adam + L2"], markersize=5, mfc="none",
                                        label="L2 正则目标的最小点")
        self._dyn(self.l2_point)
        self.ax.plot([0], [0], "+", color="black", markersize=9)
        self._finish()

    def _current_surface(self):
        s = float(self.value("scale"))
        return ("scaled", s), scaled_quadratic(s)

    def _sync_surface(self) -> None:
        key, surf = self._current_surface()
        first = self.surface is None
        self.surface_key, self.surface = key, surf
        if first:  # 形状与 s 无关：等高线只画一次
            self._cs = draw_surface_contour(self.ax, surf)
            self.ax.plot(*surf.minimizer, marker="*", color="crimson", markersize=11, linestyle="none")
            self._start.set_data([surf.x0[0]], [surf.x0[1]])
            self.ax.set_xlim(surf.xlim)
            self.ax.set_ylim(surf.ylim)
            self.ax.set_title("$f_s = s\\cdot f$ 的等高线（+ 为原点）", fontsize=10)
            self.ax_loss.set_ylim(1e-8, 1e8)
            self.ax_loss.set_ylabel("$f_s(\\theta_t) - f_s^*$")
            self._static_changed()

    def _specs(self):
        lr, wd = float(self.value("lr")), float(self.value("weight_decay"))
        return [("AdamW", AdamW, {"lr": lr, "weight_decay": wd}),
                ("Adam + L2", Adam, {"lr": lr, "weight_decay": wd})]

    def _compute(self) -> None:
        super()._compute()
        s, wd = float(self.controls["scale"].value), float(self.controls["weight_decay"].value)
        # L2 正则目标 s f + λ/2 ‖θ‖² 的最小点：θ_i = s h_i θ*_i / (s h_i + λ)
        pt = [s * h * t / (s * h + wd) for h, t in zip(_ADAMW_H, ADAMW_TARGET)]
        self.l2_point.set_data([pt[0]], [pt[1]])

    def _title(self) -> str:
        c = self.controls
        return (f"AdamW 与 Adam + L2：η = {fmt(c['lr'].value)}，λ = {fmt(c['weight_decay'].value)}，"
                f"梯度尺度 s = {fmt(c['scale'].value)}")
