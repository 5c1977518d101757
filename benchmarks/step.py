"""optimlab 与 torch.optim 的单步耗时对比。

用法：``python benchmarks/step.py [--repeats N]``

* 同一个进程里交替运行（optimlab, torch, optimlab, torch, ...），每对样本取耗时之比，报告中位数，
  这样机器负载的缓慢变化对两边的影响相同。
* 工作负载 ``large``：60 个 float32 张量，共 11,000,000 个参数，梯度只随机生成一次。
* 工作负载 ``2d``：1 个 2 元素参数（书中二维曲面上的演示），每个样本连续执行很多步。
* 另外给出 torch 融合实现 Adam(fused=True) 相对 torch 默认实现的比值，以及 Adam 的内存带宽下限：
  每个参数每步读 θ、g、m、v 并写回 θ、m、v，共 7 × 4 = 28 字节，按实测的大张量拷贝带宽换算成时间。

torch.optim 在 CPU 上的默认实现是逐张量的 for 循环（foreach 只在全部参数位于 CUDA 上时默认打开）。
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import optimlab

NAMES = ["SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad"]
# 每个优化器用默认超参数，只有 SGD 打开动量（默认 momentum=0 时它几乎只做一次 add_）
KWARGS = {"SGD": {"momentum": 0.9}}
N_PARAMS = 11_000_000
N_TENSORS = 60


def large_shapes() -> list[int]:
    """60 个大小不等的张量，总数恰为 11,000,000。"""
    gen = torch.Generator().manual_seed(0)
    weights = torch.rand(N_TENSORS, generator=gen) + 0.5
    sizes = (weights / weights.sum() * N_PARAMS).floor().long().tolist()
    sizes[-1] += N_PARAMS - sum(sizes)
    return sizes


def make_params(sizes: list[int], seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    params = []
    for n in sizes:
        p = torch.randn(n, generator=gen).requires_grad_()
        p.grad = torch.randn(n, generator=gen)
        params.append(p)
    return params


def timed(opt: torch.optim.Optimizer, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        opt.step()
    return (time.perf_counter() - start) / steps


def compare(make_a, make_b, sizes, steps, repeats, warmup=2):
    """交替计时两个优化器，返回 (a 的中位耗时, b 的中位耗时, 每对之比的中位数)。"""
    a = make_a(make_params(sizes, seed=1))
    b = make_b(make_params(sizes, seed=1))
    for opt in (a, b):
        timed(opt, warmup * steps)
    ta, tb, ratios = [], [], []
    for _ in range(repeats):
        x = timed(a, steps)
        y = timed(b, steps)
        ta.append(x)
        tb.append(y)
        ratios.append(x / y)
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def copy_bandwidth(nbytes: int = 512 * 2**20, repeats: int = 15) -> float:
    """大张量拷贝的带宽（字节/秒），拷贝一次读 nbytes、写 nbytes。"""
    src = torch.ones(nbytes // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - start)
    return 2 * nbytes / statistics.median(times)


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="每个优化器的交替样本对数")
    parser.add_argument("--steps-2d", type=int, default=2000, help="2d 工作负载每个样本的步数")
    args = parser.parse_args()

    workloads = [("large", large_shapes(), 1), ("2d", [2], args.steps_2d)]
    rows = []
    for workload, sizes, steps in workloads:
        for name in NAMES:
            kw = KWARGS.get(name, {})
            ours_cls, torch_cls = getattr(optimlab, name), getattr(torch.optim, name)
            t_ours, t_torch, ratio = compare(
                lambda p, c=ours_cls, kw=kw: c(p, **kw),
                lambda p, c=torch_cls, kw=kw: c(p, **kw),
                sizes, steps, args.repeats,
            )
            rows.append((workload, f"optimlab.{name}", f"torch.optim.{name}", t_ours, t_torch, ratio))
        t_fused, t_torch, ratio = compare(
            lambda p: torch.optim.Adam(p, fused=True), lambda p: torch.optim.Adam(p), sizes, steps, args.repeats
        )
        rows.append((workload, "torch.optim.Adam(fused=True)", "torch.optim.Adam", t_fused, t_torch, ratio))

    bandwidth = copy_bandwidth()
    floor = 28 * N_PARAMS / bandwidth
    adam_ours = next(r[3] for r in rows if r[0] == "large" and r[1] == "optimlab.Adam")
    adam_torch = next(r[4] for r in rows if r[0] == "large" and r[1] == "optimlab.Adam")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.repeats} interleaved pairs per row (2d: {args.steps_2d} steps per sample)\n")
    print("| workload | optimizer | baseline | optimizer step | baseline step | median ratio |")
    print("|---|---|---|---:|---:|---:|")
    for workload, a, b, ta, tb, ratio in rows:
        print(f"| {workload} | {a} | {b} | {fmt_time(ta)} | {fmt_time(tb)} | {ratio:.3f} |")
    print()
    print(f"copy bandwidth: {bandwidth / 1e9:.2f} GB/s (read + write, 512 MiB tensor)")
    print(f"Adam memory-bandwidth floor (28 B/param × 11M params): {fmt_time(floor)} per step; "
          f"optimlab.Adam {adam_ours / floor:.2f}× floor, torch.optim.Adam {adam_torch / floor:.2f}× floor")
    worst = max(r[5] for r in rows if r[1].startswith("optimlab."))
    print(f"worst optimlab/torch ratio: {worst:.3f} (target ≤ 1.10)")


if __name__ == "__main__":
    main()
