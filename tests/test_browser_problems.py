"""optimlab/web/problems.mjs 在 Chromium 中与 optimlab（float64）逐步比对：调度器与线性回归的训练、Reddi 的在线问题、
矩估计。

参照全部来自 Python：``training.scheduler_run(..., dtype=torch.float64)``\\ （torch 的调度器驱动 optimlab 的
SGD / Adam，数据与打乱顺序来自 torch 的生成器）、``online.run_reddi``、``widgets.moments.moment_estimates``；
ReduceLROnPlateau 降低学习率的轮次另由 torch 的调度器直接喂参照的每轮损失得出。JS 只拿到
``webdata.explorer_data`` 写进页面的数据。所有配置在 **一次** ``page.evaluate`` 中算完。

界：逐元素相对误差 ≤ 1e-12（问题说明中的上限），并且 ulp 距离不超过 :data:`ULPS`\\ （实测见各项的注释）。
发散的运行在同一步发散，非法超参数给出与 torch 相同的信息。
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optimlab.online import run_reddi
from optimlab.optim import Adam
from optimlab.training import scheduler_run
from optimlab.widgets.moments import moment_estimates
from optimlab.widgets.reddi import REDDI_X0
from optimlab.widgets.webdata import explorer_data

pytestmark = pytest.mark.browser

REL = 1e-12
#: 允许的最大 ulp 距离。实测（下面的配置）：SGD 的训练 0，Adam 的训练 0，Reddi 0，g、m、v 0，m̂ 2，v̂ 16。
#: 不为 0 的原因在 torch 一侧，JS 无法镜像（实测于这台机器的 torch 2.13 CPU 构建）：float64 张量的 ``sqrt``
#: 约 1.4% 的输入与正确舍入的 √（Python 的 math.sqrt、JS 的 Math.sqrt）差 1 ulp，Adam 的 √v 因此可能差 1 ulp
#: （换一组种子时 Adam 的训练实测 9 ulp）；``β ** t``\ （张量指数）约 1.6% 与正确舍入的 pow 差 1 ulp，
#: 经 1 − βᵗ 的相减放大成 m̂、v̂ 的几个 ulp。JS 的求和顺序镜像 torch 的 AVX2 内核（这台机器的
#: ``torch.backends.cpu.get_cpu_capability()``）；在 torch 选用 AVX-512 内核的机器上，SGD 的 0 ulp 不成立。
ULPS = {"sgd": 0, "adam": 16, "reddi": 0, "moments": 32}
MODULE = "optimlab/web/problems.mjs"
RUN_ALL = """async ({data, xi, sched, reddi, moments, sums}) => {
  const arr = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, ArrayBuffer.isView(v) ? Array.from(v) : v]));
  return {
    sched: sched.map(([i, s]) => arr(m.trainRegression(data[i], s))),
    reddi: reddi.map((s) => arr(m.reddi(s))),
    moments: moments.map((s) => arr(m.moments(xi, s))),
    REDDI_X0: m.REDDI_X0,
    sums: sums.map((a) => m.torchSum(Float64Array.from(a))),
  };
}"""


def ulps(a, b) -> int:
    """两个 float64 数组之间最大的 ulp 距离（NaN 必须在同一位置）。"""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    nan = np.isnan(b)
    assert (np.isnan(a) == nan).all(), "NaN 的位置不同"
    ia, ib = (x[~nan].view(np.int64) for x in (a, b))
    ia, ib = (np.where(i < 0, np.int64(-2**63) - i, i) for i in (ia, ib))  # 按数值大小排序的整数
    return int(np.abs(ia - ib).max(initial=0))


def close(got, ref) -> bool:
    """逐元素相对误差 ≤ REL；非有限值（发散后的 inf、NaN）必须相同。"""
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    if got.shape != ref.shape:
        return False
    fin = np.isfinite(ref)
    same = (got[~fin] == ref[~fin]) | (np.isnan(got[~fin]) & np.isnan(ref[~fin]))
    return bool(same.all() and (np.abs(got[fin] - ref[fin]) <= REL * np.abs(ref[fin])).all())


# ----------------------------------------------------------------------------------------- 配置

#: (轮数, 批量)：探索器的 (30, 20)，以及更短的训练、除不尽的批量（最后一批较小）与全批量（不打乱）。
SIZES = ((30, 20), (10, 20), (12, 30), (8, 64), (6, 200))


def scheduler_configs() -> list[dict]:
    """每个调度器 × 两个优化器 × 随机选项（控件的范围）× SIZES，另加发散与非法超参数的设置。"""
    rng = np.random.default_rng(11)
    out = []
    for kind in ("constant", "step", "plateau", "cosine", "onecycle"):
        for i in range(8):
            epochs, batch_size = SIZES[i % 3 if i < 6 else 3 + i % 2]
            lo = -2 if kind == "plateau" else -3  # Plateau：学习率够大，损失才会停滞在噪声带里
            s = {"kind": kind, "lr": float(10 ** rng.uniform(lo, -0.5)), "optimizer": ("sgd", "adam")[i % 2],
                 "epochs": epochs, "batch_size": batch_size}
            if s["optimizer"] == "sgd":
                s["momentum"] = float(rng.choice([0.0, rng.uniform(0, 0.99)]))
            else:
                s["beta1"] = float(rng.uniform(0, 0.99))
            if kind == "step":
                s |= {"step_size": int(rng.integers(1, 31)), "gamma": float(rng.uniform(0.05, 1.0))}
            elif kind == "plateau":
                s |= {"factor": float(rng.uniform(0.05, 0.95)), "patience": int(rng.integers(0, 11 if i > 4 else 3))}
            elif kind == "cosine":
                s |= {"T_max": int(rng.integers(1, 61))}
            elif kind == "onecycle":
                s |= {"max_lr": float(10 ** rng.uniform(-3, 0)), "pct_start": float(rng.uniform(0.05, 0.95)),
                      "cycle_momentum": bool(i % 4 < 2)}
            out.append(s)
    out += [{"kind": "constant", "lr": 1.0},  # 第 240 次更新发散（超过稳定上限 ≈ 0.36）
            {"kind": "cosine", "lr": 1.0, "T_max": 60},  # 第 286 次更新发散
            {"kind": "constant", "lr": 1.0, "momentum": 0.2},  # 第 250 次更新发散
            {"kind": "onecycle", "lr": 0.03, "max_lr": 0.9, "pct_start": 0.3, "momentum": 0.5},  # 升到 1e30 又回落
            {"kind": "plateau", "lr": 0.1, "factor": 1.0, "patience": 2},  # torch：Factor should be < 1.0.
            {"kind": "step", "lr": 0.1, "optimizer": "adam", "beta1": 1.0, "step_size": 5, "gamma": 0.5}]
    return out


def reddi_configs() -> list[dict]:
    rng = np.random.default_rng(12)
    return [{"steps": 300, "C": float(rng.choice([3.0, rng.uniform(2.5, 10)])), "lr": float(10 ** rng.uniform(-2, 0)),
             "decay": bool(i % 3 != 2), "beta1": float(rng.choice([0.0, rng.uniform(0, 0.99)])),
             "beta2": float(rng.uniform(0.01, 0.999)), "amsgrad": bool(i % 2)} for i in range(16)] + [
        {"steps": 30, "C": 3.0, "lr": 0.5, "decay": True, "beta1": 0.0, "beta2": 1.0, "amsgrad": True}]  # 非法 β₂


def moment_configs() -> list[dict]:
    rng = np.random.default_rng(13)
    return [{"beta1": float(rng.uniform(0, 0.999)), "beta2": float(rng.uniform(0.5, 0.9999)),
             "sigma": float(rng.uniform(0, 2)), "n": 300} for _ in range(12)]


#: torchSum 的长度：级联求和的各条路径（余下的标量、余下的向量、每 16 行并入上一级）。
SUM_SIZES = (1, 3, 4, 7, 16, 17, 63, 64, 65, 200, 255, 256, 257, 1000, 1024, 1031, 4099)


def sum_arrays() -> list[list[float]]:
    rng = np.random.default_rng(14)
    return [(rng.standard_normal(n) * 10 ** rng.uniform(-3, 3, n)).tolist() for n in SUM_SIZES]


def plateau_reductions(metrics, factor, patience) -> list[int]:
    """独立的参照：torch 的 ReduceLROnPlateau 逐轮喂入指标，记下学习率变小的轮次（1 起）。"""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=factor, patience=patience)
    out = []
    for epoch, value in enumerate(metrics, 1):
        before = opt.param_groups[0]["lr"]
        sched.step(value)
        if opt.param_groups[0]["lr"] < before:
            out.append(epoch)
    return out


# ----------------------------------------------------------------------------------------- 测试

@pytest.fixture(scope="module")
def results(js):  # noqa: F811
    sched, reddi, moments = scheduler_configs(), reddi_configs(), moment_configs()
    sizes = sorted({(s.get("epochs", 30), s.get("batch_size", 20)) for s in sched})
    data = [explorer_data("scheduler", epochs=e, batch_size=b) for e, b in sizes]
    xi = explorer_data("bias_correction")["xi"]
    js_sched = [[sizes.index((s.get("epochs", 30), s.get("batch_size", 20))), s] for s in sched]
    got = js(MODULE, RUN_ALL, {"data": data, "xi": xi, "sched": js_sched, "reddi": reddi, "moments": moments,
                               "sums": sum_arrays()})
    assert got["REDDI_X0"] == REDDI_X0
    return {"sums": got["sums"], "sched": list(zip(sched, got["sched"])), "reddi": list(zip(reddi, got["reddi"])),
            "moments": list(zip(moments, got["moments"]))}


def test_sum_order_is_torchs(results):
    """torchSum（均方误差与偏置梯度里的求和）与 torch.sum 逐位相同。"""
    expected = [torch.tensor(a, dtype=torch.float64).sum().item() for a in sum_arrays()]
    assert results["sums"] == expected
    naive = [math.fsum(a) for a in sum_arrays()]
    assert results["sums"] != naive  # 顺序确实要紧：精确求和的结果不同


def test_enough_configurations(results):
    kinds = {s["kind"] for s, _ in results["sched"]}
    assert kinds == {"constant", "step", "plateau", "cosine", "onecycle"}
    assert {s["amsgrad"] for s, _ in results["reddi"]} == {False, True}
    assert sum(len(results[k]) for k in ("sched", "reddi", "moments")) >= 60


def test_schedulers_and_training_match_optimlab(results):
    worst, diverged, reduced, cycled = {"sgd": 0, "adam": 0}, 0, 0, 0
    for s, got in results["sched"]:
        try:
            ref = scheduler_run(**s, dtype=torch.float64)
        except ValueError as err:
            assert got["error"] == str(err), s
            continue
        assert got["error"] is None, s
        assert got["divergedAt"] == ref.diverged_at, s
        diverged += ref.diverged_at is not None
        for key, r in (("lr", ref.lr), ("momentum", ref.momentum), ("stepLoss", ref.step_loss),
                       ("epochLoss", ref.epoch_loss)):
            assert close(got[key], r), (s, key)
            opt = s.get("optimizer", "sgd")
            worst[opt] = max(worst[opt], ulps(got[key], r))
        if s["kind"] == "plateau":
            metrics = ref.epoch_loss[1:] if ref.diverged_at is None else ref.epoch_loss[1:-1]
            expected = plateau_reductions(metrics, s["factor"], s["patience"])
            assert got["reductions"] == expected == ref.reductions, s
            reduced += bool(expected)
        cycled += s.get("cycle_momentum", False) and max(ref.momentum) == 0.95
    print(f"\n调度器与训练：{len(results['sched'])} 个配置，最大 ulp {worst}，{diverged} 个发散，"
          f"{reduced} 个 Plateau 降过学习率，{cycled} 个循环动量")
    assert worst["sgd"] <= ULPS["sgd"] and worst["adam"] <= ULPS["adam"]
    assert diverged >= 2 and reduced >= 3 and cycled >= 4  # 配置覆盖了这些情形


def test_reddi_matches_run_reddi(results):
    worst = 0
    for s, got in results["reddi"]:  # 起点 x0 取 JS 的默认值 REDDI_X0
        try:
            ref = run_reddi(Adam, s["steps"], s["C"], lr=s["lr"], sqrt_decay=s["decay"], x0=REDDI_X0,
                            betas=(s["beta1"], s["beta2"]), amsgrad=s["amsgrad"])
        except ValueError as err:
            assert got["error"] == str(err) == "Invalid beta parameter at index 1: 1.0"
            continue
        assert got["error"] is None
        for key, r in (("x", ref.x), ("loss", ref.loss), ("regret", ref.regret), ("avgRegret", ref.avg_regret)):
            assert close(got[key], r), (s, key)
            worst = max(worst, ulps(got[key], r))
    print(f"\nReddi：{len(results['reddi'])} 个配置，最大 {worst} ulp")
    assert worst <= ULPS["reddi"]


def test_moments_match_reference(results):
    worst = {}
    for s, got in results["moments"]:
        g, ref = moment_estimates(s["beta1"], s["beta2"], s["sigma"], s["n"])
        for key, r in (("g", g), *ref.items()):
            assert close(got[key], r), (s, key)
            worst[key] = max(worst.get(key, 0), ulps(got[key], r))
    print(f"\n矩估计：{len(results['moments'])} 个配置，最大 ulp {worst}")
    assert worst["g"] == worst["m"] == worst["v"] == 0  # 同一递推，逐位相同
    assert max(worst.values()) <= ULPS["moments"]


def test_payload_order_is_fits_order():
    """页面里的打乱顺序就是 training.fit 的：种子 0 的生成器，每轮一次 randperm；导出不动全局随机数状态。"""
    import base64

    data = explorer_data("scheduler", epochs=3, batch_size=20)
    order = list(base64.b64decode(data["order"]))
    gen = torch.Generator().manual_seed(0)
    assert order == [i for _ in range(3) for i in torch.randperm(200, generator=gen).tolist()]
    assert explorer_data("scheduler", batch_size=200)["order"] == ""
    assert explorer_data("sgd") == {} and math.isfinite(data["loss_min"])
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    explorer_data("scheduler", epochs=1)
    assert torch.equal(torch.rand(3), expected)  # 不改动调用者（笔记本内核）的全局随机数状态
