"""把测量写成书中的文字与表格：只保留靠得住的有效数字，几次测量写成中位数与范围。"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

def agreed_round(a: float, b: float, digits: int = 2) -> float:
    """把 ``a`` 舍入到它与 ``b`` 一致的有效数字（最多 ``digits`` 位，至少 1 位）。

    ``a``、``b`` 是同一设置的两次训练（:func:`train_twins`）的结果：两者在第二位有效数字上就不同时，
    这一位在别的机器上也靠不住，只保留一位。非有限的值原样返回。
    """
    if not (np.isfinite(a) and np.isfinite(b)):
        return a
    for d in range(digits, 0, -1):
        if f"{a:.{d}g}" == f"{b:.{d}g}":
            return float(f"{a:.{d}g}")
    return float(f"{a:.1g}")


def median_range(values: Sequence[float | None], fmt: Callable[[float], str] = "{:.2g}".format,
                 missing: str = "未达到") -> str:
    """几次测量（例如几个种子）写成 ``中位数（最小–最大）``；只有一个值或全都相同时只写一个数。

    ``None`` 与 ``inf`` 表示没有达到（比最大的值还大），显示为 ``missing``。
    """
    x = np.array([np.inf if v is None else float(v) for v in values])

    def show(v: float) -> str:
        return missing if np.isinf(v) else fmt(v)

    med, lo, hi = show(float(np.median(x))), show(float(x.min())), show(float(x.max()))
    return med if lo == hi else f"{med}（{lo}–{hi}）"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """把表头和若干行拼成 Markdown 表格（书中用 ``IPython.display.Markdown`` 显示测量结果）。"""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)
