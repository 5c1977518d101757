"""批量扫描的速度：50 × 50 网格、300 步、Rosenbrock 函数上，sweep_grid 对比逐个构造优化器的循环。

循环只实际运行网格中随机抽取（固定种子）的一部分设置（默认 100 组），按设置数线性外推到 2500 组；
输出会注明这一点。同时检查抽出的这些设置与批量结果逐位相同。只测量、不断言时间。

用法：``python benchmarks/sweep.py [--loop-subset 100] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

import optimlab
from optimlab import problems
from optimlab.sweep import sweep, sweep_grid
from optimlab.trajectory import run

STEPS = 300
N = 50
LRS = np.logspace(-4, 0, N)
AXES = {
    "SGD": ("momentum", np.linspace(0.0, 0.99, N)),
    "Adam": ("beta1", np.linspace(0.0, 0.99, N)),
}


def loop_kwargs(name: str, lr: float, second: float) -> dict:
    return {"lr": lr, "momentum": second} if name == "SGD" else {"lr": lr, "betas": (second, 0.999)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-subset", type=int, default=100, help="循环实际运行的设置数（外推到 2500）")
    parser.add_argument("--repeat", type=int, default=5, help="批量扫描重复次数（报告中位数与最小值）")
    args = parser.parse_args()

    surface = problems.rosenbrock()
    total = N * N
    print(f"torch {torch.__version__}，{torch.get_num_threads()} 个线程；Rosenbrock 函数，起点 {surface.x0}，{STEPS} 步")
    print(f"运行前的系统负载（1 分钟平均）：{os.getloadavg()[0]:.1f}（{os.cpu_count()} 核；负载高时两种做法都会变慢）")
    print(f"网格：lr = logspace(-4, 0, {N}) × 第二个超参数 linspace(0, 0.99, {N}) = {total} 组设置\n")

    # 预热：第一次构造优化器时 torch 会导入一些模块（约 1–2 秒），两种做法都不应计入
    start = time.perf_counter()
    sweep(surface, "SGD", steps=2, lr=[0.1, 0.2])
    print(f"预热（进程内第一次调用，含一次性导入）：{time.perf_counter() - start:.2f} s\n")

    for name, (second_name, seconds) in AXES.items():
        batched = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            grid = sweep_grid(surface, name, steps=STEPS, lr=LRS, **{second_name: seconds})
            batched.append(time.perf_counter() - start)
        t_batched = statistics.median(batched)

        flat = np.sort(np.random.default_rng(0).choice(total, size=args.loop_subset, replace=False))
        cls = getattr(optimlab, name)
        same = True
        start = time.perf_counter()
        for idx in flat:
            i, j = divmod(int(idx), N)
            tr = run(surface, cls, steps=STEPS, **loop_kwargs(name, float(LRS[i]), float(seconds[j])))
            same &= np.array_equal(tr.path, grid.path[i, j], equal_nan=True)
        t_subset = time.perf_counter() - start
        t_loop = t_subset * total / len(flat)

        diverged = int((grid.diverged_at >= 0).sum())
        print(f"== {name}：lr × {second_name}，{N} × {N}，{STEPS} 步（{diverged} 组发散）")
        print(f"  批量 sweep_grid：中位数 {t_batched:.3f} s，最小 {min(batched):.3f} s（{args.repeat} 次）")
        print(
            f"  循环 {len(flat)} 个优化器实例（网格中随机抽取）：{t_subset:.2f} s，"
            f"线性外推到 {total} 个：{t_loop:.1f} s（{t_subset / len(flat) * 1e3:.1f} ms/组）"
        )
        print(f"  加速比（外推循环 / 批量中位数）：{t_loop / t_batched:.0f}×")
        print(f"  抽出的 {len(flat)} 组与批量结果逐位相同：{same}")
        print(f"  目标：≥ 50× {'达到' if t_loop / t_batched >= 50 else '未达到'}，"
              f"< 2 s {'达到' if t_batched < 2 else '未达到'}\n")


if __name__ == "__main__":
    main()
