"""浏览器里的更新规则与曲面（optimlab/optim/rules.mjs、optimlab/web/surfaces.mjs）与 optimlab 逐步比对。

参照来自 optimlab：``trajectory.run_many``\\ （float64）。271 组固定种子的设置（rules.mjs 的 12 个优化器各 20 组
随机设置：每个选项、每个曲面与 κ、s 的取值、拖动后的起点、学习率大到越界的与 maximize 的；另有 31 组特意非法的设置，随机设置里也会碰到 Nesterov 带阻尼这样的非法组合）
在 Chromium 中用一次 ``page.evaluate`` 全部运行，然后逐个比较：

* 非法的：报错信息与 torch / optimlab 一字不差；
* 发散的：在同一步发散，发散之前的值照下面的规则比较；
* 其余：轨迹与损失逐点比较（``deviation``：点 θ_k 的误差按 ‖θ_k‖_∞ 量，损失按 |f_k|）。

JS 按 torch 在 CPU 上的运算顺序计算：``add(alpha=)``、``addcmul``、``lerp``、2-范数在 torch 里被编译成 FMA，
JS 用精确模拟的 fma；``addcdiv``、除法、乘法是 IEEE 754 的基本运算；曲面的梯度按 autograd 的顺序写出。
这样仍有两处不可能逐位照抄，都不是 JS 的错，而是平台的：

1. torch 的 ``sqrt``\\ （float64，CPU）交给 MKL 的 vdSqrt，约 1.2% 的输入与正确舍入差 1 ulp，而且随 CPU 而变。
   参照运行时把它换成 IEEE 754 的平方根（``ieee_sqrt``，JS 的 ``Math.sqrt`` 也是它）。不换时实测（2026-12-02，
   本机 AMD EPYC）：239 组合法设置中 216 组逐位相同，6 组相对误差超过 1e-12，最大 0.42（Beale 上的 RMSprop：
   混沌的轨迹，optimlab 在 Intel 与 AMD 的机器上彼此也对不上）。
2. Python 的 ``**``\\ （偏差校正 1 − βᵗ、NAdam 的 0.96^{tψ}、ASGD、Adafactor）调用 glibc 的 ``pow``，误差上界
   0.52 ulp，约千分之一的取值与正确舍入差 1 ulp；JS 的 ``pow`` 取正确舍入值。

实测（同日）：239 组合法设置中 233 组与参照逐位相同；其余 6 组的差别都从某一步 pow 的 1 ulp 开始。判定：

* optimlab 自身良态的（起点挪动 1 ulp，它自己的轨迹移动的相对距离 ≤ 1e-12）：相对误差 ≤ ``REL_BOUND`` = 1e-12
  且 ≤ ``ULP_BOUND`` 个 ulp。实测最大 93 ulp（相对 1.2e-14，κ = 1000 的二次函数上的 Adam），ULP_BOUND 取 128；
* 病态的（optimlab 自己对 1 ulp 的扰动就移动更远，这时谈不上更紧的界）：JS 的偏差不超过那个距离
  （实测最大为它的 1.1e-6 倍；唯一超过 1e-12 的一组是 Rosenbrock 上的 Adam，1.7e-12，自身的 1 ulp 扩散为 1.3e-4）。

测试运行时打印这些数。另两项：收敛图的每一格等于 run_many 的对应设置（逐位）；JS 的 ``update`` 与 Python 的
``_update`` 的 ``(k)`` 编号序列逐个优化器相同（编号的提取规则与批量内核的测试共用 ``test_sweep.tags``）。
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import math
import re
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch

import optimlab
from optimlab import problems
from optimlab.trajectory import run_many
from optimlab.widgets.paths import scaled_quadratic
from test_sweep import tags

pytestmark = pytest.mark.browser

RULES_JS = "optimlab/optim/rules.mjs"
SURFACES_JS = "optimlab/web/surfaces.mjs"
OPTIMIZERS = ["SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad", "RAdam", "Adamax", "Adadelta", "ASGD", "Rprop",
              "Adafactor"]
STEPS = 100
PER_OPTIMIZER = 20  # 12 × 20 组随机设置，另有 INVALID 中的 31 组
#: 实测的最大 ulp 差（见模块说明）向上取整并留余量。
ULP_BOUND = 128
REL_BOUND = 1e-12
KAPPAS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0)
SCALES = (1e-3, 0.0316, 1.0, 17.8, 1e3)


# ---------------------------------------------------------------------------------------------- 随机设置


def _surface_choice(rng):
    name = ["quadratic", "rosenbrock", "beale", "scaled_quadratic"][rng.integers(4)]
    options = {}
    if name == "quadratic":
        options["kappa"] = float(KAPPAS[rng.integers(len(KAPPAS))])
    elif name == "scaled_quadratic":
        options["scale"] = float(SCALES[rng.integers(len(SCALES))])
    return name, options


def _python_surface(name, options):
    if name == "quadratic":
        return problems.quadratic(options["kappa"])
    if name == "scaled_quadratic":
        return scaled_quadratic(options["scale"])
    return problems.surface(name)


def _hparams(name, rng, blowup, maximize):
    """一组随机超参数（torch 的关键字参数，全部是 Python 的 float / bool）；``blowup`` 时学习率大到越界。"""
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    log = lambda lo, hi: float(10 ** rng.uniform(np.log10(lo), np.log10(hi)))  # noqa: E731
    coin = lambda p=0.5: bool(rng.random() < p)  # noqa: E731
    wd = lambda: log(1e-3, 1.0) if coin(0.4) else 0.0  # noqa: E731
    lr_range = {"SGD": (1e-5, 0.3), "Adadelta": (1e-2, 50.0), "ASGD": (1e-5, 0.3), "Rprop": (1e-4, 1.0)}
    lr = log(1e5, 1e8) if blowup else log(*lr_range.get(name, (1e-4, 3.0)))
    hp = {"lr": lr}
    if maximize:
        hp["maximize"] = True
    if name == "SGD":
        hp.update(momentum=u(0, 0.99) if coin(0.7) else 0.0, weight_decay=wd())
        if coin(0.3):
            hp["nesterov"] = True  # 动量为 0 或有阻尼时非法
            hp["dampening"] = 0.0 if coin(0.8) else u(0, 0.9)
        else:
            hp["dampening"] = u(0, 0.9) if coin(0.4) else 0.0
    elif name in ("Adam", "AdamW", "NAdam", "RAdam", "Adamax"):
        hp.update(betas=(u(0, 0.999), u(0.5, 0.9999)), eps=log(1e-12, 1e-1), weight_decay=wd())
        if name in ("Adam", "AdamW"):
            hp["amsgrad"] = coin()
        if name in ("Adam", "NAdam", "RAdam"):
            hp["decoupled_weight_decay"] = coin()
        if name == "NAdam":
            hp["momentum_decay"] = log(1e-4, 1.0)
        if name == "RAdam" and coin(0.3):
            hp["betas"] = (hp["betas"][0], u(0.9, 0.9999))  # ρ_t > 5 的分支
    elif name == "RMSprop":
        hp.update(alpha=u(0, 0.999), eps=log(1e-12, 1e-1), weight_decay=wd(), momentum=u(0, 0.95) if coin() else 0.0,
                  centered=coin())
    elif name == "Adagrad":
        hp.update(lr_decay=log(1e-4, 1.0) if coin() else 0.0, weight_decay=wd(),
                  initial_accumulator_value=u(0, 1) if coin() else 0.0, eps=log(1e-12, 1e-1))
    elif name == "Adadelta":
        hp.update(rho=u(0, 1), eps=log(1e-10, 1e-2), weight_decay=wd())
    elif name == "ASGD":
        hp.update(lambd=log(1e-6, 1e-1), alpha=u(0.1, 1.5), t0=float(rng.integers(0, 100)) if coin() else 1e6,
                  weight_decay=wd())
    elif name == "Rprop":
        hp.update(etas=(u(0.1, 0.9), u(1.05, 2.0)), step_sizes=(log(1e-8, 1e-4), 1e8 if blowup else log(1.0, 100.0)))
    elif name == "Adafactor":
        hp.update(beta2_decay=u(-1.0, -0.1), eps=(None if coin() else log(1e-30, 1e-10), log(1e-5, 1e-1)),
                  d=u(1.0, 3.0), weight_decay=wd())
    return hp


#: 非法的设置：每个优化器都有，与 torch 的报错信息比较（值取自探索器的控件能给出的范围之外）
INVALID = {
    "SGD": [{"lr": -0.01}, {"lr": 0.1, "momentum": -0.5}, {"lr": 0.1, "weight_decay": -1e-05},
            {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, {"lr": 0.1, "nesterov": True}],
    "Adam": [{"lr": -1.0}, {"betas": (1.0, 0.999)}, {"betas": (0.9, -0.1)}, {"eps": -1e-08}],
    "AdamW": [{"weight_decay": -0.1}, {"lr": float("nan")}],
    "NAdam": [{"momentum_decay": -0.004}, {"betas": (0.9, 1.5)}],
    "RMSprop": [{"alpha": -0.5}, {"momentum": -0.9}, {"eps": float("-inf")}],
    "Adagrad": [{"lr_decay": -0.1}, {"initial_accumulator_value": -1.0}],
    "RAdam": [{"betas": (-0.1, 0.999)}],
    "Adamax": [{"eps": -1.0}],
    "Adadelta": [{"rho": 1.5}, {"lr": -2.0}],
    "ASGD": [{"weight_decay": -0.5}],
    "Rprop": [{"etas": (1.5, 1.2)}, {"etas": (0.5, 0.9)}],
    "Adafactor": [{"lr": -0.1}, {"beta2_decay": 0.5}, {"eps": (-1.0, 1e-3)}, {"eps": (None, -1.0)}, {"d": 0.5},
                  {"weight_decay": -1.0}],
}


def make_configs():
    rng = np.random.default_rng(20261202)
    starts = {}  # 每个曲面 3 个起点：默认的与两个"拖动后"的
    configs = []
    for name in OPTIMIZERS:
        for i in range(PER_OPTIMIZER):
            surf_name, options = _surface_choice(rng)
            surf = _python_surface(surf_name, options)
            if surf_name not in starts:
                (x0, x1), (y0, y1) = surf.xlim, surf.ylim
                starts[surf_name] = [tuple(surf.x0)] + [(float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1)))
                                                        for _ in range(2)]
            start = starts[surf_name][rng.integers(3)]
            configs.append({"opt": name, "hp": _hparams(name, rng, i < 3, i in (3, 4)), "surface": surf_name, "options": options,
                            "x0": start})
        for hp in INVALID[name]:
            surf_name, options = _surface_choice(rng)
            configs.append({"opt": name, "hp": hp, "surface": surf_name, "options": options,
                            "x0": tuple(_python_surface(surf_name, options).x0)})
    return configs


def to_js(hp):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in hp.items()}


@contextlib.contextmanager
def ieee_sqrt():
    """参照运行期间，torch 的 ``Tensor.sqrt``/``sqrt_``\\ （float64）换成 IEEE 754 的正确舍入平方根（numpy）。

    torch 的 CPU 版把 sqrt 交给 MKL 的 vdSqrt：它从 ``rsqrtps`` 的近似值迭代，约 1.2% 的输入与正确舍入差
    1 ulp（都在中点 ±0.03 ulp 以内），而且随 CPU 而变（``rsqrtps`` 的近似表是各家处理器自己的）。JS 无从照抄，
    用的是 IEEE 754 的 ``Math.sqrt``。"""
    original = torch.Tensor.sqrt, torch.Tensor.sqrt_

    def sqrt(self):
        if self.dtype != torch.float64 or self.requires_grad or self.is_sparse:
            return original[0](self)
        with np.errstate(invalid="ignore"):  # 负数的平方根为 NaN，同 torch，不警告
            return torch.from_numpy(np.asarray(np.sqrt(self.numpy())))

    def sqrt_(self):
        if self.dtype != torch.float64 or self.requires_grad or self.is_sparse:
            return original[1](self)
        return self.copy_(sqrt(self))

    torch.Tensor.sqrt, torch.Tensor.sqrt_ = sqrt, sqrt_
    try:
        yield
    finally:
        torch.Tensor.sqrt, torch.Tensor.sqrt_ = original


def nudge(x0):
    return tuple(math.nextafter(v, math.inf) for v in x0)


def references(configs, steps, start=lambda x0: x0):
    """optimlab 的结果：同一曲面、同一起点的设置放进一次 run_many（不同的优化器类也可以同时运行）。"""
    groups = {}
    for i, c in enumerate(configs):
        groups.setdefault((c["surface"], tuple(sorted(c["options"].items())), c["x0"]), []).append(i)
    out = [None] * len(configs)
    with ieee_sqrt():
        for (surf_name, options, x0), idx in groups.items():
            surf = _python_surface(surf_name, dict(options))
            specs = [(getattr(optimlab, configs[i]["opt"]), configs[i]["hp"]) for i in idx]
            for i, res in zip(idx, run_many(surf, specs, steps, start(x0), errors=(ValueError,))):
                out[i] = res
    return out


# ---------------------------------------------------------------------------------------------- 比较


def deviation(path, loss, ref_path, ref_loss):
    """(ulp 数, 相对误差)：逐点比较，取最大值。NaN（发散之后）的位置必须相同。

    点 θ_k 的误差按它的尺度量：max_i |Δθ_k,i| 除以 ‖θ_k‖_∞（相对误差）或它的 ulp（ulp 数）；损失按 |f_k|。
    （逐个坐标算相对误差时，坐标穿过 0 的那一步会把一个 ulp 的差别放大成任意大。）"""
    assert np.array_equal(np.isnan(path), np.isnan(ref_path)) and np.array_equal(np.isnan(loss), np.isnan(ref_loss))
    ok = ~np.isnan(ref_loss)
    scale = np.concatenate([np.abs(ref_path[ok]).max(axis=1), np.abs(ref_loss[ok])])
    delta = np.concatenate([np.abs(path[ok] - ref_path[ok]).max(axis=1), np.abs(loss[ok] - ref_loss[ok])])
    if not delta.any():
        return 0.0, 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ulp = np.where(delta == 0, 0.0, delta / np.spacing(scale))
        rel = np.where(delta == 0, 0.0, delta / scale)
    return float(ulp.max()), float(rel.max())


RUN_ALL_JS = """
async (configs) => {
  const parts = [];
  const meta = configs.map((c) => {
    const surf = m.surface(c.surface, c.options);
    const r = m.run(surf, c.opt, c.hp, c.steps, c.x0);
    parts.push(r.path, r.loss);
    return [r.divergedAt, r.error];
  });
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  const bytes = new Uint8Array(all.buffer);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { meta, data: btoa(s) };
}
"""


def unpack(data, n, steps):
    flat = np.frombuffer(base64.b64decode(data), dtype=np.float64)
    size = 3 * (steps + 1)
    assert flat.size == n * size
    return [(flat[k * size: k * size + 2 * (steps + 1)].reshape(steps + 1, 2),
             flat[k * size + 2 * (steps + 1): (k + 1) * size]) for k in range(n)]


@pytest.fixture(scope="module")
def outcomes(js):
    configs = make_configs()
    refs = references(configs, STEPS)
    payload = [{"opt": c["opt"], "hp": to_js(c["hp"]), "surface": c["surface"], "options": c["options"],
                "x0": list(c["x0"]), "steps": STEPS} for c in configs]
    got = js(SURFACES_JS, RUN_ALL_JS, payload)
    arrays = unpack(got["data"], len(configs), STEPS)
    results = [(path, loss, at, err) for (path, loss), (at, err) in zip(arrays, got["meta"])]
    return configs, refs, results


def test_configs_cover_every_optimizer_option_surface_and_outcome(outcomes):
    configs, refs, _ = outcomes
    assert len(configs) >= 260
    for name in OPTIMIZERS:
        mine = [(c, r) for c, r in zip(configs, refs) if c["opt"] == name]
        valid = [r for _, r in mine if not isinstance(r, Exception)]
        assert any(r.diverged_at is None for r in valid) and any(r.diverged_at is not None for r in valid), name
        assert any(isinstance(r, Exception) for _, r in mine), name
        # 每个选项都取过非默认值（布尔开关取过 True）
        defaults = inspect.signature(getattr(optimlab, name)).parameters
        options = {k for c, r in mine if not isinstance(r, Exception) for k, v in c["hp"].items()
                   if v != defaults[k].default}
        wanted = {k for k in defaults if k not in ("params", "foreach", "capturable", "differentiable", "fused")}
        assert wanted <= options, (name, wanted - options)
    assert {c["surface"] for c in configs} == {"quadratic", "rosenbrock", "beale", "scaled_quadratic"}
    assert {c["options"].get("kappa") for c in configs} >= set(KAPPAS)
    assert {c["options"].get("scale") for c in configs} >= set(SCALES)
    assert len({c["x0"] for c in configs}) >= 8  # 默认起点与拖动后的起点


def test_js_matches_optimlab(outcomes):
    configs, refs, results = outcomes
    counts = dict(valid=0, diverging=0, exact=0, conditioned=0)
    worst = dict(ulps=0.0, rel=0.0, ratio=0.0)
    inexact = []
    for i, (c, ref, (path, loss, at, err)) in enumerate(zip(configs, refs, results)):
        label = f"{c['opt']} {c['hp']} on {c['surface']} {c['options']} from {c['x0']}"
        if isinstance(ref, Exception):
            assert err == str(ref), label
            continue
        assert err is None, (label, err)
        assert at == ref.diverged_at, label
        counts["valid"] += 1
        counts["diverging"] += at is not None
        ulps, rel = deviation(path, loss, ref.path, ref.loss)
        if ulps == 0:
            counts["exact"] += 1
        else:
            inexact.append((i, label, ulps, rel))
    # 不逐位相同的设置：先量 optimlab 自己的条件——起点挪动 1 ulp，它自己的轨迹移动多远
    nudged = references([configs[i] for i, *_ in inexact], STEPS, nudge)
    for (i, label, ulps, rel), other in zip(inexact, nudged):
        ref = refs[i]
        if other.diverged_at != ref.diverged_at:
            spread = math.inf
        else:
            n = len(ref.loss) if ref.diverged_at is None else ref.diverged_at
            spread = deviation(other.path[:n], other.loss[:n], ref.path[:n], ref.loss[:n])[1]
        if spread <= REL_BOUND:  # 良态：JS 必须在界内
            worst["ulps"], worst["rel"] = max(worst["ulps"], ulps), max(worst["rel"], rel)
            assert ulps <= ULP_BOUND and rel <= REL_BOUND, (label, ulps, rel)
        else:  # 病态：JS 与 optimlab 的差别不超过 optimlab 自己对 1 ulp 扰动的反应
            worst["ratio"] = max(worst["ratio"], rel / spread)
            assert rel <= spread, (label, rel, spread)
    print(f"\n{len(configs)} configurations ({counts['valid']} valid, {counts['diverging']} of them diverging, "
          f"{len(configs) - counts['valid']} invalid with torch's message): {counts['exact']} bit-identical to "
          f"optimlab; the other {len(inexact)}: max {worst['ulps']:.3g} ulps / relative error {worst['rel']:.3g} "
          f"where optimlab is well-conditioned, max (JS deviation / optimlab's own 1-ulp spread) {worst['ratio']:.3g} "
          f"where it is not")


def test_exact_arithmetic(js):
    """exact.mjs 的基础运算：fma 在整个指数范围（含上溢、次正规数）正确舍入；pow 正确舍入；pyFloat 同 Python 的 str。"""
    rng = np.random.default_rng(11)
    exps = rng.choice([-310.0, -150.0, 0.0, 150.0, 300.0], (3000, 3)) + rng.uniform(-10, 10, (3000, 3))
    with np.errstate(over="ignore"):
        abc = rng.uniform(-9.9, 9.9, (3000, 3)) * 10.0**exps
        abc[::3, 2] = -abc[::3, 0] * abc[::3, 1] * (1 + rng.uniform(-1e-9, 1e-9, 1000))  # 相消
    abc = abc[np.isfinite(abc).all(axis=1)]
    want_fma = []
    for a, b, c in abc.tolist():
        exact = Fraction(a) * Fraction(b) + Fraction(c)
        try:
            want_fma.append(float(exact))
        except OverflowError:
            want_fma.append(math.inf if exact > 0 else -math.inf)
    xs = np.concatenate([rng.uniform(0, 1, 300), 1 + 10 ** rng.uniform(-8, 2, 100), rng.integers(1, 400, 100)])
    ys = np.concatenate([rng.integers(1, 400, 300), rng.uniform(-1, 1.5, 100), [-0.8, 0.5, -0.5, 0.75] * 25])
    with mpmath.workprec(200):
        want_pow = [float(mpmath.mpf(x) ** mpmath.mpf(y)) for x, y in zip(xs.tolist(), ys.tolist())]
    floats = [0.0, -0.0, 1.0, -1.0, 0.1, 1e-4, 1e-05, 1.5e-7, 123456.7, 1e15, 1e16, 2.5e300, -3e-300, math.nan,
              math.inf, -math.inf, 0.001, 12345678901234567.0]
    got = js("optimlab/optim/exact.mjs", """(abc, xs, ys, floats) => [abc.map(([a, b, c]) => m.fma(a, b, c)),
        xs.map((x, i) => m.pow(x, ys[i])), floats.map(m.pyFloat)]""", abc.tolist(), xs.tolist(), ys.tolist(), floats)
    assert np.array_equal(np.array(got[0], dtype=np.float64), np.array(want_fma))
    assert got[1] == want_pow
    assert got[2] == [str(f) for f in floats]


SURFACE_CASES = [("quadratic", {"kappa": k}) for k in KAPPAS] + [("rosenbrock", {}), ("beale", {})] + [
    ("scaled_quadratic", {"scale": s}) for s in SCALES]


def test_surfaces_equal_optimlab(js):
    """曲面的名字、起点、范围、最小点与 f*，以及 f 与梯度在 500 个点上的值，与 optimlab（torch autograd）逐位相同。"""
    rng = np.random.default_rng(7)
    points = rng.uniform(-3, 3, (500, 2)) * 10 ** rng.uniform(-4, 2, (500, 1))
    got = js(SURFACES_JS, """(cases, pts) => cases.map(([name, options]) => {
        const s = m.surface(name, options);
        return [s.name, s.x0, s.minimizer, s.xlim, s.ylim, s.fMin, pts.flatMap(([x, y]) => [s.f(x, y), ...s.grad(x, y)])];
    })""", SURFACE_CASES, points.tolist())
    for (name, options), (title, x0, minimizer, xlim, ylim, f_min, values) in zip(SURFACE_CASES, got):
        surf = _python_surface(name, options)
        assert (title, tuple(x0), tuple(minimizer), tuple(xlim), tuple(ylim), f_min) == (
            surf.name, surf.x0, surf.minimizer, surf.xlim, surf.ylim, surf.f_min), name
        xy = torch.tensor(points, requires_grad=True)
        f = surf(xy)
        f.sum().backward()
        want = np.column_stack([f.detach().numpy(), xy.grad.numpy()])
        assert np.array_equal(np.array(values, dtype=np.float64).reshape(-1, 3), want, equal_nan=True), (name, options)


MAPS = [  # (曲面, 优化器, 其他超参数, x 轴, xs, y 轴, ys)
    ("rosenbrock", "SGD", {}, "lr", [1e-4, 1e-3, 2e-3, 5e-3, 1e-2], "momentum", [0.0, 0.5, 0.9, 0.99]),
    ("beale", "Adam", {}, "lr", [1e-3, 1e-2, 0.1, 1.0, 1e7], "beta1", [0.0, 0.5, 0.9, 0.999]),
    ("quadratic", "RMSprop", {"momentum": 0.5}, "lr", [1e-3, 0.03, 0.3, 3.0], "alpha", [0.0, 0.9, 0.99, 1.5]),
    ("rosenbrock", "NAdam", {"betas": [0.9, 0.99]}, "lr", [1e-3, 0.1, 1e7], "beta1", [0.0, 0.9]),
]


def test_convergence_map_cells_equal_run_many(js):
    for surf_name, opt, hp, xkey, xs, ykey, ys in MAPS:
        got = js(SURFACES_JS, """(args) => { const [s, opt, hp, xk, xs, yk, ys, steps] = args;
                 const r = m.convergenceMap(m.surface(s), opt, hp, xk, xs, yk, ys, steps);
                 return [Array.from(r.gap), Array.from(r.divergedAt), r.error]; }""",
                 [surf_name, opt, hp, xkey, xs, ykey, ys, STEPS])
        surf = problems.surface(surf_name)
        specs = []
        for y in ys:
            for x in xs:
                kw = {k: tuple(v) if isinstance(v, list) else v for k, v in hp.items()}
                for key, v in ((xkey, x), (ykey, y)):
                    if key in ("beta1", "beta2"):
                        betas = list(kw.get("betas", (0.9, 0.999)))
                        betas[key == "beta2"] = v
                        kw["betas"] = tuple(betas)
                    else:
                        kw[key] = v
                specs.append((getattr(optimlab, opt), kw))
        with ieee_sqrt():
            refs = run_many(surf, specs, STEPS, errors=(ValueError,))
        gap = np.array(got[0], dtype=np.float64)
        want_gap = np.array([np.nan if isinstance(r, Exception) or r.diverged_at is not None
                             else r.loss[-1] - surf.f_min for r in refs])
        want_at = [0 if isinstance(r, Exception) else -1 if r.diverged_at is None else r.diverged_at for r in refs]
        assert got[1] == want_at, (surf_name, opt)
        assert np.array_equal(np.isnan(gap), np.isnan(want_gap)), (surf_name, opt)
        assert np.array_equal(gap[~np.isnan(gap)], want_gap[~np.isnan(want_gap)]), (surf_name, opt)
        errors = [str(r) for r in refs if isinstance(r, Exception)]
        assert got[2] == (errors[0] if errors else None)
        assert len(set(want_at)) > 1  # 网格上确实有不同的结局


def python_tags(name):
    """Python ``_update`` 的编号序列。Adafactor 的 ``grad.dim() > 1`` 分支（矩阵参数的行、列因子，(6)(7)）在
    浏览器里不会出现（曲面上的参数是长度为 2 的向量），比较时去掉。"""
    source = inspect.getsource(getattr(optimlab, name)._update)
    if name == "Adafactor":
        source = re.sub(r"\n(\s*)if grad\.dim\(\) > 1:\n.*?\n\1else:\n", "\n", source, flags=re.S)
    return tags(source)


def test_js_update_mirrors_python_update_line_tags(js):
    sources = js(RULES_JS, "Object.fromEntries(Object.entries(m.RULES).map(([k, r]) => [k, r.update.toString()]))")
    assert list(sources) == OPTIMIZERS
    for name, source in sources.items():
        expected = python_tags(name)
        assert expected, name
        assert tags(source.replace("//", "#")) == expected, name
