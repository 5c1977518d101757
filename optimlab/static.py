"""探索器的静态版本：发布的网页没有内核，ipywidgets 不起作用，这里改为预先算好的帧动画。

每个函数沿探索器的主要超参数取 10–15 个值，用探索器自己的更新逻辑画出每一帧，再用
matplotlib 的 ``HTMLWriter``\\ （``Animation.to_jshtml`` 所用的写入器）生成可拖动滑块的 HTML。返回的 HTML 完全自包含：

* 删去 matplotlib 引用的 Font Awesome 样式表（CDN 链接），按钮图标换成内联 SVG；
* 每帧 PNG 量化为调色板图像（:func:`optimlab.widgets.compact_png`），减小页面体积；
* 动画 id 由内容的哈希决定（不是随机 UUID），同样的输入得到同样的 HTML。
"""

from __future__ import annotations

import base64
import hashlib
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from IPython.display import HTML
from matplotlib.animation import HTMLWriter

from . import widgets as _w

__all__ = [
    "animate",
    "self_contained",
    "sgd_animation",
    "adam_animation",
    "bias_correction_animation",
    "reddi_animation",
    "adamw_animation",
    "nadam_animation",
    "variants_animation",
    "scheduler_animation",
    "sensitivity_animation",
    "ANIMATIONS",
]

#: 静态帧的分辨率（像素/英寸）。
STATIC_DPI = 72

# 按钮图标：内联 SVG（不依赖图标字体，也不需要 xmlns 之类的外部地址）
_SHAPES = {
    "minus": "M2 6h10v2H2z",
    "plus": "M6 2h2v4h4v2H8v4H6V8H2V6h4z",
    "play": "M3 2l9 5-9 5z",
    "back": "M11 2L2 7l9 5z",
    "pause": "M3 2h3v10H3zM8 2h3v10H8z",
    "next": "M2 2l7 5-7 5zM10 2h2v10h-2z",
    "prev": "M12 2L5 7l7 5zM2 2h2v10H2z",
    "last": "M1 2l5 5-5 5zM6 2l5 5-5 5zM11 2h2v10h-2z",
    "first": "M13 2L8 7l5 5zM8 2L3 7l5 5zM1 2h2v10H1z",
}
_ICONS = {
    "fa fa-minus": "minus",
    "fa fa-fast-backward": "first",
    "fa fa-step-backward": "prev",
    "fa fa-play fa-flip-horizontal": "back",
    "fa fa-pause": "pause",
    "fa fa-play": "play",
    "fa fa-step-forward": "next",
    "fa fa-fast-forward": "last",
    "fa fa-plus": "plus",
}


def _svg(shape: str) -> str:
    return (f'<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">'
            f'<path d="{_SHAPES[shape]}" fill="currentColor"/></svg>')


_TITLES = {
    "Decrease speed": "减速",
    "First frame": "第一帧",
    "Previous frame": "上一帧",
    "Play backwards": "倒放",
    "Pause": "暂停",
    "Play": "播放",
    "Next frame": "下一帧",
    "Last frame": "最后一帧",
    "Increase speed": "加速",
    "Repetition mode": "重复方式",
}
_MODES = {">Once<": ">单次<", ">Loop<": ">循环<", ">Reflect<": ">往返<"}
# to_jshtml 把 base64 按行折断，并在行尾加反斜杠续行
_PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=\\\n]+)")


def _quantize(match: re.Match, colors: int) -> str:
    png = base64.b64decode(match.group(1).replace("\\", "").replace("\n", ""))
    return "data:image/png;base64," + base64.b64encode(_w.compact_png(png, colors)).decode("ascii")


def self_contained(html: str, colors: int = 96) -> str:
    """把 ``to_jshtml`` 的输出改成不依赖外部资源、内容决定 id 的 HTML。"""
    html = re.sub(r"<link[^>]*font-awesome[^>]*>\s*", "", html, flags=re.S)
    for cls, text in _ICONS.items():
        html = html.replace(f'<i class="{cls}"></i>', _svg(text))
    for en, zh in _TITLES.items():
        html = html.replace(f'title="{en}" aria-label="{en}"', f'title="{zh}" aria-label="{zh}"')
    for en, zh in _MODES.items():
        html = html.replace(en, zh)
    if colors:
        html = _PNG.sub(lambda m: _quantize(m, colors), html)
    for old in set(re.findall(r"_anim_img([0-9a-f]{32})", html)):
        html = html.replace(old, "ANIMID")
    digest = hashlib.sha1(html.encode()).hexdigest()[:16]
    html = html.replace("ANIMID", digest)
    style = ("<style>.animation .anim-buttons button{min-width:2.2em;font-size:15px;line-height:1.2;}"
             ".animation img{max-width:100%;height:auto;}</style>\n")
    return style + html


def animate(explorer: _w.Explorer, frames: Sequence[dict[str, Any]], interval: int = 700,
            dpi: int = STATIC_DPI, colors: int = 96, embed_limit_mb: float = 4.0) -> HTML:
    """让 ``explorer`` 依次取 ``frames`` 中的控件值（每项是 ``{控件名: 值}``），返回可拖动的 HTML 动画。

    每帧都走探索器自己的 ``update``\\ （发散、非法取值同样显示为图中的消息）。
    """
    explorer.set_blit(False)
    explorer._render_on_update = False  # 帧由 savefig 画出，不必再渲染给 ipywidgets
    explorer.fig.set_dpi(dpi)

    # matplotlib's HTMLWriter (what Animation.to_jshtml uses), fed one savefig per frame: going through
    # FuncAnimation would draw every frame twice (its post-draw redraw, then savefig) and frame 0 once more.
    writer = HTMLWriter(fps=1000 / interval, embed_frames=True, default_mode="once")
    with matplotlib.rc_context({"animation.embed_limit": embed_limit_mb, "animation.frame_format": "png",
                                "savefig.dpi": dpi}), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "animation.html")
        with writer.saving(explorer.fig, str(path), dpi):
            for frame in frames:
                explorer.set(**frame)
                writer.grab_frame()
        html = path.read_text()
    return HTML(self_contained(html, colors))


def _frames(name: str, values) -> list[dict[str, Any]]:
    return [{name: v} for v in values]


def sgd_animation(surface: str = "rosenbrock", lrs: Sequence[float] | None = None, **kwargs) -> HTML:
    """SGD 探索器沿学习率 η 的静态动画（默认 12 帧，从很小到发散）。"""
    ex = _w.sgd_explorer(surface, **kwargs)
    lrs = np.geomspace(1e-4, 3e-3, 12) if lrs is None else lrs
    return animate(ex, _frames("lr", [float(v) for v in lrs]))


def adam_animation(surface: str = "rosenbrock", lrs: Sequence[float] | None = None, **kwargs) -> HTML:
    """Adam 探索器沿学习率 η 的静态动画（Adam 与 RMSprop 共用 η）。"""
    ex = _w.adam_explorer(surface, **kwargs)
    lrs = np.geomspace(1e-3, 0.5, 12) if lrs is None else lrs
    return animate(ex, _frames("lr", [float(v) for v in lrs]))


def bias_correction_animation(beta2s: Sequence[float] | None = None, t: int = 100, **kwargs) -> HTML:
    """偏差校正探索器沿 β₂ 的静态动画（第 t 步处读数）。"""
    ex = _w.bias_correction_explorer(**kwargs)
    beta2s = [0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999] if beta2s is None else beta2s
    return animate(ex, [{"beta2": float(b), "t": t} for b in beta2s])


def reddi_animation(beta2s: Sequence[float] | None = None, **kwargs) -> HTML:
    """Reddi 反例沿 β₂ 的静态动画：β₂ 小时 Adam 停在 x = +1，AMSGrad 仍走向 −1。"""
    ex = _w.reddi_explorer(**kwargs)
    beta2s = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999] if beta2s is None else beta2s
    return animate(ex, _frames("beta2", [float(b) for b in beta2s]))


def adamw_animation(scales: Sequence[float] | None = None, **kwargs) -> HTML:
    """AdamW 与 Adam + L2 沿梯度尺度 s 的静态动画：AdamW 的轨迹几乎不变。"""
    ex = _w.adamw_explorer(**kwargs)
    scales = np.logspace(-3, 3, 13) if scales is None else scales
    return animate(ex, _frames("scale", [float(s) for s in scales]))


def nadam_animation(surface: str = "rosenbrock", lrs: Sequence[float] | None = None, **kwargs) -> HTML:
    """NAdam 与 Adam 沿学习率 η 的静态动画。"""
    ex = _w.nadam_explorer(surface, **kwargs)
    lrs = np.geomspace(1e-3, 0.5, 10) if lrs is None else lrs
    return animate(ex, _frames("lr", [float(v) for v in lrs]))


def variants_animation() -> HTML:
    """变体一章的三段静态动画，依次为 AMSGrad、AdamW、NAdam。"""
    parts = [("AMSGrad 与 Adam", reddi_animation()), ("AdamW 与 Adam + L2", adamw_animation()),
             ("NAdam 与 Adam", nadam_animation())]
    return HTML("\n".join(f"<p><b>{title}</b></p>\n{part.data}" for title, part in parts))


#: 调度器动画的帧：每帧一个调度器设置（共 30 轮）。余弦先取 T_max = 轮数（学习率恰好降到 0），
#: 再看 T_max 取大（降不完）和取小（torch 的余弦在 T_max 之后回升）的后果；OneCycle 的最后一帧
#: 峰值学习率 0.5 超过了全批量稳定上限 2/λ_max ≈ 0.36，损失中途暴涨，帧中的文字会说明。
SCHEDULER_FRAMES = [
    {"kind": "constant"},
    {"kind": "step", "step_size": 10, "gamma": 0.5},
    {"kind": "step", "step_size": 10, "gamma": 0.3},
    {"kind": "step", "step_size": 10, "gamma": 0.1},
    {"kind": "step", "step_size": 5, "gamma": 0.5},
    {"kind": "cosine", "T_max": 30},
    {"kind": "cosine", "T_max": 60},
    {"kind": "cosine", "T_max": 10},
    {"kind": "onecycle", "max_lr": 0.02, "pct_start": 0.3},
    {"kind": "onecycle", "max_lr": 0.1, "pct_start": 0.3},
    {"kind": "onecycle", "max_lr": 0.1, "pct_start": 0.7},
    {"kind": "onecycle", "max_lr": 0.5, "pct_start": 0.3},
]


def scheduler_animation(frames: Sequence[dict[str, Any]] | None = None, **kwargs) -> HTML:
    """调度器探索器的静态动画：依次展示常数、StepLR、CosineAnnealingLR、OneCycleLR 的几种设置。"""
    ex = _w.scheduler_explorer(**kwargs)
    return animate(ex, list(SCHEDULER_FRAMES if frames is None else frames))


def sensitivity_animation(surface: str = "rosenbrock", optimizer: str = "Adam", n_frames: int = 12,
                          second: float = 0.9, **kwargs) -> HTML:
    """敏感度图的静态动画：十字准星沿学习率移动（第二个超参数固定为 ``second``），右侧是对应的轨迹。"""
    kwargs.setdefault("precompute", False)
    ex = _w.sensitivity_explorer(surface, optimizer, **kwargs)
    n = len(ex.lrs)
    idx = np.unique(np.linspace(0, n - 1, n_frames).round().astype(int))
    j = int(np.argmin(abs(ex.seconds - second)))
    return animate(ex, [{"lr": int(i), "second": j} for i in idx])


#: 名称 → 静态动画函数（与 :data:`optimlab.widgets.EXPLORERS` 对应）。
ANIMATIONS = {
    "sgd": sgd_animation,
    "adam": adam_animation,
    "bias_correction": bias_correction_animation,
    "reddi": reddi_animation,
    "adamw": adamw_animation,
    "nadam": nadam_animation,
    "scheduler": scheduler_animation,
    "sensitivity": sensitivity_animation,
}
