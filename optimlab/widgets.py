"""书中的交互式探索器：ipywidgets 控件 + matplotlib 图。

每个探索器都是 :class:`Explorer` 的子类，由同名函数构造（如 :func:`sgd_explorer`），
在 Jupyter 中直接显示即可。设计要点：

* 图是一个不经过 pyplot 的 ``Figure``\\ （Agg 画布），渲染成 PNG 放进 ``ipywidgets.Image``，
  因此与 ``%matplotlib inline`` 兼容，也不会在单元格末尾多画一张图；
* 等高线、坐标轴等 **静态** 部分只画一次并缓存成位图；移动控件时只更新轨迹、曲线和文字
  （``animated`` 的 artist），再贴回位图（blitting）；
* 优化器在同一曲面上的几次运行 **同步** 进行，共用一次前向与反向传播（:func:`run_lockstep`），
  结果与逐个调用 :func:`optimlab.trajectory.run` 逐位相同，并按超参数缓存；
* 任何控件取值都不会抛出异常：发散显示为"发散（第 k 步）"，非法超参数显示为"无法运行：……"。

依赖方向：optim ← trajectory ← plotting ← widgets；optimlab 的其他模块都不导入本模块。
"""

from __future__ import annotations

import functools
import html
import io
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from PIL import Image

from . import problems
from .optim import SGD, Adam, AdamW, NAdam, RMSprop
from .plotting import setup_cjk_font
from .problems import Surface
from .trajectory import Trajectory, grid, run_many

__all__ = [
    "Explorer",
    "run_lockstep",
    "sgd_explorer",
    "adam_explorer",
    "bias_correction_explorer",
    "reddi_explorer",
    "adamw_explorer",
    "nadam_explorer",
    "variants_explorer",
    "scheduler_explorer",
    "sensitivity_explorer",
    "EXPLORERS",
]

#: 动态文字的字体：西文、希腊字母与上下标用 DejaVu Sans，中文回退到 Noto Sans CJK SC。
#: 动态文字不用 mathtext：每次内容改变都要重新解析，太慢。
MIXED_FONT = ["DejaVu Sans", "Noto Sans CJK SC"]

#: 移动滑块时，顺带在一次批量运行（:func:`optimlab.sweep.sweep`）中算好两侧各这么多个取值。
PREFETCH = 8

#: 损失曲线纵轴的下限（对数坐标）；更小的值画在下限上。
LOSS_FLOOR = 1e-12
_RED = "#c0392b"
_COLORS = {"SGD": "#1f77b4", "Adam": "#d62728", "RMSprop": "#2ca02c", "AMSGrad": "#1f77b4",
           "AdamW": "#1f77b4", "Adam + L2": "#d62728", "NAdam": "#9467bd", "基准": "#7f7f7f"}

# 优化器报错（与 torch.optim 相同的英文信息）对应的中文说明。
_MESSAGES = {
    "Nesterov momentum requires a momentum and zero dampening": "Nesterov 动量要求 μ > 0 且 τ = 0",
}


def _fmt(x: float) -> str:
    """超参数的短格式：0.001 → 1e-3，0.9 → 0.9。"""
    if x == 0:
        return "0"
    if abs(x) < 1e-2 or abs(x) >= 1e4:
        mant, exp = f"{x:.2e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        return f"{mant}e{int(exp)}"
    return f"{x:.4g}"


def error_message(err: BaseException) -> str:
    """把优化器的报错转成图中显示的中文说明。"""
    text = str(err)
    return f"无法运行：{_MESSAGES.get(text, text)}"


def divergence_message(step: int) -> str:
    """发散提示，与 :func:`optimlab.plotting.plot_path` 的写法一致。"""
    return f"发散（第 {step} 步）"


# ----------------------------------------------------------------------------------------------
# 同步运行多个优化器
# ----------------------------------------------------------------------------------------------

#: 探索器把这些异常显示成消息（构造优化器或 ``step()`` 时抛出的：非法超参数、运行中才暴露的问题）
OPTIMIZER_ERRORS = (ValueError, TypeError, RuntimeError, NotImplementedError)


def run_lockstep(
    surface: Surface,
    specs: Sequence[tuple[Callable[..., torch.optim.Optimizer], dict[str, Any]]],
    steps: int = 200,
    x0: tuple[float, float] | None = None,
    labels: Sequence[str] | None = None,
) -> list[Trajectory | Exception]:
    """:func:`optimlab.trajectory.run_many`，把 :data:`OPTIMIZER_ERRORS` 放在结果里而不是抛出。"""
    return run_many(surface, specs, steps, x0, labels, errors=OPTIMIZER_ERRORS)  # type: ignore[return-value]


class _RunCache:
    """按 ``(曲面键, 优化器, 超参数, 步数)`` 缓存轨迹的 LRU 缓存。"""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[tuple, Trajectory | Exception] = OrderedDict()

    @staticmethod
    def key(surface_key: Any, cls: type, hparams: dict[str, Any], steps: int) -> tuple:
        return (surface_key, cls.__name__, tuple(sorted(hparams.items())), steps)

    def prefetch(self, surface_key: Any, surface: Surface, cls: type, settings: list[dict[str, Any]],
                 steps: int) -> None:
        """用一次批量扫描（:func:`optimlab.sweep.sweep`）算出 ``settings`` 中尚未缓存的设置。

        扫描的结果与逐个运行逐位相同；任何一组设置非法（或该优化器不支持扫描）时什么也不做，
        留给 :meth:`runs` 逐个运行并把错误显示出来。
        """
        todo, seen = [], set()
        for hp in settings:
            k = self.key(surface_key, cls, hp, steps)
            if k not in self._data and k not in seen:
                seen.add(k)
                todo.append(hp)
        if len(todo) < 2:
            return
        try:
            from .sweep import sweep
        except ImportError:  # pragma: no cover - 没有批量扫描时只是不预取
            return
        cols: dict[str, list] = {}
        flags: dict[str, bool] = {}
        for hp in todo:
            for name, v in hp.items():
                if name == "betas":
                    cols.setdefault("beta1", []).append(v[0])
                    cols.setdefault("beta2", []).append(v[1])
                elif isinstance(v, bool):
                    if flags.setdefault(name, v) != v:
                        return
                else:
                    cols.setdefault(name, []).append(v)
        try:
            res = sweep(surface, cls.__name__, steps, **{k: np.asarray(v, dtype=np.float64) for k, v in cols.items()},
                        **flags)
        except (ValueError, TypeError, RuntimeError):
            return
        for i, hp in enumerate(todo):
            self._data[self.key(surface_key, cls, hp, steps)] = res.trajectory(i)

    def runs(self, surface_key: Any, surface: Surface, specs, steps: int) -> list[Trajectory | Exception]:
        keys = [self.key(surface_key, cls, hp, steps) for cls, hp in specs]
        missing = [i for i, k in enumerate(keys) if k not in self._data]
        if missing:
            new = run_lockstep(surface, [specs[i] for i in missing], steps)
            for i, res in zip(missing, new):
                self._data[keys[i]] = res
        out = []
        for k in keys:
            self._data.move_to_end(k)
            out.append(self._data[k])
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return out


# ----------------------------------------------------------------------------------------------
# 探索器基类
# ----------------------------------------------------------------------------------------------

def _slider_style() -> dict:
    return {"description_width": "initial"}


def _log_slider(desc: str, value: float, lo: int, hi: int, step: float = 0.25) -> W.FloatLogSlider:
    # 初值对齐到滑块的刻度 10^(lo + k·step)：否则浏览器显示对齐后的值，而图用的是未对齐的值
    k = round((math.log10(value) - lo) / step)
    value = 10.0 ** (lo + k * step)
    return W.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=step, description=desc,
                            readout_format=".2g", style=_slider_style(), continuous_update=True)


def _slider(desc: str, value: float, lo: float, hi: float, step: float, fmt: str = ".3g") -> W.FloatSlider:
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=desc, readout_format=fmt,
                         style=_slider_style(), continuous_update=True)


def compact_png(png: bytes, colors: int = 96) -> bytes:
    """把 PNG 转成 ``colors`` 色的调色板 PNG（约小 3 倍；图中只有少数几种颜色，肉眼看不出差别）。"""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="png", optimize=True)
    return out.getvalue()


def _widget_bundle(widget: W.Widget, name: str, images: Sequence[W.Image] = (), **kwargs) -> dict:
    """控件的显示数据；纯文本部分换成固定的一句话（默认的 repr 含整张 PNG，且每次不同）。

    显示时把 ``images`` 换成紧凑的调色板 PNG：笔记本里保存、静态网页上显示的就是这一帧；
    之后在内核中拖动滑块时，重画仍用快速编码。
    """
    for image in images:
        if image.value:
            image.value = compact_png(image.value)
    data = widget._repr_mimebundle_(**kwargs)
    if isinstance(data, tuple):
        data = data[0]
    data = dict(data)
    data["text/plain"] = f"交互探索器 {name}（需要运行中的 Jupyter 内核）"
    return data


class Explorer:
    """探索器基类：一张持久的图 + 一组控件。

    子类在 ``__init__`` 中建好控件（放进 ``self.controls``）和图，然后调用 ``self._finish()``；
    实现 ``_compute()``\\ （根据控件计算并更新动态 artist）。控件变化时自动调用 :meth:`update`。

    Attributes:
        fig: matplotlib ``Figure``\\ （Agg 画布，不经过 pyplot）。
        controls: 名称 → ipywidgets 控件。
        image: 显示图像的 ``ipywidgets.Image``。
        widget: 整个界面（``VBox``）。
        messages: 最近一次更新显示的提示（发散、无法运行）列表。
    """

    dpi = 80

    def __init__(self, figsize: tuple[float, float]) -> None:
        setup_cjk_font()
        self.fig = Figure(figsize=figsize, dpi=self.dpi)
        FigureCanvasAgg(self.fig)
        self.controls: dict[str, W.Widget] = {}
        self.messages: list[str] = []
        self._dynamic: list[Any] = []
        self._background = None
        self._holding = False
        self._blit = True
        self._render_on_update = True
        self._changed: W.Widget | None = None
        self._override: dict[str, Any] = {}
        self.image = W.Image(format="png")
        #: 实时界面中，超参数标题显示在图上方的 HTML 标签里（matplotlib 排版文字很慢）；
        #: 静态动画（``set_blit(False)``）中标题画在图里。
        self.caption = W.HTML()
        self.widget: W.Box | None = None
        self.png: bytes = b""

    # --- 子类使用 --------------------------------------------------------------------------
    def _dyn(self, artist):
        """登记一个动态 artist（每次更新时重画）。"""
        from matplotlib.text import Text

        if isinstance(artist, Text):
            artist.set_fontfamily(MIXED_FONT)
        artist.set_animated(self._blit)
        self._dynamic.append(artist)
        return artist

    def _static_changed(self) -> None:
        """静态部分（等高线、坐标范围、标签）变了：下次渲染时重画整张图。"""
        self._background = None

    def _layout(self) -> list[W.Widget]:
        """控件的排列；默认每行三个。"""
        items = list(self.controls.values())
        rows = [W.HBox(items[i:i + 3]) for i in range(0, len(items), 3)]
        return rows

    def _finish(self) -> None:
        for ctrl in self.controls.values():
            ctrl.observe(self.update, names="value")
        self.widget = W.VBox([*self._layout(), self.caption, self.image])
        self.update()

    def _compute(self) -> None:  # pragma: no cover - 子类实现
        raise NotImplementedError

    # --- 公共接口 --------------------------------------------------------------------------
    def update(self, change=None) -> None:
        """根据当前控件值重新计算并重画；任何异常都变成图中的消息。"""
        if self._holding:
            return
        self._changed = change["owner"] if isinstance(change, dict) and "owner" in change else None
        try:
            self._compute()
        except Exception as err:  # 兜底：控件取值绝不让探索器抛出异常
            self._show_failure(err)
        if self._render_on_update:
            self.render()

    def _show_failure(self, err: BaseException) -> None:
        self.messages = [error_message(err)]

    def set(self, **values) -> None:
        """一次设置多个控件，只重画一次（测试与静态动画用）。"""
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._holding = False
        self.update()

    def render(self) -> bytes:
        """把图渲染成 PNG（静态部分用缓存的位图）并放进 ``self.image``。"""
        canvas = self.fig.canvas
        title = getattr(self, "title", None)
        if title is not None:
            title.set_visible(not self._blit)
            self.caption.value = f"<b>{html.escape(title.get_text())}</b>"
        if not self._blit:
            canvas.draw()
        else:
            if self._background is None:
                canvas.draw()  # 动态 artist 为 animated，不在此处绘制
                self._background = canvas.copy_from_bbox(self.fig.bbox)
            else:
                canvas.restore_region(self._background)
            for artist in self._dynamic:
                if artist.get_visible():
                    self.fig.draw_artist(artist)
        w, h = canvas.get_width_height(physical=True)
        out = io.BytesIO()
        Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
            out, format="png", compress_level=1)
        self.png = out.getvalue()
        self.image.value = self.png
        return self.png

    def set_blit(self, on: bool) -> None:
        """关闭 blitting 时动态 artist 成为普通 artist（``savefig``、动画需要）。

        静态帧（``on=False``）里标题画在图上：读者要从图中看出这一帧是哪组参数。
        """
        self._blit = on
        for artist in self._dynamic:
            artist.set_animated(on)
        title = getattr(self, "title", None)
        if title is not None:
            title.set_visible(not on)
        self._background = None

    def texts(self) -> str:
        """图中所有文字（标题、图例、提示）连在一起，便于测试检查。"""
        out = []
        from matplotlib.text import Text

        for t in self.fig.findobj(Text):
            if (t.get_visible() or t is getattr(self, "title", None)) and t.get_text():
                out.append(t.get_text())
        return "\n".join(out)

    def _repr_mimebundle_(self, **kwargs):
        return _widget_bundle(self.widget, type(self).__name__, [self.image], **kwargs)

    def value(self, name: str) -> Any:
        """控件 ``name`` 的当前值（预取邻近取值时可被临时替换）。"""
        v = self._override[name] if name in self._override else self.controls[name].value
        if isinstance(v, float):  # 10 位有效数字：前端算出的滑块值与预取的值在末位上的差别不影响缓存命中
            v = float(f"{v:.10g}")
        return v

    def _neighbours(self, n: int | None = None) -> tuple[str | None, list]:
        """刚被移动的滑块及其两侧各 ``n`` 个可取的值（拖动滑块时接下来最可能出现的值）。"""
        n = PREFETCH if n is None else n
        ctrl = self._changed
        name = next((k for k, c in self.controls.items() if c is ctrl), None)
        if name is None:
            return None, []
        v = ctrl.value
        if isinstance(ctrl, W.SelectionSlider):
            opts = [o[1] if isinstance(o, tuple) else o for o in ctrl.options]
            i = opts.index(v)
            return name, opts[max(0, i - n) : i + n + 1]
        if isinstance(ctrl, W.FloatLogSlider):
            e = math.log10(v)
            vals = [10.0 ** (e + k * ctrl.step) for k in range(-n, n + 1)]
            return name, [x for x in vals if 10.0**ctrl.min * (1 - 1e-9) <= x <= 10.0**ctrl.max * (1 + 1e-9)]
        if isinstance(ctrl, (W.FloatSlider, W.IntSlider)):
            vals = [v + k * ctrl.step for k in range(-n, n + 1)]
            if isinstance(ctrl, W.FloatSlider):
                vals = [round(x, 10) for x in vals]
            return name, [x for x in vals if ctrl.min <= x <= ctrl.max]
        return name, []



# ----------------------------------------------------------------------------------------------
# 二维曲面上的轨迹探索器（SGD、Adam、NAdam、AdamW 共用）
# ----------------------------------------------------------------------------------------------

_SURFACE_NAMES = [("二次函数", "quadratic"), ("Rosenbrock", "rosenbrock"), ("Beale", "beale")]
_KAPPAS = [1, 2, 5, 10, 20, 50, 100]


def _contour(ax, surface: Surface, resolution: int = 120, levels: int = 25):
    """与 :func:`optimlab.plotting.plot_contour` 相同的对数刻度等高线，分辨率较低以便快速切换曲面。"""
    X, Y, Z = grid(surface, resolution)
    shifted = Z - surface.f_min + 1e-3
    lv = np.logspace(np.log10(shifted.min()), np.log10(shifted.max()), levels)
    return ax.contour(X, Y, shifted, levels=lv, norm=LogNorm(), cmap="viridis", linewidths=0.6, alpha=0.8)


class _PathExplorer(Explorer):
    """左：等高线 + 轨迹；右：损失曲线 :math:`f(\\theta_t) - f^*`。子类给出要运行的优化器。"""

    series: tuple[str, ...] = ()
    #: 改变曲面本身的控件（不沿它们预取）。
    _surface_controls: tuple[str, ...] = ("surface", "kappa", "scale")

    def __init__(self, surface: str | Surface, steps: int, kappa: float = 10, choose_surface: bool = True,
                 figsize=(8.6, 3.5)) -> None:
        super().__init__(figsize)
        self.steps = steps
        self.cache = _RunCache()
        self._fixed_surface = surface if isinstance(surface, Surface) else None
        if choose_surface and self._fixed_surface is None:
            self.controls["surface"] = W.Dropdown(options=_SURFACE_NAMES, value=surface, description="曲面",
                                                  style=_slider_style(), layout=W.Layout(width="200px"))
            self.controls["kappa"] = W.SelectionSlider(options=_KAPPAS, value=kappa, description="条件数 κ",
                                                       style=_slider_style(), continuous_update=True)
        self._surface_name = surface if isinstance(surface, str) else None
        self._kappa = kappa
        self.ax, self.ax_loss = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.84, wspace=0.25)
        self._cs = None
        self._star = None
        self.lines: dict[str, Any] = {}
        self.ends: dict[str, Any] = {}
        self.loss_lines: dict[str, Any] = {}
        self.trajectories: dict[str, Trajectory | Exception] = {}
        for name in self.series:
            c = _COLORS.get(name)
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
                                                  va="top", fontsize=9, color=_RED, linespacing=1.4))
        self.surface_key: Any = None
        self.surface: Surface | None = None

    # --- 曲面 ------------------------------------------------------------------------------
    def _current_surface(self) -> tuple[Any, Surface]:
        if self._fixed_surface is not None:
            return ("fixed", id(self._fixed_surface)), self._fixed_surface
        name = self.controls["surface"].value if "surface" in self.controls else self._surface_name
        if name == "quadratic":
            kappa = float(self.controls["kappa"].value) if "kappa" in self.controls else self._kappa
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
        self._cs = _contour(self.ax, surf)
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
        if all(self.cache.key(self.surface_key, cls, hp, self.steps) in self.cache._data for _, cls, hp in self._specs()):
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
                self.messages.append(f"{name}：第 {self.steps} 步 f − f* = {_fmt(res.loss[-1] - f_min)}")
        self.title.set_text(self._title())
        self.status.set_text("\n".join(self.messages))
        self.status.set_color(_RED if any("发散" in m or "无法" in m for m in self.messages) else "black")

    def _show_failure(self, err: BaseException) -> None:
        super()._show_failure(err)
        self.status.set_text(self.messages[0])
        self.status.set_color(_RED)


_SGD_DEFAULTS = {"quadratic": 0.05, "rosenbrock": 1e-3, "beale": 1e-3}


class SGDExplorer(_PathExplorer):
    """SGD：学习率 η、动量 μ、阻尼 τ、Nesterov、权重衰减 λ。"""

    series = ("SGD",)

    def __init__(self, surface: str = "rosenbrock", steps: int = 200, lr: float | None = None,
                 momentum: float = 0.9, kappa: float = 10) -> None:
        super().__init__(surface, steps, kappa)
        lr = _SGD_DEFAULTS.get(surface, 1e-3) if lr is None else lr
        c = self.controls
        c["lr"] = _log_slider("学习率 η", lr, -4, 0)
        c["momentum"] = _slider("动量 μ", momentum, 0.0, 0.99, 0.01)
        c["dampening"] = _slider("阻尼 τ", 0.0, 0.0, 0.9, 0.1)
        c["nesterov"] = W.Checkbox(value=False, description="Nesterov", indent=False)
        c["weight_decay"] = _slider("权重衰减 λ", 0.0, 0.0, 1.0, 0.01)
        self._finish()

    def _hparams(self) -> dict[str, Any]:
        c = self.controls
        return {"lr": float(self.value("lr")), "momentum": float(self.value("momentum")),
                "dampening": float(self.value("dampening")), "nesterov": bool(self.value("nesterov")),
                "weight_decay": float(self.value("weight_decay"))}

    def _specs(self):
        return [("SGD", SGD, self._hparams())]

    def _title(self) -> str:
        h = self._hparams()
        return (f"SGD：η = {_fmt(h['lr'])}，μ = {_fmt(h['momentum'])}，τ = {_fmt(h['dampening'])}，"
                f"Nesterov = {'是' if h['nesterov'] else '否'}，λ = {_fmt(h['weight_decay'])}")


_ADAM_DEFAULTS = {"quadratic": 0.1, "rosenbrock": 0.05, "beale": 0.05}


def _adam_sliders(surface: str, lr: float | None) -> dict[str, W.Widget]:
    """Adam 类探索器共用的 η、β₁、β₂ 滑块（η 默认取该曲面上合适的值）。"""
    lr = _ADAM_DEFAULTS.get(surface, 0.05) if lr is None else lr
    return {"lr": _log_slider("学习率 η", lr, -3, 0),
            "beta1": _slider("β₁", 0.9, 0.0, 0.999, 0.001),
            "beta2": _slider("β₂", 0.999, 0.5, 0.9999, 0.0001, ".4g")}


class AdamExplorer(_PathExplorer):
    """Adam 与 SGD 动量（μ = β₁）、RMSprop（α = β₂，同 η 与 ε）在同一曲面上比较。"""

    series = ("Adam", "SGD", "RMSprop")

    def __init__(self, surface: str = "rosenbrock", steps: int = 200, lr: float | None = None,
                 sgd_lr: float = 1e-3, kappa: float = 10) -> None:
        super().__init__(surface, steps, kappa)
        c = self.controls
        c.update(_adam_sliders(surface, lr))
        c["eps"] = _log_slider("ε", 1e-8, -12, 0, 1.0)
        c["sgd_lr"] = _log_slider("SGD 学习率", sgd_lr, -5, 0)
        self._finish()

    def _hparams(self):
        c = self.controls
        return (float(self.value("lr")), float(self.value("beta1")), float(self.value("beta2")), float(self.value("eps")),
                float(self.value("sgd_lr")))

    def _specs(self):
        lr, b1, b2, eps, sgd_lr = self._hparams()
        return [("Adam", Adam, {"lr": lr, "betas": (b1, b2), "eps": eps}),
                ("SGD", SGD, {"lr": sgd_lr, "momentum": b1}),
                ("RMSprop", RMSprop, {"lr": lr, "alpha": b2, "eps": eps})]

    def _title(self) -> str:
        lr, b1, b2, eps, sgd_lr = self._hparams()
        return (f"Adam：η = {_fmt(lr)}，β₁ = {_fmt(b1)}，β₂ = {_fmt(b2)}，ε = {_fmt(eps)}"
                f"｜SGD：μ = β₁，η = {_fmt(sgd_lr)}｜RMSprop：α = β₂")


class NAdamExplorer(_PathExplorer):
    """NAdam 与 Adam：相同的 η、β₁、β₂，NAdam 另有动量调度 ψ（``momentum_decay``）。"""

    series = ("Adam", "NAdam")

    def __init__(self, surface: str = "rosenbrock", steps: int = 200, lr: float | None = None,
                 kappa: float = 10) -> None:
        super().__init__(surface, steps, kappa)
        c = self.controls
        c.update(_adam_sliders(surface, lr))
        c["momentum_decay"] = _log_slider("动量调度 ψ", 4e-3, -4, 0)
        self._finish()

    def _hparams(self):
        c = self.controls
        return float(self.value("lr")), float(self.value("beta1")), float(self.value("beta2")), float(self.value("momentum_decay"))

    def _specs(self):
        lr, b1, b2, psi = self._hparams()
        return [("Adam", Adam, {"lr": lr, "betas": (b1, b2)}),
                ("NAdam", NAdam, {"lr": lr, "betas": (b1, b2), "momentum_decay": psi})]

    def _title(self) -> str:
        lr, b1, b2, psi = self._hparams()
        return f"Adam 与 NAdam：η = {_fmt(lr)}，β₁ = {_fmt(b1)}，β₂ = {_fmt(b2)}；NAdam 的 ψ = {_fmt(psi)}"


# --- AdamW 与 Adam + L2 ---------------------------------------------------------------------

#: AdamW 实验用的二次函数的最小点；权重衰减把参数拉向原点。
ADAMW_TARGET = (2.0, 1.5)
_ADAMW_H = (1.0, 4.0)


def scaled_quadratic(scale: float) -> Surface:
    r""":math:`f_s(x, y) = s\cdot\tfrac12\bigl((x-2)^2 + 4(y-1.5)^2\bigr)`：形状不变、梯度按 :math:`s` 缩放的二次函数。"""
    (a, b), (h1, h2) = ADAMW_TARGET, _ADAMW_H

    def fn(xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return scale * (0.5 * (h1 * (x - a) ** 2 + h2 * (y - b) ** 2))

    return Surface(f"梯度尺度 s = {_fmt(scale)}", fn, ADAMW_TARGET, (-1.5, -1.0), (-2.0, 3.0), (-1.5, 2.5))


class AdamWExplorer(_PathExplorer):
    """AdamW（解耦权重衰减）与 Adam + L2（``weight_decay``）：改变权重衰减 λ 与梯度尺度 s。

    Adam 的更新对梯度尺度不敏感（:math:`\\epsilon` 可忽略时），AdamW 的衰减项 :math:`\\eta\\lambda\\theta`
    也与 :math:`s` 无关，所以 AdamW 的轨迹几乎不随 :math:`s` 变化；L2 项 :math:`\\lambda\\theta`
    却与梯度 :math:`s\\nabla f` 相加后一起被归一化，:math:`s` 越小，衰减越占上风。
    """

    series = ("AdamW", "Adam + L2")

    def __init__(self, steps: int = 200, lr: float = 0.05, weight_decay: float = 0.1, scale: float = 1.0) -> None:
        super().__init__(scaled_quadratic(1.0), steps, choose_surface=False)
        c = self.controls
        c["weight_decay"] = _slider("权重衰减 λ", weight_decay, 0.0, 1.0, 0.01)
        c["scale"] = _log_slider("梯度尺度 s", scale, -3, 3)
        c["lr"] = _log_slider("学习率 η", lr, -3, 0)
        self._scaled: dict[float, Surface] = {}
        (self.l2_point,) = self.ax.plot([], [], "D", color=_COLORS["Adam + L2"], markersize=5, mfc="none",
                                        label="L2 正则目标的最小点")
        self._dyn(self.l2_point)
        self.ax.plot([0], [0], "+", color="black", markersize=9)
        self._finish()

    def _current_surface(self):
        s = float(self.value("scale"))
        if s not in self._scaled:
            self._scaled[s] = scaled_quadratic(s)
        return ("scaled", s), self._scaled[s]

    def _sync_surface(self) -> None:
        key, surf = self._current_surface()
        first = self.surface is None
        self.surface_key, self.surface = key, surf
        if first:  # 形状与 s 无关：等高线只画一次
            self._cs = _contour(self.ax, surf)
            self.ax.plot(*surf.minimizer, marker="*", color="crimson", markersize=11, linestyle="none")
            self._start.set_data([surf.x0[0]], [surf.x0[1]])
            self.ax.set_xlim(surf.xlim)
            self.ax.set_ylim(surf.ylim)
            self.ax.set_title("$f_s = s\\cdot f$ 的等高线（+ 为原点）", fontsize=10)
            self.ax_loss.set_ylim(1e-8, 1e8)
            self.ax_loss.set_ylabel("$f_s(\\theta_t) - f_s^*$")
            self._static_changed()

    def _specs(self):
        c = self.controls
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
        return (f"AdamW 与 Adam + L2：η = {_fmt(c['lr'].value)}，λ = {_fmt(c['weight_decay'].value)}，"
                f"梯度尺度 s = {_fmt(c['scale'].value)}")


# ----------------------------------------------------------------------------------------------
# 偏差校正
# ----------------------------------------------------------------------------------------------

def moment_estimates(beta1: float, beta2: float, grads: np.ndarray) -> dict[str, np.ndarray]:
    r"""把梯度序列 ``grads`` 逐个交给 :class:`optimlab.Adam`，读出状态中的 :math:`m_t`、:math:`v_t`，
    并算出偏差校正后的 :math:`\hat m_t = m_t/(1-\beta_1^t)`、:math:`\hat v_t = v_t/(1-\beta_2^t)`。

    Returns:
        ``{"m", "v", "m_hat", "v_hat"}``，每个长度为 ``len(grads)``，第 ``t-1`` 项对应第 ``t`` 步。
    """
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = Adam([p], lr=0.0, betas=(beta1, beta2))
    n = len(grads)
    m, v = np.empty(n), np.empty(n)
    g = torch.as_tensor(np.asarray(grads, dtype=np.float64))
    for i in range(n):
        p.grad = g[i : i + 1].clone()
        opt.step()
        st = opt.state[p]
        m[i], v[i] = float(st["exp_avg"]), float(st["exp_avg_sq"])
    t = np.arange(1, n + 1)
    return {"m": m, "v": v, "m_hat": m / (1 - beta1**t), "v_hat": v / (1 - beta2**t)}


def noisy_gradients(n: int, sigma: float, mean: float = 1.0, seed: int = 0) -> np.ndarray:
    """带噪声的梯度序列 :math:`g_t = \\text{mean} + \\sigma\\,\\xi_t`，:math:`\\xi_t \\sim N(0, 1)`\\ （固定种子）。"""
    xi = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()
    return mean + sigma * xi


class BiasCorrectionExplorer(Explorer):
    """β₁、β₂、噪声 σ 与步数 t：未校正的 :math:`m_t, v_t` 与校正后的 :math:`\\hat m_t, \\hat v_t`。"""

    def __init__(self, max_steps: int = 300, beta1: float = 0.9, beta2: float = 0.999, sigma: float = 0.5) -> None:
        super().__init__((8.6, 3.5))
        self.max_steps = max_steps
        c = self.controls
        c["beta1"] = _slider("β₁", beta1, 0.0, 0.999, 0.001)
        c["beta2"] = _slider("β₂", beta2, 0.5, 0.9999, 0.0001, ".4g")
        c["sigma"] = _slider("梯度噪声 σ", sigma, 0.0, 2.0, 0.1)
        c["t"] = W.IntSlider(value=min(50, max_steps), min=1, max=max_steps, description="步数 t", style=_slider_style(),
                             continuous_update=True)
        self.ax_m, self.ax_v = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.78, wspace=0.22)
        t = np.arange(1, max_steps + 1)
        self._cache: OrderedDict[tuple, dict] = OrderedDict()
        self.lines = {}
        for ax, key, sym, ylim in ((self.ax_m, "m", "m", (-0.5, 2.5)), (self.ax_v, "v", "v", (0.0, 6.0))):
            self.lines["g_" + key] = self._dyn(ax.plot(t, t * np.nan, ".", color="0.75", markersize=2,
                                                       label="$g_t$" if key == "m" else "$g_t^2$")[0])
            self.lines[key] = self._dyn(ax.plot(t, t * np.nan, color="#d62728", lw=1.3,
                                                label=f"未校正 ${sym}_t$")[0])
            self.lines[key + "_hat"] = self._dyn(ax.plot(t, t * np.nan, color="#1f77b4", lw=1.3,
                                                         label=f"校正后 $\\hat {sym}_t$")[0])
            self.lines["true_" + key] = self._dyn(ax.axhline(1.0, color="black", ls="--", lw=0.9,
                                                             label="真值 $E[g]$" if key == "m" else "真值 $E[g^2]$"))
            self.lines["cursor_" + key] = self._dyn(ax.axvline(10, color="0.4", lw=0.8))
            ax.set_xlim(0, max_steps)
            ax.set_ylim(*ylim)
            ax.set_xlabel("步数 $t$")
            ax.grid(alpha=0.3)
            ax.legend(loc="upper right", fontsize=8)
        self.ax_m.set_title("一阶矩 $m_t$", fontsize=10)
        self.ax_v.set_title("二阶矩 $v_t$", fontsize=10)
        self.title = self._dyn(self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=10))
        self.readout = self._dyn(self.fig.text(0.5, 0.905, "", ha="center", va="top", fontsize=9,
                                               linespacing=1.5))
        self._finish()

    def estimates(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        c = self.controls
        key = (float(c["beta1"].value), float(c["beta2"].value), float(c["sigma"].value))
        if key not in self._cache:
            g = noisy_gradients(self.max_steps, key[2])
            self._cache[key] = (g, moment_estimates(key[0], key[1], g))
            if len(self._cache) > 256:
                self._cache.popitem(last=False)
        return self._cache[key]

    def _compute(self) -> None:
        c = self.controls
        b1, b2, sigma, t = float(c["beta1"].value), float(c["beta2"].value), float(c["sigma"].value), int(c["t"].value)
        g, est = self.estimates()
        steps = np.arange(1, t + 1)
        self.lines["g_m"].set_data(steps, g[:t])
        self.lines["g_v"].set_data(steps, g[:t] ** 2)
        for key in ("m", "m_hat", "v", "v_hat"):
            self.lines[key].set_data(steps, est[key][:t])
        self.lines["true_m"].set_ydata([1.0, 1.0])
        self.lines["true_v"].set_ydata([1.0 + sigma**2] * 2)
        self.lines["cursor_m"].set_xdata([t, t])
        self.lines["cursor_v"].set_xdata([t, t])
        i = t - 1
        self.messages = []
        self.title.set_text(f"偏差校正：β₁ = {_fmt(b1)}，β₂ = {_fmt(b2)}，σ = {_fmt(sigma)}，t = {t}")
        self.readout.set_text(
            f"t = {t}：m = {est['m'][i]:.3f}，m̂ = {est['m_hat'][i]:.3f}，"
            f"v = {est['v'][i]:.3f}，v̂ = {est['v_hat'][i]:.3f}，"
            f"1 − β₁ᵗ = {1 - b1**t:.3g}，1 − β₂ᵗ = {1 - b2**t:.3g}")


# ----------------------------------------------------------------------------------------------
# Reddi 等人的反例：Adam 与 AMSGrad
# ----------------------------------------------------------------------------------------------

def reddi_run(C: float, lr: float, beta1: float, beta2: float, steps: int, decay: bool = True,
              x0: float = 0.0, eps: float = 1e-8) -> dict[str, Any]:
    r"""在 :func:`optimlab.problems.reddi_loss` 上同步运行 Adam 与 AMSGrad，每步后把 :math:`x` 投影回 [−1, 1]。

    ``decay=True`` 时学习率取 :math:`\eta_t = \eta/\sqrt t`\ （Reddi 等人的设定）。

    Returns:
        ``{"Adam": x, "AMSGrad": x, "Adam_regret": R_t/t, "AMSGrad_regret": R_t/t}``\ （长度 ``steps + 1``，
        ``x[0] = x0``）；超参数非法时值为异常对象。
    """
    out: dict[str, Any] = {}
    params, opts, names = [], [], []
    for name, ams in (("Adam", False), ("AMSGrad", True)):
        x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
        try:
            opts.append(Adam([x], lr=lr, betas=(beta1, beta2), eps=eps, amsgrad=ams))
        except ValueError as err:
            out[name] = err
            out[name + "_regret"] = err
            continue
        params.append(x)
        names.append(name)
    xs = np.full((len(params), steps + 1), np.nan)
    regret = np.zeros((len(params), steps + 1))
    if params:
        xs[:, 0] = x0
        total = np.zeros(len(params))
        for t in range(1, steps + 1):
            if decay:
                for opt in opts:
                    opt.param_groups[0]["lr"] = lr / math.sqrt(t)
            for p in params:
                p.grad = None
            losses = [problems.reddi_loss(p, t, C).sum() for p in params]
            best = float(problems.reddi_loss(torch.tensor(-1.0, dtype=torch.float64), t, C))
            torch.stack(losses).sum().backward()
            for j, (p, opt) in enumerate(zip(params, opts)):
                total[j] += float(losses[j].detach()) - best
                opt.step()
                with torch.no_grad():
                    p.clamp_(-1.0, 1.0)  # 投影到可行域 [-1, 1]
                xs[j, t] = float(p.detach())
            regret[:, t] = total / t
    for j, name in enumerate(names):
        out[name] = xs[j]
        out[name + "_regret"] = regret[j]
    return out


class ReddiExplorer(Explorer):
    """Reddi 等人的在线凸问题：Adam 收敛到最差点 x = +1，AMSGrad 走向最优点 x* = −1。"""

    def __init__(self, steps: int = 300, C: float = 3.0, lr: float = 0.5, beta1: float = 0.0,
                 beta2: float = 0.1) -> None:
        super().__init__((8.6, 3.3))
        self.steps = steps
        c = self.controls
        c["C"] = _slider("C", C, 2.5, 10.0, 0.5)
        c["lr"] = _log_slider("学习率 η", lr, -2, 0)
        c["decay"] = W.Checkbox(value=True, description="η_t = η/√t", indent=False)
        c["beta1"] = _slider("β₁", beta1, 0.0, 0.99, 0.01)
        c["beta2"] = _slider("β₂", beta2, 0.01, 0.999, 0.001)
        self._cache: OrderedDict[tuple, dict] = OrderedDict()
        self.ax_x, self.ax_r = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.84, wspace=0.25)
        t = np.arange(steps + 1)
        self.lines = {}
        for name in ("Adam", "AMSGrad"):
            self.lines[name] = self._dyn(self.ax_x.plot(t, t * np.nan, color=_COLORS[name], lw=1.2, label=name)[0])
            self.lines[name + "_regret"] = self._dyn(self.ax_r.plot(t, t * np.nan, color=_COLORS[name], lw=1.2,
                                                                    label=name)[0])
        self.ax_x.axhline(-1, color="black", ls="--", lw=0.8)
        self.ax_x.text(steps, -0.93, "最优点 $x^*=-1$", ha="right", fontsize=8)
        self.ax_x.set_ylim(-1.1, 1.1)
        self.ax_x.set_xlim(0, steps)
        self.ax_x.set_xlabel("步数 $t$")
        self.ax_x.set_ylabel("$x_t$")
        self.ax_x.legend(loc="center right", fontsize=8)
        self.ax_x.grid(alpha=0.3)
        self.ax_r.set_xlim(0, steps)
        self.ax_r.set_xlabel("步数 $t$")
        self.ax_r.set_ylabel("平均遗憾 $R_t / t$")
        self.ax_r.grid(alpha=0.3)
        self.title = self._dyn(self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=10))
        self.status = self._dyn(self.ax_r.text(0.98, 0.97, "", transform=self.ax_r.transAxes, ha="right",
                                               va="top", fontsize=9, linespacing=1.4))
        self._ylim_C = None
        self._finish()

    def _compute(self) -> None:
        c = self.controls
        C, lr, b1, b2 = (float(c[k].value) for k in ("C", "lr", "beta1", "beta2"))
        decay = bool(c["decay"].value)
        key = (C, lr, b1, b2, decay)
        if key not in self._cache:
            self._cache[key] = reddi_run(C, lr, b1, b2, self.steps, decay)
            if len(self._cache) > 256:
                self._cache.popitem(last=False)
        res = self._cache[key]
        if self._ylim_C != C:  # x 停在 +1 时每步的平均遗憾是 (2C - 4)/3
            self.ax_r.set_ylim(0, max(2 * C + 2, 1.0))
            self._ylim_C = C
            self._static_changed()
        self.result = res
        self.messages = []
        t = np.arange(self.steps + 1)
        for name in ("Adam", "AMSGrad"):
            if isinstance(res[name], Exception):
                self.lines[name].set_data([], [])
                self.lines[name + "_regret"].set_data([], [])
                self.messages.append(f"{name}：{error_message(res[name])}")
            else:
                self.lines[name].set_data(t, res[name])
                self.lines[name + "_regret"].set_data(t[1:], res[name + "_regret"][1:])
                self.messages.append(f"{name}：x = {res[name][-1]:+.3f}")
        self.status.set_text("\n".join(self.messages))
        self.status.set_color(_RED if any("无法" in m for m in self.messages) else "black")
        lr_text = f"ηₜ = η/√t，η = {_fmt(lr)}" if decay else f"η = {_fmt(lr)}"
        self.title.set_text(f"Reddi 反例：C = {_fmt(C)}，{lr_text}，β₁ = {_fmt(b1)}，β₂ = {_fmt(b2)}")


class _Tabs:
    """把几个探索器放进一个 ``Tab``。"""

    def __init__(self, explorers: dict[str, Explorer]) -> None:
        self.explorers = explorers
        self.widget = W.Tab(children=[e.widget for e in explorers.values()])
        for i, title in enumerate(explorers):
            self.widget.set_title(i, title)

    def _repr_mimebundle_(self, **kwargs):
        return _widget_bundle(self.widget, "variants", [e.image for e in self.explorers.values()], **kwargs)


# ----------------------------------------------------------------------------------------------
# 学习率调度器
# ----------------------------------------------------------------------------------------------

SCHEDULERS = [("常数（不调度）", "constant"), ("StepLR", "step"), ("CosineAnnealingLR", "cosine"),
              ("OneCycleLR", "onecycle")]

#: 图例中调度曲线的名字（每个调度器一个，灰色虚线是常数 η₀ 的对照）。
SCHEDULE_LABELS = {"constant": "常数 η₀（不调度）", "step": "StepLR",
                   "cosine": "CosineAnnealingLR（余弦）", "onecycle": "OneCycleLR"}
_SHORT_NAMES = {"constant": "常数 η₀", "step": "StepLR", "cosine": "余弦", "onecycle": "OneCycle"}


def scheduler_run(kind: str, lr: float, step_size: int = 10, gamma: float = 0.3, T_max: int = 30,
                  max_lr: float = 0.1, pct_start: float = 0.3, epochs: int = 30, batch_size: int = 20):
    """用 optimlab.SGD 训练 ``problems.linear_regression`` 上的一元线性模型。

    返回 :class:`optimlab.training.History`。StepLR 与 CosineAnnealingLR 每轮调用一次
    ``step()``；OneCycleLR 每次更新调用一次（``total_steps`` = 轮数 × 每轮更新次数，
    ``cycle_momentum=False``，只看学习率的形状）。
    """
    from torch.optim import lr_scheduler as S

    from .training import fit, linear_model

    X, y, _ = problems.linear_regression()
    X, y = X[:, :1].float(), y[:, None].float()
    per_epoch = math.ceil(len(X) / batch_size)
    if kind == "constant":
        sched, per = None, "epoch"
    elif kind == "step":
        sched, per = (lambda o: S.StepLR(o, step_size=step_size, gamma=gamma)), "epoch"
    elif kind == "cosine":
        sched, per = (lambda o: S.CosineAnnealingLR(o, T_max=T_max)), "epoch"
    elif kind == "onecycle":
        sched = lambda o: S.OneCycleLR(  # noqa: E731
            o, max_lr=max_lr, total_steps=epochs * per_epoch, pct_start=pct_start,
            cycle_momentum=False)
        per = "step"
    else:
        raise ValueError(f"unknown scheduler {kind!r}")
    return fit(linear_model(1), X, y, SGD, batch_size=batch_size, epochs=epochs, seed=0,
               scheduler=sched, scheduler_per=per, lr=lr)


def _regression_design() -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`scheduler_run` 的问题的设计矩阵 ``[x, 1]`` 与目标（float64）。"""
    X, y, _ = problems.linear_regression()
    A = torch.cat([X[:, :1], torch.ones(len(X), 1, dtype=X.dtype)], dim=1)
    return A, y[:, None]


@functools.lru_cache(maxsize=None)
def regression_optimum() -> float:
    """:func:`scheduler_run` 的问题上最小二乘解的训练集均方误差（噪声下限），用于画超额损失。

    每个进程只算一次：归约的顺序随线程数变化，重算可能在最后一位上不同，而画图与测试要用同一个值。
    """
    A, y = _regression_design()
    w = torch.linalg.lstsq(A, y).solution
    return float(((A @ w - y) ** 2).mean())


@functools.lru_cache(maxsize=None)
def regression_lr_limit() -> float:
    """同一问题上全批量梯度下降的稳定上限 :math:`2/\\lambda_{\\max}`。

    均方误差 :math:`\\tfrac1n\\lVert A w - y\\rVert^2` 的 Hessian 是 :math:`\\tfrac2n A^\\top A`；
    学习率超过 :math:`2/\\lambda_{\\max}` 时，最陡方向上的误差每步放大（第 1 章的稳定性上限）。
    """
    A, _ = _regression_design()
    return float(2 / torch.linalg.eigvalsh(2 * A.T @ A / len(A)).max())


class SchedulerExplorer(Explorer):
    """学习率调度器的形状（左）及其对一次小批量 SGD 训练的影响（右，与常数学习率对比）。"""

    def __init__(self, kind: str = "step", epochs: int = 30, batch_size: int = 20) -> None:
        super().__init__((8.6, 3.5))
        self.epochs, self.batch_size = epochs, batch_size
        c = self.controls
        c["kind"] = W.Dropdown(options=SCHEDULERS, value=kind, description="调度器", style=_slider_style())
        c["lr"] = _log_slider("初始学习率 η₀", 0.03, -3, 0)
        c["step_size"] = W.IntSlider(value=10, min=1, max=30, description="StepLR step_size",
                                     style=_slider_style(), continuous_update=True)
        c["gamma"] = _slider("StepLR gamma", 0.3, 0.05, 1.0, 0.05)
        c["T_max"] = W.IntSlider(value=epochs, min=1, max=2 * epochs, description="余弦 T_max",
                                 style=_slider_style(), continuous_update=True)
        c["max_lr"] = _log_slider("OneCycle max_lr", 0.1, -3, 0)
        c["pct_start"] = _slider("OneCycle pct_start", 0.3, 0.05, 0.95, 0.05)
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self.ax_lr, self.ax_loss = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.84, wspace=0.25)
        self.n_updates = epochs * math.ceil(200 / batch_size)
        base_label = "常数 $\\eta_0$（对照）"
        self.lines = {
            "lr": self._dyn(self.ax_lr.plot([], [], color="#d62728", lw=1.4)[0]),
            "lr_base": self._dyn(self.ax_lr.plot([], [], color="0.5", lw=1.0, ls="--",
                                                 label=base_label)[0]),
            "loss": self._dyn(self.ax_loss.plot([], [], "-o", ms=2.5, color="#d62728", lw=1.4)[0]),
            "loss_base": self._dyn(self.ax_loss.plot([], [], marker="o", ms=2.5, color="0.5", lw=1.0,
                                                     ls="--", label=base_label)[0]),
        }
        self._legend_kind: str | None = None
        self.ax_lr.set_xlim(0, self.n_updates)
        self.ax_lr.set_xlabel("更新次数")
        self.ax_lr.set_ylabel("学习率")
        self.ax_lr.set_yscale("log")
        self.ax_lr.set_ylim(1e-5, 2.0)
        self.ax_lr.grid(alpha=0.3)
        self.ax_loss.set_xlim(0, epochs)
        self.ax_loss.set_yscale("log")
        self.ax_loss.set_ylim(1e-6, 1e5)
        self.ax_loss.set_xlabel("轮数（epoch）")
        self.ax_loss.set_ylabel("超额损失 $L - L^*$")
        self.loss_floor = regression_optimum()
        self.ax_loss.grid(alpha=0.3)
        self.lr_limit = regression_lr_limit()
        self.title = self._dyn(self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=10))
        self.status = self._dyn(self.ax_loss.text(
            0.03, 0.97, "", transform=self.ax_loss.transAxes, ha="left", va="top", fontsize=9,
            linespacing=1.4, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 2}))
        self._finish()

    def _layout(self):
        c = self.controls
        return [W.HBox([c["kind"], c["lr"]]), W.HBox([c["step_size"], c["gamma"]]),
                W.HBox([c["T_max"], c["max_lr"], c["pct_start"]])]

    def settings(self) -> dict[str, Any]:
        c = self.controls
        kind = c["kind"].value
        s: dict[str, Any] = {"kind": kind, "lr": float(c["lr"].value)}
        if kind == "step":
            s.update(step_size=int(c["step_size"].value), gamma=float(c["gamma"].value))
        elif kind == "cosine":
            s.update(T_max=int(c["T_max"].value))
        elif kind == "onecycle":
            s.update(max_lr=float(c["max_lr"].value), pct_start=float(c["pct_start"].value))
        return s

    def history(self, **settings):
        key = tuple(sorted(settings.items()))
        if key not in self._cache:
            self._cache[key] = scheduler_run(**settings, epochs=self.epochs, batch_size=self.batch_size)
            if len(self._cache) > 256:
                self._cache.popitem(last=False)
        return self._cache[key]

    def _compute(self) -> None:
        c = self.controls
        s = self.settings()
        kind = s["kind"]
        c["step_size"].disabled = c["gamma"].disabled = kind != "step"
        c["T_max"].disabled = kind != "cosine"
        c["max_lr"].disabled = c["pct_start"].disabled = kind != "onecycle"
        c["lr"].disabled = kind == "onecycle"
        self.messages = []
        self._legends(kind)
        base = self.history(kind="constant", lr=s["lr"])
        hist = self.history(**s)
        runs = [("", hist, _SHORT_NAMES[kind])]
        if kind != "constant":  # 常数学习率时调度曲线就是对照曲线，只画一条
            runs.append(("_base", base, "常数 η₀"))
        for suffix, h, name in runs:
            lr = np.maximum(np.asarray(h.lr, dtype=float), 1e-12)
            self.lines["lr" + suffix].set_data(np.arange(len(lr)), lr)
            loss = np.asarray(h.epoch_loss, dtype=float) - self.loss_floor  # 超额损失
            self.lines["loss" + suffix].set_data(np.arange(len(loss)), np.maximum(loss, 1e-12))
            if h.diverged_at is not None:
                self.messages.append(f"{name}：{divergence_message(h.diverged_at)}")
                continue
            msg = f"{name}：最终超额损失 {_fmt(loss[-1])}"
            k = int(np.argmax(loss))
            if k > 0:  # 训练中途损失比起点还高：学习率一度超过了稳定上限
                msg += f"\n  （第 {k} 轮曾升到 {_fmt(loss[k])}）"
            self.messages.append(msg)
        peak = max(hist.lr)
        if peak > self.lr_limit:
            self.messages.append(f"峰值学习率 {_fmt(peak)} 超过\n  全批量稳定上限 2/λ_max ≈ {_fmt(self.lr_limit)}")
        if kind == "cosine" and s["T_max"] != self.epochs:  # torch 的余弦在 T_max 之后并不停下
            T = s["T_max"]
            if T < self.epochs:
                self.messages.append(f"T_max = {T} < {self.epochs} 轮：第 {T} 轮后\n"
                                     f"  学习率沿余弦回升（周期 2·T_max = {2 * T} 轮）")
            else:
                self.messages.append(f"T_max = {T} > {self.epochs} 轮：最后一轮的\n"
                                     f"  学习率还有 η₀ 的 {hist.lr[-1] / s['lr']:.0%}")
        self.history_ = hist
        self.status.set_text("\n".join(self.messages))
        self.status.set_color(_RED if any("发散" in m for m in self.messages) else "black")
        label = dict((v, k) for k, v in SCHEDULERS)[kind]
        detail = {"constant": f"η₀ = {_fmt(s['lr'])}",
                  "step": f"η₀ = {_fmt(s['lr'])}，step_size = {s.get('step_size')}，gamma = {_fmt(s.get('gamma', 0))}",
                  "cosine": f"η₀ = {_fmt(s['lr'])}，T_max = {s.get('T_max')}",
                  "onecycle": f"max_lr = {_fmt(s.get('max_lr', 0))}，pct_start = {_fmt(s.get('pct_start', 0))}"}[kind]
        self.title.set_text(f"{label}：{detail}（SGD，批量 {self.batch_size}，{self.epochs} 轮）")

    def _legends(self, kind: str) -> None:
        """图例（左图，两图共用颜色）写出所选调度器的名字；常数学习率时不画对照曲线。

        图例属于静态部分，换调度器时重画。
        """
        if kind == self._legend_kind:
            return
        self._legend_kind = kind
        show_base = kind != "constant"
        for name in ("lr", "loss"):
            self.lines[name].set_label(SCHEDULE_LABELS[kind])
            self.lines[name + "_base"].set_visible(show_base)
            if not show_base:
                self.lines[name + "_base"].set_data([], [])
        handles = [self.lines["lr"]] + ([self.lines["lr_base"]] if show_base else [])
        self.ax_lr.legend(handles=handles, loc="lower left", fontsize=8)
        self._static_changed()

    def _show_failure(self, err: BaseException) -> None:
        super()._show_failure(err)
        self.status.set_text(self.messages[0])
        self.status.set_color(_RED)


# ----------------------------------------------------------------------------------------------
# 优化器选择：敏感度图
# ----------------------------------------------------------------------------------------------

#: 敏感度图中每个优化器的第二个超参数：(显示名, 优化器类, sweep 参数名, 构造优化器的函数)
SENSITIVITY = {
    "SGD": ("动量 μ", SGD, "momentum", lambda lr, b: {"lr": lr, "momentum": b}),
    "Adam": ("$\\beta_1$", Adam, "beta1", lambda lr, b: {"lr": lr, "betas": (b, 0.999)}),
    "RMSprop": ("平滑系数 α", RMSprop, "alpha", lambda lr, b: {"lr": lr, "alpha": b}),
    "NAdam": ("$\\beta_1$", NAdam, "beta1", lambda lr, b: {"lr": lr, "betas": (b, 0.999)}),
}


_SECOND_TEXT = {"SGD": "动量 μ", "Adam": "β₁", "RMSprop": "平滑系数 α", "NAdam": "β₁"}


@dataclass
class SensitivityGrid:
    """一张敏感度图：``final_loss[i, j]`` 是 ``lr[i]``、第二个超参数 ``second[j]`` 的最终损失（发散为 inf）。"""

    lr: np.ndarray
    second: np.ndarray
    final_loss: np.ndarray
    diverged_at: np.ndarray


def sensitivity_grid(surface: Surface, optimizer: str, lr: np.ndarray, second: np.ndarray,
                     steps: int = 300) -> SensitivityGrid:
    """lr × 第二个超参数网格上的最终损失。

    有 :mod:`optimlab.sweep` 时用批量扫描 ``sweep_grid``\\ （一次运行全部设置）；
    否则退回到 :func:`run_lockstep`\\ （逐个优化器实例，较慢，结果相同）。
    """
    name, cls, key, make = SENSITIVITY[optimizer]
    try:
        from .sweep import sweep_grid
    except ImportError:
        sweep_grid = None
    if sweep_grid is not None:
        res = sweep_grid(surface, optimizer, steps=steps, lr=lr, **{key: second})
        final = np.asarray(res.final_loss, dtype=float).reshape(len(lr), len(second))
        div = np.asarray(res.diverged_at).reshape(len(lr), len(second))
        final = np.where(div >= 0, np.inf, final)
        return SensitivityGrid(np.asarray(lr), np.asarray(second), final, div)
    specs = [(cls, make(float(a), float(b))) for a in lr for b in second]
    runs = run_lockstep(surface, specs, steps)
    final = np.array([r.final_loss if isinstance(r, Trajectory) else np.inf for r in runs]).reshape(len(lr), -1)
    div = np.array([(-1 if r.diverged_at is None else r.diverged_at) if isinstance(r, Trajectory) else 0
                    for r in runs]).reshape(len(lr), -1)
    return SensitivityGrid(np.asarray(lr), np.asarray(second), final, div)


_GRIDS: dict[tuple, SensitivityGrid] = {}


def cached_sensitivity_grid(surface_name: str, optimizer: str, lr: np.ndarray, second: np.ndarray,
                            steps: int = 300) -> SensitivityGrid:
    """:func:`sensitivity_grid` 的缓存版本（同一进程中每个曲面 × 优化器 × 网格只算一次）。"""
    key = (surface_name, optimizer, np.asarray(lr).tobytes(), np.asarray(second).tobytes(), steps)
    if key not in _GRIDS:
        _GRIDS[key] = sensitivity_grid(problems.surface(surface_name), optimizer, lr, second, steps)
    return _GRIDS[key]


class SensitivityExplorer(Explorer):
    """左：lr × β（或 μ、α）网格上的最终损失 :math:`f - f^*`\\ （对数色标，发散为灰色）；
    右：十字准星所选设置的轨迹。切换曲面或优化器只替换图像数据，网格按需计算一次后缓存。"""

    def __init__(self, surface: str = "rosenbrock", optimizer: str = "Adam", resolution: int = 50,
                 steps: int = 300, lr_range: tuple[float, float] = (-4, 0), precompute: bool = True) -> None:
        super().__init__((8.6, 3.6))
        self.steps = steps
        self.lrs = np.logspace(*lr_range, resolution)
        self.seconds = np.linspace(0.0, 0.99, resolution)
        self.cache = _RunCache()
        c = self.controls
        c["surface"] = W.Dropdown(options=_SURFACE_NAMES, value=surface, description="曲面", style=_slider_style(),
                                  layout=W.Layout(width="200px"))
        c["optimizer"] = W.Dropdown(options=list(SENSITIVITY), value=optimizer, description="优化器",
                                    style=_slider_style(), layout=W.Layout(width="200px"))
        c["lr"] = W.SelectionSlider(options=[(_fmt(v), i) for i, v in enumerate(self.lrs)],
                                    value=int(np.argmin(abs(np.log10(self.lrs) + 2))), description="学习率 η",
                                    style=_slider_style(), continuous_update=True)
        c["second"] = W.SelectionSlider(options=[(f"{v:.3f}", i) for i, v in enumerate(self.seconds)],
                                        value=int(np.argmin(abs(self.seconds - 0.9))),
                                        description="β₁ / μ / α", style=_slider_style(), continuous_update=True)
        self.ax_map, self.ax_path = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
        self.fig.subplots_adjust(left=0.08, right=0.97, bottom=0.14, top=0.84, wspace=0.3)
        self.norm = LogNorm(1e-8, 1e2)
        cmap = self._cmap()
        extent = (np.log10(self.lrs[0]), np.log10(self.lrs[-1]), self.seconds[0], self.seconds[-1])
        self.image_artist = self._dyn(self.ax_map.imshow(np.full((resolution, resolution), np.nan), origin="lower",
                                                         aspect="auto", extent=extent, cmap=cmap, norm=self.norm,
                                                         interpolation="nearest"))
        self.fig.colorbar(self.image_artist, ax=self.ax_map, label="最终 $f - f^*$（灰色：发散）", pad=0.02)
        self.cross = self._dyn(self.ax_map.plot([], [], "+", color="white", markersize=12, mew=2)[0])
        self.ax_map.set_xlabel("$\\log_{10}\\eta$")
        (self.path_line,) = self.ax_path.plot([], [], "-o", markersize=1.5, lw=1.1, color="#d62728")
        self._dyn(self.path_line)
        self.title = self._dyn(self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=10))
        self.status = self._dyn(self.ax_path.text(0.02, 0.03, "", transform=self.ax_path.transAxes, fontsize=9,
                                                  va="bottom", color="black"))
        self._cs = self._star = None
        self._shown: tuple | None = None
        if precompute:  # 先把所有曲面 × 优化器的网格算好，之后切换只替换图像数据
            for _, sname in _SURFACE_NAMES:
                for oname in SENSITIVITY:
                    self.grid(sname, oname)
        self._finish()

    @staticmethod
    def _cmap():
        import matplotlib

        return matplotlib.colormaps["viridis"].with_extremes(bad="0.6", over="0.6")

    def _layout(self):
        c = self.controls
        return [W.HBox([c["surface"], c["optimizer"]]), W.HBox([c["lr"], c["second"]])]

    def grid(self, surface_name: str, optimizer: str) -> SensitivityGrid:
        return cached_sensitivity_grid(surface_name, optimizer, self.lrs, self.seconds, self.steps)

    def _compute(self) -> None:
        c = self.controls
        sname, oname = c["surface"].value, c["optimizer"].value
        surf = problems.surface(sname)
        g = self.grid(sname, oname)
        if self._shown != (sname, oname):
            if self._shown is None or self._shown[0] != sname:
                if self._cs is not None:
                    self._cs.remove()
                    self._star.remove()
                self._cs = _contour(self.ax_path, surf)
                (self._star,) = self.ax_path.plot(*surf.minimizer, "*", color="crimson", markersize=11)
                self.ax_path.set_xlim(surf.xlim)
                self.ax_path.set_ylim(surf.ylim)
                self.ax_path.set_title(surf.name, fontsize=10)
            self.ax_map.set_ylabel(SENSITIVITY[oname][0])
            self.ax_map.set_title(f"{oname}：{self.steps} 步后的 $f - f^*$", fontsize=10)
            self._shown = (sname, oname)
            self._static_changed()
        with np.errstate(invalid="ignore"):
            gap = np.where(np.isfinite(g.final_loss), np.maximum(g.final_loss - surf.f_min, 1e-8), np.inf)
        self.image_artist.set_data(gap.T)  # 行：第二个超参数，列：lr
        i, j = int(c["lr"].value), int(c["second"].value)
        lr, b = float(self.lrs[i]), float(self.seconds[j])
        self.cross.set_data([np.log10(lr)], [b])
        name, cls, _, make = SENSITIVITY[oname]
        moved, near = self._neighbours()
        if moved in ("lr", "second") and self.cache.key((sname,), cls, make(lr, b), self.steps) not in self.cache._data:
            pairs = [(self.lrs[k], b) for k in near] if moved == "lr" else [(lr, self.seconds[k]) for k in near]
            self.cache.prefetch((sname,), surf, cls, [make(float(a), float(c)) for a, c in pairs], self.steps)
        (traj,) = self.cache.runs((sname,), surf, [(cls, make(lr, b))], self.steps)
        self.trajectory = traj
        self.messages = []
        if isinstance(traj, Exception):
            self.path_line.set_data([], [])
            self.messages.append(error_message(traj))
        else:
            ok = np.isfinite(traj.path).all(axis=1)
            self.path_line.set_data(traj.path[ok, 0], traj.path[ok, 1])
            if traj.diverged_at is not None:
                self.messages.append(divergence_message(traj.diverged_at))
            else:
                self.messages.append(f"f − f* = {_fmt(traj.loss[-1] - surf.f_min)}")
        self.status.set_text("\n".join(self.messages))
        self.status.set_color(_RED if "发散" in self.messages[0] or "无法" in self.messages[0] else "black")
        self.title.set_text(f"{oname}（{surf.name}）：η = {_fmt(lr)}，{_SECOND_TEXT[oname]} = {b:.3f}")


# ----------------------------------------------------------------------------------------------
# 构造函数（书中调用的公共接口）
# ----------------------------------------------------------------------------------------------

def sgd_explorer(surface: str = "rosenbrock", steps: int = 200, **kwargs) -> SGDExplorer:
    """SGD 探索器：学习率、动量、阻尼、Nesterov、权重衰减；曲面可选（二次函数的条件数 κ 可调）。"""
    return SGDExplorer(surface, steps, **kwargs)


def adam_explorer(surface: str = "rosenbrock", steps: int = 200, **kwargs) -> AdamExplorer:
    """Adam 探索器：η、β₁、β₂、ε，与 SGD 动量（μ = β₁）和 RMSprop（α = β₂）对比。"""
    return AdamExplorer(surface, steps, **kwargs)


def bias_correction_explorer(max_steps: int = 300, **kwargs) -> BiasCorrectionExplorer:
    """偏差校正探索器：β₁、β₂、梯度噪声与步数 t，对比 m_t、v_t 与 m̂_t、v̂_t。"""
    return BiasCorrectionExplorer(max_steps, **kwargs)


def reddi_explorer(steps: int = 300, **kwargs) -> ReddiExplorer:
    """Reddi 反例探索器：Adam 与 AMSGrad，x 投影到 [−1, 1]。"""
    return ReddiExplorer(steps, **kwargs)


def adamw_explorer(steps: int = 200, **kwargs) -> AdamWExplorer:
    """AdamW 与 Adam + L2 探索器：权重衰减 λ 与梯度尺度 s。"""
    return AdamWExplorer(steps, **kwargs)


def nadam_explorer(surface: str = "rosenbrock", steps: int = 200, **kwargs) -> NAdamExplorer:
    """NAdam 与 Adam 探索器。"""
    return NAdamExplorer(surface, steps, **kwargs)


def variants_explorer() -> _Tabs:
    """变体一章的三个探索器放在一组标签页里：AMSGrad、AdamW、NAdam。"""
    return _Tabs({"AMSGrad 与 Adam": reddi_explorer(), "AdamW 与 L2": adamw_explorer(),
                  "NAdam 与 Adam": nadam_explorer()})


def scheduler_explorer(kind: str = "step", **kwargs) -> SchedulerExplorer:
    """学习率调度器探索器：StepLR、CosineAnnealingLR、OneCycleLR 的形状及其对训练的影响。"""
    return SchedulerExplorer(kind, **kwargs)


def sensitivity_explorer(surface: str = "rosenbrock", optimizer: str = "Adam", **kwargs) -> SensitivityExplorer:
    """优化器选择探索器：lr × β₁（或 μ、α）的敏感度图，与所选设置的轨迹。"""
    return SensitivityExplorer(surface, optimizer, **kwargs)


#: 名称 → 构造函数（基准脚本与测试用）。
EXPLORERS: dict[str, Callable[..., Explorer]] = {
    "sgd": sgd_explorer,
    "adam": adam_explorer,
    "bias_correction": bias_correction_explorer,
    "reddi": reddi_explorer,
    "adamw": adamw_explorer,
    "nadam": nadam_explorer,
    "scheduler": scheduler_explorer,
    "sensitivity": sensitivity_explorer,
}
