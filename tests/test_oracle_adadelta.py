"""optimlab 的 Adadelta 与 torch.optim.Adadelta 逐位对照：选项网格、状态字典互通、非法输入、ρ 的两个端点。"""

import copy
import io

import pytest
import torch

from oracle import assert_bitwise, assert_same_state, make_params, outcome, product, train
from optimlab.optim.adadelta import Adadelta

TORCH = torch.optim.Adadelta
T = torch.tensor
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
STEPS = 12

GRID = product(
    lr=[1.0, 0.3],  # 0.3 不是 2 的幂：乘 η 的位置错了会被发现
    rho=[0.9, 0.5],
    eps=[1e-6, 1e-3],
    weight_decay=[0.0, 0.1],
    maximize=[False, True],
)


def ident(kw):
    return "-".join(f"{k}={v}" for k, v in kw.items())


def clone(params):
    return [p.detach().clone().requires_grad_() for p in params]


# ---------------------------------------------------------------- 1. 选项网格


@DTYPES
@pytest.mark.parametrize("kwargs", GRID, ids=ident)
def test_bitwise_equal_to_torch(kwargs, dtype):
    """两个参数组、部分步里 .grad 为 None：参数、状态、参数组都与 torch 逐位一致。"""
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, _ = train(Adadelta, kwargs, params=p_ours, steps=STEPS, groups=True, none_grad=True)
    theirs, _ = train(TORCH, kwargs, params=p_torch, steps=STEPS, groups=True, none_grad=True)
    assert_bitwise(p_ours, p_torch, "Adadelta")
    assert_same_state(ours, theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


@DTYPES
@pytest.mark.parametrize("rho", [0.0, 1.0])
def test_rho_endpoints(rho, dtype):
    """torch 允许 0 ≤ ρ ≤ 1 的两个端点：ρ = 0 时 v_t = g_t²，ρ = 1 时 v、u 永远为 0。"""
    kw = {"lr": 0.3, "rho": rho, "weight_decay": 0.1}
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, _ = train(Adadelta, kw, params=p_ours, steps=STEPS, groups=True)
    theirs, _ = train(TORCH, kw, params=p_torch, steps=STEPS, groups=True)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_defaults_match_torch():
    """torch 的 lr 默认是 1.0（论文没有学习率，这时与论文相同）。"""
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(Adadelta, {}, params=p_ours, steps=STEPS)
    theirs, _ = train(TORCH, {}, params=p_torch, steps=STEPS)
    assert ours.defaults == theirs.defaults
    assert (ours.defaults["lr"], ours.defaults["rho"], ours.defaults["eps"]) == (1.0, 0.9, 1e-6)
    assert_bitwise(p_ours, p_torch)


@pytest.mark.parametrize("foreach", [None, False, True])
def test_foreach_is_accepted_and_ignored(foreach):
    """optimlab 只有单张量循环：foreach 取任何值，结果都等于 torch 的单张量路径。"""
    kw = {"lr": 0.3, "weight_decay": 0.1}
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(Adadelta, {**kw, "foreach": foreach}, params=p_ours, steps=STEPS, groups=True)
    theirs, _ = train(TORCH, {**kw, "foreach": False}, params=p_torch, steps=STEPS, groups=True)
    assert ours.param_groups[0]["foreach"] is foreach
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_tensor_lr_and_closure():
    p_ours, p_torch = make_params(), make_params()
    kw = {"lr": T([0.3]), "weight_decay": 0.1}
    train(Adadelta, kw, params=p_ours, steps=STEPS, closure=True)
    train(TORCH, kw, params=p_torch, steps=STEPS, closure=True)
    assert_bitwise(p_ours, p_torch)


@pytest.mark.parametrize("cdtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize(
    "kwargs", [{"lr": 0.3}, {"lr": 0.3, "weight_decay": 0.1, "maximize": True, "eps": 1e-3}], ids=ident
)
def test_complex_params(kwargs, cdtype):
    """复数参数：v、u、Δθ 在实数视图上计算，Δθ 转回复数再加到参数上（同 torch）。"""
    results = []
    for cls in (Adadelta, TORCH):
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(6, dtype=cdtype, generator=gen).requires_grad_()
        opt = cls([z], **kwargs)
        for _ in range(STEPS):
            opt.zero_grad()
            (z * z.conj() + 0.3 * z.real**3 - 0.2 * z.imag**2).real.sum().backward()
            opt.step()
        results.append((torch.view_as_real(z.detach()), opt))
    (z_ours, ours), (z_torch, theirs) = results
    assert torch.equal(z_ours, z_torch)
    assert_same_state(ours, theirs)
    assert ours.state[ours.param_groups[0]["params"][0]]["acc_delta"].dtype == cdtype


def test_sparse_gradient_rejected_like_torch():
    def run(cls):
        p = torch.zeros(4, requires_grad=True)
        opt = cls([p])
        p.grad = torch.sparse_coo_tensor([[1]], [1.0], (4,), check_invariants=True)
        opt.step()

    assert outcome(lambda: run(Adadelta)) == outcome(lambda: run(TORCH)) == (
        RuntimeError, "Adadelta does not support sparse gradients")


# ---------------------------------------------------------------- 2. 状态字典

KEYS = ["step", "square_avg", "acc_delta"]  # torch 每个参数的状态键，写死以防两边一起丢键
STATE_CASES = [
    {},
    {"lr": 0.3, "rho": 0.5, "eps": 1e-3, "weight_decay": 0.1, "maximize": True},
]


def transfer(state_dict, via):
    if via == "deepcopy":
        return copy.deepcopy(state_dict)
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@DTYPES
@pytest.mark.parametrize("kwargs", STATE_CASES, ids=ident)
def test_state_layout_matches_torch(kwargs, dtype):
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, _ = train(Adadelta, kwargs, params=p_ours, steps=6, groups=True)
    theirs, _ = train(TORCH, kwargs, params=p_torch, steps=6, groups=True)
    sd, sd_torch = ours.state_dict(), theirs.state_dict()
    assert list(sd["state"]) == list(sd_torch["state"]) == [0, 1, 2]
    for i, st in sd["state"].items():
        assert list(st) == list(sd_torch["state"][i]) == KEYS
        assert st["step"].shape == () and st["step"].dtype == torch.float32
        for key in KEYS[1:]:
            assert st[key].dtype == dtype and st[key].shape == p_ours[i].shape
    assert sd["param_groups"] == sd_torch["param_groups"]
    assert_same_state(ours, theirs)


@DTYPES
@pytest.mark.parametrize("via", ["deepcopy", "torch.save"])
@pytest.mark.parametrize("source", ["torch", "optimlab"])
def test_state_dict_interop(source, via, dtype):
    """一边训练 8 步后存档；optimlab 与 torch 各自载入，再各训练 8 步，与存档方不中断地继续逐位一致。"""
    kwargs = STATE_CASES[-1]
    src_cls = TORCH if source == "torch" else Adadelta
    p_src = make_params(dtype)
    src, _ = train(src_cls, kwargs, params=p_src, steps=8, groups=True)
    saved = src.state_dict()
    runs = []
    for cls in (Adadelta, TORCH):
        params = clone(p_src)
        # 构造参数故意与存档不同：载入的参数组必须覆盖它们
        opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 123.0}], lr=7.0, rho=0.99)
        opt.load_state_dict(transfer(saved, via))
        assert opt.state_dict()["param_groups"] == saved["param_groups"]
        train(cls, {}, params=params, steps=8, start=8, opt=opt)
        runs.append((params, opt))
    train(src_cls, {}, params=p_src, steps=8, start=8, opt=src)
    (p_ours, ours), (p_torch, theirs) = runs
    assert_bitwise(p_ours, p_torch, "载入后")
    assert_bitwise(p_ours, p_src, "与不中断的训练相比")
    assert_same_state(ours, theirs)
    assert_same_state(ours, src)


def test_legacy_state_dict_is_upgraded_like_torch():
    """旧存档：step 是 Python 数、参数组缺少后来加入的键。两边载入后补齐的结果与继续训练都相同。"""
    p_src = make_params()
    src, _ = train(TORCH, {"lr": 0.3, "weight_decay": 0.1}, params=p_src, steps=5, none_grad=False)
    saved = copy.deepcopy(src.state_dict())
    for st in saved["state"].values():
        st["step"] = float(st["step"].item())
    for key in ("foreach", "maximize", "differentiable", "capturable"):
        del saved["param_groups"][0][key]
    runs = []
    for cls in (Adadelta, TORCH):
        params = clone(p_src)
        opt = cls(params, lr=0.1, maximize=True)
        opt.load_state_dict(copy.deepcopy(saved))
        assert torch.is_tensor(opt.state_dict()["state"][0]["step"])
        train(cls, {}, params=params, steps=6, start=5, opt=opt)
        runs.append((params, opt))
    (p_ours, ours), (p_torch, theirs) = runs
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]
    assert ours.param_groups[0]["maximize"] is False  # 补的是 torch 的默认值，不是构造参数
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


# ---------------------------------------------------------------- 3. 非法输入

_P = torch.zeros(3, requires_grad=True)
INVALID = [
    {"lr": -0.1},
    {"lr": T([0.1, 0.2])},
    {"lr": T(-0.1)},
    {"lr": float("nan")},
    {"lr": "0.1"},
    {"rho": -0.1},
    {"rho": 1.0 + 1e-9},
    {"rho": float("nan")},
    {"rho": T([0.9, 0.8])},
    {"eps": -1e-8},
    {"eps": float("nan")},
    {"weight_decay": -1e-2},
    {"weight_decay": float("nan")},
    # 同时有多处错误：报告的是 torch 先检查的那一个（lr → rho → eps → weight_decay）
    {"lr": -1.0, "rho": 2.0},
    {"rho": 2.0, "eps": -1.0},
    {"eps": -1.0, "weight_decay": -1.0},
    # 参数列表本身（由基类 torch.optim.Optimizer 检查）
    {"__params__": []},
    {"__params__": torch.zeros(3)},
    {"__params__": [torch.zeros(3, requires_grad=True) * 2]},
    {"__params__": [{"params": [_P]}, {"params": [_P]}]},
    {"__params__": [{"lr": 0.1}]},  # 参数组没有 "params" 键
]


def construct(cls, kwargs):
    kwargs = dict(kwargs)
    params = kwargs.pop("__params__", [torch.zeros(3, requires_grad=True)])
    return lambda: cls(params, **kwargs)


@pytest.mark.parametrize("kwargs", INVALID, ids=lambda kw: repr(kw).replace("\n", ""))
def test_invalid_argument_same_error_as_torch(kwargs):
    theirs = outcome(construct(TORCH, kwargs))
    assert theirs[0] != "ok", "torch 接受了这个参数，用例本身写错了"
    assert outcome(construct(Adadelta, kwargs)) == theirs


VALID_EDGES = [
    {"lr": 0.0},
    {"rho": 0.0},
    {"rho": 1.0},
    {"eps": 0.0},
    {"weight_decay": 0.0},
    {"lr": T([0.3])},
    {"foreach": True},
    {"foreach": False},
]


@pytest.mark.parametrize("kwargs", VALID_EDGES, ids=repr)
def test_valid_edge_accepted_by_both(kwargs):
    assert outcome(construct(TORCH, kwargs)) == outcome(construct(Adadelta, kwargs)) == ("ok", None)


def test_exact_messages():
    """几条写死的信息，防止两边"一起变"而对照测试察觉不到。"""
    p = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0\.1$"):
        Adadelta(p, lr=-0.1)
    with pytest.raises(ValueError, match=r"^Invalid rho value: 1\.5$"):
        Adadelta(p, rho=1.5)
    with pytest.raises(ValueError, match=r"^Invalid epsilon value: -1$"):
        Adadelta(p, eps=-1)


@pytest.mark.parametrize("flag", ["capturable", "differentiable"])
def test_unsupported_flags_raise(flag):
    """torch 接受这两个开关；optimlab 明确拒绝，而不是悄悄给出不同的行为。"""
    assert outcome(lambda: TORCH([torch.zeros(2, requires_grad=True)], **{flag: True})) == ("ok", None)
    with pytest.raises(NotImplementedError, match=rf"^optimlab\.Adadelta 不支持 {flag}=True"):
        Adadelta([torch.zeros(2, requires_grad=True)], **{flag: True})
    opt = Adadelta([torch.zeros(2, requires_grad=True)])
    q = torch.zeros(2, requires_grad=True)
    opt.add_param_group({"params": [q], flag: True})
    q.grad = torch.ones(2)
    with pytest.raises(NotImplementedError, match=flag):
        opt.step()


# ---------------------------------------------------------------- 4. Adadelta 特有


def per_step(cls, kwargs, steps, dtype=torch.float64):
    """单个参数、手工设定的梯度；返回每一步之后的参数。"""
    p = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0], dtype=dtype)  # 梯度手工给定，无需 requires_grad
    opt = cls([p], **kwargs)
    out = []
    for k in range(steps):
        p.grad = torch.sin(3 * p) + 0.1 * k
        opt.step()
        out.append(p.clone())
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kwargs", [{"lr": 0.1}, {"lr": 0.1, "weight_decay": 0.1, "maximize": True}], ids=ident)
def test_rho_one_is_plain_sgd(kwargs, dtype):
    """ρ = 1：v、u 永远为 0，√ε/√ε = 1，Adadelta 与 torch.optim.SGD（lr 相同）逐步逐位一致。"""
    sgd = per_step(torch.optim.SGD, kwargs, STEPS, dtype)
    for cls in (TORCH, Adadelta):
        assert all(torch.equal(a, b) for a, b in zip(per_step(cls, {**kwargs, "rho": 1.0}, STEPS, dtype), sgd)), cls


def test_step_counter_is_not_used():
    """状态 step 只计数：把存档里的 step 改成 1000，torch 继续训练的结果不变，optimlab 也一样。"""
    p_src = make_params(torch.float64)
    src, _ = train(TORCH, {"lr": 0.3}, params=p_src, steps=4, none_grad=False)
    saved = copy.deepcopy(src.state_dict())
    for st in saved["state"].values():
        st["step"] = torch.tensor(1000.0)
    runs = []
    for cls in (Adadelta, TORCH):
        params = clone(p_src)
        opt = cls(params)
        opt.load_state_dict(copy.deepcopy(saved))
        train(cls, {}, params=params, steps=4, start=4, opt=opt, none_grad=False)
        runs.append(params)
    train(TORCH, {}, params=p_src, steps=4, start=4, opt=src, none_grad=False)
    assert_bitwise(runs[0], runs[1])
    assert_bitwise(runs[1], p_src, "改了 step")


def test_first_step_is_set_by_eps():
    """u₀ = 0：第一步 |Δθ₁| = √ε·|g|/√((1−ρ)g² + ε)，随 ε 变化（torch 给出，optimlab 逐步相同）。"""
    for eps in (1e-6, 1e-2):
        ours = per_step(Adadelta, {"eps": eps}, STEPS)
        theirs = per_step(TORCH, {"eps": eps}, STEPS)
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    small = per_step(TORCH, {"eps": 1e-6}, 1)[0]
    start = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0], dtype=torch.float64)
    assert (small - start).abs().max().item() < 1e-2  # √(1e-6 / 0.1) ≈ 3e-3：最初的步长由 ε 决定


def test_torch_differentiable_branch_gives_the_same_numbers():
    """torch 的 differentiable=True 分支（多一次 ``delta.clone()``）与默认分支、与 optimlab 数值相同。"""
    kw = {"lr": 0.3, "weight_decay": 0.1, "eps": 1e-3}
    ours = per_step(Adadelta, kw, 8)
    for flag in (False, True):
        theirs = per_step(TORCH, {**kw, "differentiable": flag}, 8)
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
