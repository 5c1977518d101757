"""探索器的响应时间：无界面（Agg）构造每个探索器，依次移动每个控件（含极端值），测量每次重画的耗时。

一次"重画"是控件赋值触发的全部工作：计算（优化器运行、训练或查缓存）、更新 artist、
画图（静态部分缓存为位图，首次或静态部分改变时调用 ``fig.canvas.draw()``）以及编码成 PNG
交给 ``ipywidgets.Image``。报告墙钟时间与本进程的 CPU 时间（机器繁忙时两者差别很大）。
目标：中位数 ≤ 100 ms，p90 ≤ 200 ms。本脚本只测量，不做断言。

用法：``python benchmarks/widgets.py [--repeat 1] [--markdown]``
"""

from __future__ import annotations

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import ipywidgets as W  # noqa: E402

from optimlab import widgets  # noqa: E402


def control_values(ctrl: W.Widget) -> list[tuple[str, object]]:
    """每个控件要试的取值：先像拖动滑块那样连续走 6 格，再跳到两端，最后回到初始值。

    返回 ``(类别, 值)``：类别为 "拖动"（相邻一格）或 "跳转"（下拉框、复选框与跳到两端）。
    """
    start = ctrl.value
    if isinstance(ctrl, W.Checkbox):
        return [("跳转", not start), ("跳转", start)]
    if isinstance(ctrl, (W.Dropdown, W.SelectionSlider)):
        opts = [o[1] if isinstance(o, tuple) else o for o in ctrl.options]
        i = opts.index(start)
        if isinstance(ctrl, W.Dropdown):
            return [("跳转", o) for o in opts if o != start] + [("跳转", start)]
        drag = [opts[k] for k in range(i + 1, min(i + 7, len(opts)))] or [opts[k] for k in range(i - 1, max(i - 7, -1), -1)]
        return [("拖动", v) for v in drag] + [("跳转", opts[0]), ("跳转", opts[-1]), ("跳转", start)]
    if isinstance(ctrl, W.FloatLogSlider):
        e = np.log10(start)
        up = [10.0 ** (e + k * ctrl.step) for k in range(1, 7)]
        drag = up if up[-1] <= 10.0**ctrl.max * 1.000001 else [10.0 ** (e - k * ctrl.step) for k in range(1, 7)]
        return [("拖动", v) for v in drag] + [("跳转", 10.0**ctrl.min), ("跳转", 10.0**ctrl.max), ("跳转", start)]
    if isinstance(ctrl, (W.FloatSlider, W.IntSlider)):
        up = [start + k * ctrl.step for k in range(1, 7)]
        drag = up if up[-1] <= ctrl.max else [start - k * ctrl.step for k in range(1, 7)]
        if isinstance(ctrl, W.FloatSlider):
            drag = [round(v, 10) for v in drag]
        return [("拖动", v) for v in drag] + [("跳转", ctrl.min), ("跳转", ctrl.max), ("跳转", start)]
    raise TypeError(type(ctrl))


def bench(name: str, factory, repeat: int = 1) -> dict:
    kwargs = {}
    ex = factory(**kwargs)
    wall, cpu, labels, kinds = [], [], [], []
    for _ in range(repeat):
        for cname, ctrl in ex.controls.items():
            for kind, v in control_values(ctrl):
                w0, c0 = time.perf_counter(), time.process_time()
                ctrl.value = v  # 触发 update()：计算 + 画图 + PNG
                wall.append(time.perf_counter() - w0)
                cpu.append(time.process_time() - c0)
                labels.append(f"{cname}={v:.4g}" if isinstance(v, float) else f"{cname}={v}")
                kinds.append(kind)
    wall, cpu = np.array(wall) * 1e3, np.array(cpu) * 1e3
    worst = int(np.argmax(wall))
    return {"name": name, "n": len(wall), "wall": wall, "cpu": cpu, "kinds": np.array(kinds),
            "worst": f"{labels[worst]} ({wall[worst]:.0f} ms)"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1, help="每个控件的取值序列重复几遍（第二遍起命中缓存）")
    args = ap.parse_args()
    rows = []
    for name, factory in widgets.EXPLORERS.items():
        rows.append(bench(name, factory, args.repeat))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# 探索器重画耗时（ms），{os.cpu_count()} 核，开始时 1 分钟平均负载 {load:.1f}\n")
    print("| 探索器 | 重画次数 | 墙钟中位数 | 墙钟 p90 | CPU 中位数 | CPU p90 | 最慢的一次 |")
    print("|---|---:|---:|---:|---:|---:|---|")
    allw, allc = [], []
    for r in rows:
        allw.append(r["wall"])
        allc.append(r["cpu"])
        print(f"| {r['name']} | {r['n']} | {np.median(r['wall']):.1f} | {np.percentile(r['wall'], 90):.1f} | "
              f"{np.median(r['cpu']):.1f} | {np.percentile(r['cpu'], 90):.1f} | {r['worst']} |")
    w, c = np.concatenate(allw), np.concatenate(allc)
    kinds = np.concatenate([r["kinds"] for r in rows])
    print(f"| **全部** | {len(w)} | {np.median(w):.1f} | {np.percentile(w, 90):.1f} | "
          f"{np.median(c):.1f} | {np.percentile(c, 90):.1f} | |")
    for kind in ("拖动", "跳转"):
        m = kinds == kind
        print(f"| 全部·{kind} | {m.sum()} | {np.median(w[m]):.1f} | {np.percentile(w[m], 90):.1f} | "
              f"{np.median(c[m]):.1f} | {np.percentile(c[m], 90):.1f} | |")


if __name__ == "__main__":
    main()
