"""optimlab 的 Muon 与 torch.optim.Muon 逐位对照；Newton–Schulz 迭代另有与 torch 无关的奇异值检查。

Newton–Schulz 在 bfloat16 中进行，但两边的运算完全相同，所以 float32/float64 参数的结果仍然逐位相等。
"""

import copy

import pytest
import torch
from torch.optim._muon import _zeropower_via_newtonschulz as torch_newton_schulz

import oracle
from oracle import assert_bitwise, assert_same_state, outcome, product, train
from optimlab.optim.muon import Muon, newton_schulz

T = torch.tensor
SHAPES = [(8, 5), (5, 8), (8, 8)]  # 行多于列（NS 先转置）、列多于行、方阵
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])

# 改变代码分支的选项取完整网格（2 × 2 × 2 × 3 = 24 种）：
BRANCHING = product(
    lr=[0.02],
    weight_decay=[0.0, 0.1],
    momentum=[0.0, 0.9],
    nesterov=[False, True],
    adjust_lr_fn=[None, "original", "match_rms_adamw"],
)
# 只是传给 Newton–Schulz 的数值逐个改变（newton_schulz 本身另有与 torch 的逐位对照）：
SINGLE = [
    {"lr": 0.1},
    {"lr": 0.02, "ns_coefficients": (1.5, -0.5, 0.0)},  # 经典的三次 Newton–Schulz
    {"lr": 0.02, "eps": 50.0},  # ε 大于 ‖d_t‖_F：归一化的下限生效
    {"lr": 0.02, "ns_steps": 2},
]
GRID = BRANCHING + SINGLE


@pytest.fixture(autouse=True)
def one_cpu_thread():
    """bfloat16 小矩阵乘法在繁忙的机器上多线程互相等待，一次要十几毫秒；单线程只要几微秒。两边线程数相同。"""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def make_matrices(dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in SHAPES]


def matrix_loss(params, k):
    """三层小网络 8 → 5 → 8 → 8 的回归；第 k 步用第 k 个小批量。"""
    w1, w2, w3 = params
    gen = torch.Generator().manual_seed(1000 + k)
    x = torch.randn(4, 8, generator=gen, dtype=w1.dtype)
    y = torch.randn(4, 8, generator=gen, dtype=w1.dtype)
    pred = torch.tanh(torch.tanh(x @ w1) @ w2) @ w3
    return ((pred - y) ** 2).mean() + 0.1 * sum(torch.cos(w).sum() for w in params)


@pytest.fixture(autouse=True)
def matrix_problem(monkeypatch):
    """oracle.train 的问题换成只有二维参数的 matrix_loss（两个参数组、.grad 为 None 的步都照旧）。"""
    monkeypatch.setattr(oracle, "loss_fn", matrix_loss)


def run_pair(kwargs, dtype=torch.float32, steps=12, **train_kw):
    out = []
    for cls in (Muon, torch.optim.Muon):
        params = make_matrices(dtype)
        opt, _ = train(cls, kwargs, params=params, steps=steps, groups=True, **train_kw)
        out.append((params, opt))
    return out


@DTYPES
@pytest.mark.parametrize("kwargs", GRID, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_bitwise_equal_to_torch(kwargs, dtype):
    """两个参数组、部分步里 .grad 为 None；参数、动量缓冲与参数组都与 torch 逐位相同。"""
    (p_ours, ours), (p_torch, theirs) = run_pair(kwargs, dtype)
    assert_bitwise(p_ours, p_torch, "Muon")
    assert_same_state(ours, theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


def test_default_constructor_matches_torch():
    (p_ours, ours), (p_torch, theirs) = run_pair({}, steps=6)
    assert ours.defaults == theirs.defaults
    assert ours.defaults == {
        "lr": 1e-3, "weight_decay": 0.1, "momentum": 0.95, "nesterov": True,
        "ns_coefficients": (3.4445, -4.7750, 2.0315), "eps": 1e-7, "ns_steps": 5, "adjust_lr_fn": None,
    }
    assert_bitwise(p_ours, p_torch)
    assert sorted(ours.state[p_ours[0]]) == ["momentum_buffer"]  # 没有 step


@DTYPES
def test_tensor_lr(dtype):
    (p_ours, ours), (p_torch, theirs) = run_pair({"lr": T(0.02), "adjust_lr_fn": "match_rms_adamw"}, dtype, steps=6)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_closure_returns_loss_and_matches():
    (p_ours, _), (p_torch, _) = run_pair({"lr": 0.02}, steps=6, closure=True)
    assert_bitwise(p_ours, p_torch)


@pytest.mark.parametrize("nesterov", [False, True])
def test_bfloat16_params(nesterov):
    """bfloat16 参数：``.bfloat16()`` 不复制，torch 在第 (1) 行原地归一化时改写了 nesterov=False 时的动量缓冲
    （它就是 NS 的输入）。optimlab 做同样的运算，所以结果（包括被改写的缓冲）仍与 torch 逐位相同。"""
    results = []
    for cls in (Muon, torch.optim.Muon):
        gen = torch.Generator().manual_seed(0)
        params = [torch.randn(s, generator=gen).bfloat16().requires_grad_() for s in [(8, 5), (5, 8)]]
        opt = cls(params, lr=0.02, momentum=0.5, nesterov=nesterov)
        for k in range(4):
            g = torch.Generator().manual_seed(10 + k)
            for p in params:
                p.grad = torch.randn(p.shape, generator=g).bfloat16()
            opt.step()
        results.append((params, opt))
    (p_ours, ours), (p_torch, theirs) = results
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


@DTYPES
@pytest.mark.parametrize("direction", ["torch->optimlab", "optimlab->torch"])
def test_state_dict_interop(direction, dtype):
    """一边训练 6 步、另一边载入它的状态字典后双方继续 4 步，结果与只用 torch 训练 10 步逐位相同。"""
    kw = {"lr": 0.02, "adjust_lr_fn": "match_rms_adamw"}
    first, second = (torch.optim.Muon, Muon) if direction == "torch->optimlab" else (Muon, torch.optim.Muon)

    params = make_matrices(dtype)
    src, _ = train(first, kw, params=params, steps=6, groups=True)
    saved = src.state_dict()
    assert {k for st in saved["state"].values() for k in st} == {"momentum_buffer"}
    p_ref = [p.detach().clone().requires_grad_() for p in params]
    # load_state_dict 不复制 dtype 已相同的状态张量，所以两边各载入一份深拷贝
    ref = torch.optim.Muon([{"params": p_ref[:2]}, {"params": p_ref[2:], "lr": 0.01}], **kw)
    ref.load_state_dict(copy.deepcopy(saved))

    dst = second([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}], **kw)
    dst.load_state_dict(copy.deepcopy(saved))
    assert_same_state(dst, ref)  # 同样的键、dtype、形状与数值
    train(second, kw, params=params, steps=4, start=6, opt=dst)
    train(torch.optim.Muon, kw, params=p_ref, steps=4, start=6, opt=ref)
    assert_bitwise(params, p_ref)
    assert_same_state(dst, ref)


def construct(cls, kwargs):
    kwargs = dict(kwargs)
    params = kwargs.pop("__params__", [torch.zeros(3, 2, requires_grad=True)])
    return lambda: cls(params, **kwargs)


# torch.optim.Muon 在构造时拒绝的输入。
INVALID = [
    {"lr": -0.1},
    {"lr": T([0.1, 0.2])},  # 多元素张量学习率
    {"lr": T(-0.1)},  # 信息里带张量的 repr
    {"lr": float("nan")},
    {"momentum": -0.1},
    {"momentum": float("nan")},
    {"weight_decay": -0.1},
    {"adjust_lr_fn": "adamw"},
    {"adjust_lr_fn": ""},
    {"__params__": [torch.zeros(3, requires_grad=True)]},  # 只接受二维参数
    {"__params__": [torch.zeros(2, 3, 4, requires_grad=True)]},
    {"__params__": [torch.zeros((), requires_grad=True)]},
    {"__params__": [{"params": [torch.zeros(3, 2)]}, {"params": [torch.zeros(5)], "lr": 0.1}]},  # 第二组
    {"lr": -1.0, "momentum": -1.0},  # 先报学习率
    {"momentum": -1.0, "weight_decay": -1.0},  # 先报动量
    {"weight_decay": -1.0, "adjust_lr_fn": "x"},  # 先报权重衰减
    {"adjust_lr_fn": "x", "__params__": [torch.zeros(3, requires_grad=True)]},  # 先报 adjust_lr_fn
    {"__params__": []},  # 基类检查：空的参数列表
    {"foreach": True},  # torch 没有这些参数：TypeError，信息里的类名也相同
    {"maximize": True},
    {"fused": True},
]


@pytest.mark.parametrize("kwargs", INVALID, ids=repr)
def test_invalid_constructor_arguments(kwargs):
    theirs = outcome(construct(torch.optim.Muon, kwargs))
    assert theirs[0] != "ok", "torch 应当拒绝这组参数"
    assert outcome(construct(Muon, kwargs)) == theirs


STEP_ERRORS = {
    "ns_steps=100": ({"ns_steps": 100}, None),
    "two coefficients": ({"ns_coefficients": (3.0, -3.0)}, None),
    "complex param": ({}, "complex"),
    "sparse grad": ({}, "sparse"),
    "1-D param added later": ({}, "1d"),
}


@pytest.mark.parametrize("case", list(STEP_ERRORS))
def test_rejected_at_step(case):
    """这些输入构造时不检查，第一次 step 才报错；报错前已完成的状态与更新也与 torch 相同。"""
    kwargs, kind = STEP_ERRORS[case]
    results = []
    for cls in (Muon, torch.optim.Muon):
        gen = torch.Generator().manual_seed(0)
        ok = torch.randn(3, 2, generator=gen, requires_grad=True)
        params = [ok]
        if kind == "complex":
            params.append(torch.ones(2, 2, dtype=torch.complex64, requires_grad=True))
        if kind == "sparse":
            params.append(torch.ones(2, 2, requires_grad=True))
        opt = cls(params, lr=0.1, **kwargs)
        if kind == "1d":  # add_param_group 不检查维数
            params.append(torch.ones(4, requires_grad=True))
            opt.add_param_group({"params": params[1:]})
        ok.grad = torch.randn(3, 2, generator=gen)
        for p in params[1:]:
            p.grad = torch.ones_like(p).to_sparse() if kind == "sparse" else torch.ones_like(p)
        results.append((outcome(opt.step), params, opt))
    (err_ours, p_ours, ours), (err_torch, p_torch, theirs) = results
    assert err_torch[0] in (ValueError, RuntimeError)
    assert err_ours == err_torch
    assert_same_state(ours, theirs)
    assert all(torch.equal(a, b) for a, b in zip(p_ours, p_torch, strict=True))


# ---- Newton–Schulz 迭代 -------------------------------------------------------------------------

NS_CASES = product(
    shape=[(8, 5), (5, 8), (6, 6), (1, 7), (7, 1), (32, 32), (16, 32)],
    dtype=[torch.float32, torch.float64],
)
NS_OPTIONS = [
    {},
    {"ns_coefficients": (1.5, -0.5, 0.0), "ns_steps": 10},
    {"ns_steps": 0},
    {"eps": 1e3},
]


@pytest.mark.parametrize("options", NS_OPTIONS, ids=repr)
def test_newton_schulz_bitwise_equal_to_torch(options):
    """与 torch 的 ``_zeropower_via_newtonschulz`` 逐位相同：各种形状（两种朝向、向量形的矩阵）、输入 dtype、零矩阵。"""
    kw = {"ns_coefficients": (3.4445, -4.7750, 2.0315), "ns_steps": 5, "eps": 1e-7, **options}
    gen = torch.Generator().manual_seed(0)
    for case in NS_CASES:
        for grad in (torch.randn(case["shape"], generator=gen, dtype=case["dtype"]), torch.zeros(case["shape"])):
            ours = newton_schulz(grad, **kw)
            theirs = torch_newton_schulz(grad, kw["ns_coefficients"], kw["ns_steps"], kw["eps"])
            assert ours.dtype == theirs.dtype == torch.bfloat16 and ours.shape == grad.shape
            assert torch.equal(ours, theirs), case


@pytest.mark.parametrize(
    "args",
    [
        (torch.ones(3), (3.4445, -4.7750, 2.0315), 5, 1e-7),
        (torch.ones(2, 2, 2), (3.4445, -4.7750, 2.0315), 5, 1e-7),
        (torch.ones(3, 2), (1.0, 2.0), 5, 1e-7),
        (torch.ones(3, 2), (3.4445, -4.7750, 2.0315), 100, 1e-7),
        (torch.ones(3), (1.0, 2.0), 100, 1e-7),  # 先报步数
    ],
    ids=["1-D", "3-D", "two coefficients", "100 steps", "order"],
)
def test_newton_schulz_errors(args):
    assert outcome(lambda: newton_schulz(*args)) == outcome(lambda: torch_newton_schulz(*args))
    assert outcome(lambda: newton_schulz(*args))[0] is ValueError


def quintic_5(s):
    """五次多项式 φ(σ) = aσ + bσ³ + cσ⁵ 在 float64 中复合 5 次：NS 对奇异值的精确作用（不计舍入）。"""
    a, b, c = 3.4445, -4.7750, 2.0315
    for _ in range(5):
        s = a * s + b * s**3 + c * s**5
    return s


@pytest.mark.parametrize("shape", [(8, 5), (5, 8), (32, 16), (16, 32), (24, 24)])
def test_newton_schulz_singular_values(shape):
    """与 torch 无关的检查：NS 只改奇异值、不改奇异向量，5 步后奇异值落在 1 附近的带内。

    输入 B = U diag(σ) Vᵀ 的奇异值跨 30 倍（归一化后最小的约 0.01–0.05）。在 float64 中，
    φ 复合 5 次把 [0.01, 1] 映到约 [0.682, 1.134]；bfloat16 的舍入再让它放宽约 0.02。
    """
    gen = torch.Generator().manual_seed(sum(shape))
    rows, cols = shape
    k = min(shape)
    u, _ = torch.linalg.qr(torch.randn(rows, k, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cols, k, generator=gen, dtype=torch.float64))
    sigma = torch.logspace(0, -1.5, k, dtype=torch.float64)
    b = u @ torch.diag(sigma) @ v.T

    out = newton_schulz(b).double()
    sv_in = torch.linalg.svdvals(b)
    sv_out = torch.linalg.svdvals(out)
    assert sv_in.max() / sv_in.min() > 30
    assert 0.66 < sv_out.min() and sv_out.max() < 1.16, (sv_out.min(), sv_out.max())

    grid = torch.linspace(0.01, 1, 10001, dtype=torch.float64)
    band = quintic_5(grid)
    assert 0.68 < band.min() < 0.69 and 1.13 < band.max() < 1.14  # φ⁵ 在 [0.01, 1] 上的值域

    # 奇异向量不变：O ≈ U φ⁵(Σ/‖B‖_F) Vᵀ（差别只来自 bfloat16 的舍入）
    predicted = u @ torch.diag(quintic_5(sigma / b.norm())) @ v.T
    assert (out - predicted).abs().max() < 0.05
    assert torch.allclose(sv_out, quintic_5(sv_in / b.norm()).sort(descending=True).values, atol=0.06)
