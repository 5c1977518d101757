"""探索器的共用部分：消息与严格模式、同步运行与缓存、:class:`Explorer` 基类与渲染。

控件由 :mod:`optimlab.widgets.controls` 中的纯数据定义建出。
"""

from __future__ import annotations

import html
import io
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from PIL import Image

from ..plotting import setup_cjk_font
from ..problems import Surface
from ..trajectory import Trajectory, run_many

#: 动态文字的字体：西文、希腊字母与上下标用 DejaVu Sans，中文回退到 Noto Sans CJK SC。
#: 动态文字不用 mathtext：每次内容改变都要重新解析，太慢。
MIXED_FONT = ["DejaVu Sans", "Noto Sans CJK SC"]

#: 移动滑块时，顺带在一次批量运行（:func:`optimlab.sweep.sweep`）中算好两侧各这么多个取值。
PREFETCH = 8

#: 损失曲线纵轴的下限（对数坐标）；更小的值画在下限上。
LOSS_FLOOR = 1e-12
RED = "#c0392b"
COLORS = {"SGD": "#1f77b4", "Adam": "#d62728", "RMSprop": "#2ca02c", "AMSGrad": "#1f77b4",
          "AdamW": "#1f77b4", "Adam + L2": "#d62728", "NAdam": "#9467bd", "基准": "#7f7f7f"}

#: 探索器显示成消息的优化器异常：torch.optim 与 optimlab 对非法超参数（构造优化器时）抛出 ``ValueError``。
#: ``RuntimeError``\ （稀疏、复数或形状不合的参数）和 ``NotImplementedError``\ （fused 等实现开关）
#: 只在探索器不会传入的参数与开关上出现，所以不在这里：出现了就是程序错误。
OPTIMIZER_ERRORS: tuple[type[BaseException], ...] = (ValueError,)

#: 严格模式：为真时 :meth:`Explorer.update` 不兜底，计算中的任何其他异常照常抛出（测试打开它；
#: 环境变量 ``OPTIMLAB_STRICT=1`` 也打开它）。书中默认关闭：读者拖动滑块时看到的是图中的消息，不是回溯。
STRICT = os.environ.get("OPTIMLAB_STRICT", "") not in ("", "0")

# 优化器报错（与 torch.optim 相同的英文信息）对应的中文说明。
_MESSAGES = {
    "Nesterov momentum requires a momentum and zero dampening": "Nesterov 动量要求 μ > 0 且 τ = 0",
}


def fmt(x: float) -> str:
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
# 同步运行多个优化器，按超参数缓存
# ----------------------------------------------------------------------------------------------

def run_lockstep(
    surface: Surface,
    specs: Sequence[tuple[Callable[..., torch.optim.Optimizer], dict[str, Any]]],
    steps: int = 200,
    x0: tuple[float, float] | None = None,
    labels: Sequence[str] | None = None,
) -> list[Trajectory | Exception]:
    """:func:`optimlab.trajectory.run_many`，把 ``OPTIMIZER_ERRORS`` 放在结果里而不是抛出。"""
    return run_many(surface, specs, steps, x0, labels, errors=OPTIMIZER_ERRORS)  # type: ignore[return-value]


class RunCache:
    """按 ``(曲面键, 优化器, 超参数, 步数)`` 缓存轨迹的 LRU 缓存。

    不用 ``functools.lru_cache``：:meth:`prefetch` 用一次批量扫描算出 **好几个** 键的结果再一起放进缓存，
    ``lru_cache`` 只能缓存对被装饰函数本身的调用，放不进别处算好的结果。
    """

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[tuple, Trajectory | Exception] = OrderedDict()

    @staticmethod
    def key(surface_key: Any, cls: type, hparams: dict[str, Any], steps: int) -> tuple:
        return (surface_key, cls.__name__, tuple(sorted(hparams.items())), steps)

    def __contains__(self, key: tuple) -> bool:
        return key in self._data

    def prefetch(self, surface_key: Any, surface: Surface, cls: type, settings: list[dict[str, Any]],
                 steps: int) -> None:
        """用一次批量扫描（:func:`optimlab.sweep.sweep`）算出 ``settings`` 中尚未缓存的设置。

        扫描的结果与逐个运行逐位相同；该优化器不能扫描，或任何一组设置非法时什么也不做，
        留给 :meth:`runs` 逐个运行并把错误显示出来。
        """
        from ..sweep import OPTIMIZERS, sweep

        if cls.__name__ not in OPTIMIZERS:
            return
        todo, seen = [], set()
        for hp in settings:
            k = self.key(surface_key, cls, hp, steps)
            if k not in self._data and k not in seen:
                seen.add(k)
                todo.append(hp)
        if len(todo) < 2:
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
        except ValueError:  # sweep 对非法超参数的报错（与优化器相同）：留给逐个运行显示
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
# 渲染
# ----------------------------------------------------------------------------------------------

def compact_png(png: bytes, colors: int = 96) -> bytes:
    """把 PNG 转成 ``colors`` 色的调色板 PNG（约小 3 倍；图中只有少数几种颜色，肉眼看不出差别）。

    探索器在 Jupyter 里显示的第一帧用它。
    """
    img = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="png", optimize=True)
    return out.getvalue()


def widget_bundle(widget: W.Widget, name: str, images: Sequence[W.Image] = (), live: Any = None, **kwargs) -> dict:
    """控件的显示数据；纯文本部分换成固定的一句话（默认的 repr 含整张 PNG，且每次不同）。

    ``live`` 为探索器（或一组标签页）时另加 ``text/html``：同一份定义驱动的网页探索器
    （:func:`optimlab.widgets.page.live_html`），静态网站显示它，在浏览器里计算。Jupyter 显示 ipywidgets 视图。
    显示时把 ``images`` 换成紧凑的调色板 PNG；之后在内核中拖动滑块时，重画仍用快速编码。
    """
    for image in images:
        if image.value:
            image.value = compact_png(image.value)
    data = widget._repr_mimebundle_(**kwargs)
    if isinstance(data, tuple):
        data = data[0]
    data = dict(data)
    data["text/plain"] = f"交互探索器 {name}（需要运行中的 Jupyter 内核）"
    if live is not None:
        from .page import live_html  # page 读取各探索器的定义与数据：用到时才导入

        data["text/html"] = live_html(live)
    return data


class Explorer:
    """探索器基类：一张持久的图 + 一组控件。

    子类在 ``__init__`` 中建好控件（放进 ``self.controls``）、图和状态文字 ``self.status``，然后调用
    ``self._finish()``；实现 ``_compute()``\\ （根据控件计算并更新动态 artist）。控件变化时自动调用
    :meth:`update`。

    Attributes:
        fig: matplotlib ``Figure``\\ （Agg 画布，不经过 pyplot）。
        controls: 名称 → ipywidgets 控件。
        image: 显示图像的 ``ipywidgets.Image``。
        widget: 整个界面（``VBox``）。
        status: 图中显示提示（发散、无法运行、出错）的文字。
        messages: 最近一次更新显示的提示列表。
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
        self.status: Text | None = None

    # --- 子类使用 --------------------------------------------------------------------------
    def _dyn(self, artist):
        """登记一个动态 artist（每次更新时重画）。"""
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
        return [W.HBox(items[i:i + 3]) for i in range(0, len(items), 3)]

    def _finish(self) -> None:
        for ctrl in self.controls.values():
            ctrl.observe(self.update, names="value")
        self.widget = W.VBox([*self._layout(), self.caption, self.image])
        self.update()

    def _compute(self) -> None:  # pragma: no cover - 子类实现
        raise NotImplementedError

    def _show_messages(self, alarm: Sequence[str] = ("发散", "无法")) -> None:
        """把 ``self.messages`` 写进状态文字；含 ``alarm`` 中任一词时用红色。"""
        self.status.set_text("\n".join(self.messages))
        self.status.set_color(RED if any(a in m for m in self.messages for a in alarm) else "black")

    # --- 公共接口 --------------------------------------------------------------------------
    def update(self, change=None) -> None:
        """根据当前控件值重新计算并重画。

        优化器的非法超参数（``OPTIMIZER_ERRORS``）在运行处变成消息；计算中的其他异常在严格模式
        （``STRICT``）下照常抛出，否则画成图中的消息，而不是留下上一张图。
        """
        if self._holding:
            return
        self._changed = change["owner"] if isinstance(change, dict) and "owner" in change else None
        try:
            self._compute()
        except Exception as err:
            if STRICT:
                raise
            self._show_failure(err)
        if self._render_on_update:
            self.render()

    def _show_failure(self, err: BaseException) -> None:
        """计算失败：清空曲线，在状态文字中用红色写出原因。"""
        for artist in self._dynamic:
            if isinstance(artist, Line2D):
                artist.set_data([], [])
        self.messages = [error_message(err)]
        self._show_messages()

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
        for t in self.fig.findobj(Text):
            if (t.get_visible() or t is getattr(self, "title", None)) and t.get_text():
                out.append(t.get_text())
        return "\n".join(out)

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(self.widget, type(self).__name__, [self.image], live=self, **kwargs)

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


class Tabs:
    """把几个探索器放进一个 ``Tab``。"""

    def __init__(self, explorers: dict[str, Explorer], name: str = "tabs") -> None:
        self.explorers = explorers
        self.name = name
        self.widget = W.Tab(children=[e.widget for e in explorers.values()])
        for i, title in enumerate(explorers):
            self.widget.set_title(i, title)

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(self.widget, self.name, [e.image for e in self.explorers.values()], live=self, **kwargs)
