"""optimlab 的 Adamax 与 torch.optim.Adamax 逐位对照：选项网格、状态字典互通、非法输入、ε 的位置与无穷范数。"""

import copy
import io

import pytest
import torch

from oracle import assert_bitwise, assert_same_state, make_params, outcome, product, train
from optimlab.optim.adamax import Adamax

TORCH = torch.optim.Adamax
T = torch.tensor
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
STEPS = 12

GRID = product(
    lr=[0.01],
    betas=[(0.9, 0.999), (0.5, 0.9)],
    eps=[1e-8, 1e-2],  # 1e-2 与梯度同量级：ε 加错位置就不再逐位一致
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
    ours, _ = train(Adamax, kwargs, params=p_ours, steps=STEPS, groups=True, none_grad=True)
    theirs, _ = train(TORCH, kwargs, params=p_torch, steps=STEPS, groups=True, none_grad=True)
    assert_bitwise(p_ours, p_torch, "Adamax")
    assert_same_state(ours, theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


def test_defaults_match_torch():
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(Adamax, {}, params=p_ours, steps=STEPS)
    theirs, _ = train(TORCH, {}, params=p_torch, steps=STEPS)
    assert ours.defaults == theirs.defaults
    assert ours.defaults["lr"] == 2e-3 and ours.defaults["betas"] == (0.9, 0.999)
    assert_bitwise(p_ours, p_torch)


@pytest.mark.parametrize("foreach", [None, False, True])
def test_foreach_is_accepted_and_ignored(foreach):
    """optimlab 只有单张量循环：foreach 取任何值，结果都等于 torch 的单张量路径。"""
    kw = {"lr": 0.01, "weight_decay": 0.1}
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(Adamax, {**kw, "foreach": foreach}, params=p_ours, steps=STEPS, groups=True)
    theirs, _ = train(TORCH, {**kw, "foreach": False}, params=p_torch, steps=STEPS, groups=True)
    assert ours.param_groups[0]["foreach"] is foreach
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_tensor_lr_and_closure():
    p_ours, p_torch = make_params(), make_params()
    kw = {"lr": T([0.01]), "weight_decay": 0.1}
    train(Adamax, kw, params=p_ours, steps=STEPS, closure=True)
    train(TORCH, kw, params=p_torch, steps=STEPS, closure=True)
    assert_bitwise(p_ours, p_torch)


@pytest.mark.parametrize("cdtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize(
    "kwargs", [{"lr": 0.01}, {"lr": 0.01, "weight_decay": 0.1, "maximize": True, "eps": 1e-2}], ids=ident
)
def test_complex_params(kwargs, cdtype):
    """复数参数按 view_as_real 当成两倍长的实数参数（同 torch）。"""
    results = []
    for cls in (Adamax, TORCH):
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
    assert ours.state[ours.param_groups[0]["params"][0]]["exp_inf"].dtype == cdtype


def test_sparse_gradient_rejected_like_torch():
    def run(cls):
        p = torch.zeros(4, requires_grad=True)
        opt = cls([p])
        p.grad = torch.sparse_coo_tensor([[1]], [1.0], (4,), check_invariants=True)
        opt.step()

    assert outcome(lambda: run(Adamax)) == outcome(lambda: run(TORCH)) == (
        RuntimeError, "Adamax does not support sparse gradients")


# ---------------------------------------------------------------- 2. 状态字典

KEYS = ["step", "exp_avg", "exp_inf"]  # torch 每个参数的状态键，写死以防两边一起丢键
STATE_CASES = [
    {"lr": 0.01},
    {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-2, "weight_decay": 0.1, "maximize": True},
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
    ours, _ = train(Adamax, kwargs, params=p_ours, steps=6, groups=True)
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
    src_cls = TORCH if source == "torch" else Adamax
    p_src = make_params(dtype)
    src, _ = train(src_cls, kwargs, params=p_src, steps=8, groups=True)
    saved = src.state_dict()
    runs = []
    for cls in (Adamax, TORCH):
        params = clone(p_src)
        # 构造参数故意与存档不同：载入的参数组必须覆盖它们
        opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 123.0}], lr=7.0)
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
    src, _ = train(TORCH, {"lr": 0.01, "weight_decay": 0.1}, params=p_src, steps=5, none_grad=False)
    saved = copy.deepcopy(src.state_dict())
    for st in saved["state"].values():
        st["step"] = float(st["step"].item())
    for key in ("foreach", "maximize", "differentiable", "capturable"):
        del saved["param_groups"][0][key]
    runs = []
    for cls in (Adamax, TORCH):
        params = clone(p_src)
        opt = cls(params, lr=0.5, maximize=True)
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
    {"eps": -1e-8},
    {"eps": float("nan")},
    {"betas": (1.0, 0.999)},
    {"betas": (-0.1, 0.999)},
    {"betas": (0.9, 1.0)},
    {"betas": (0.9, -1e-3)},
    {"betas": (float("nan"), 0.999)},
    {"betas": (0.9,)},
    {"betas": (T([0.9, 0.8]), 0.999)},
    {"weight_decay": -1e-2},
    {"weight_decay": float("nan")},
    # 同时有多处错误：报告的是 torch 先检查的那一个
    {"lr": -1.0, "eps": -1.0},
    {"eps": -1.0, "betas": (2.0, 0.999)},
    {"betas": (1.5, 1.5)},
    {"betas": (0.9, 2.0), "weight_decay": -1.0},
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
    assert outcome(construct(Adamax, kwargs)) == theirs


VALID_EDGES = [
    {"lr": 0.0},
    {"eps": 0.0},
    {"betas": (0.0, 0.0)},
    {"weight_decay": 0.0},
    {"lr": T([0.01])},
    {"foreach": True},
    {"foreach": False},
]


@pytest.mark.parametrize("kwargs", VALID_EDGES, ids=repr)
def test_valid_edge_accepted_by_both(kwargs):
    assert outcome(construct(TORCH, kwargs)) == outcome(construct(Adamax, kwargs)) == ("ok", None)


def test_exact_messages():
    """几条写死的信息，防止两边"一起变"而对照测试察觉不到。"""
    p = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0\.1$"):
        Adamax(p, lr=-0.1)
    with pytest.raises(ValueError, match=r"^Invalid epsilon value: -1$"):
        Adamax(p, eps=-1)
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 0: 1\.0$"):
        Adamax(p, betas=(1.0, 0.999))


@pytest.mark.parametrize("flag", ["capturable", "differentiable"])
def test_unsupported_flags_raise(flag):
    """torch 接受这两个开关；optimlab 明确拒绝，而不是悄悄给出不同的行为。"""
    assert outcome(lambda: TORCH([torch.zeros(2, requires_grad=True)], **{flag: True})) == ("ok", None)
    with pytest.raises(NotImplementedError, match=rf"^optimlab\.Adamax 不支持 {flag}=True"):
        Adamax([torch.zeros(2, requires_grad=True)], **{flag: True})
    opt = Adamax([torch.zeros(2, requires_grad=True)])
    q = torch.zeros(2, requires_grad=True)
    opt.add_param_group({"params": [q], flag: True})
    q.grad = torch.ones(2)
    with pytest.raises(NotImplementedError, match=flag):
        opt.step()


# ---------------------------------------------------------------- 4. Adamax 特有：u_t 与 ε


def per_step(cls, kwargs, grads, p0, key="exp_inf"):
    """给定每一步的梯度；返回每一步之后的 (参数, 状态 key)。"""
    p = p0.clone()  # 梯度手工给定，无需 requires_grad
    opt = cls([p], **kwargs)
    out = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        out.append((p.clone(), opt.state[p][key].clone()))
    return out


def test_zero_gradient_coordinate_has_u_equal_eps_and_never_moves():
    """ε 加在取最大值之前：梯度恒为 0 的坐标 u_t ≡ ε、更新为 0（论文的公式在这里是 0/0）。"""
    eps = 1e-3
    p0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    grads = [torch.tensor([0.3 * (-1) ** k, 0.0, 1e-4 * k], dtype=torch.float64) for k in range(STEPS)]
    ours = per_step(Adamax, {"lr": 0.1, "eps": eps}, grads, p0)
    theirs = per_step(TORCH, {"lr": 0.1, "eps": eps}, grads, p0)
    for (p_o, u_o), (p_t, u_t) in zip(ours, theirs):
        assert torch.equal(p_o, p_t) and torch.equal(u_o, u_t)
        assert u_t[1].item() == eps and p_t[1].item() == -2.0
        assert u_t[2].item() >= eps  # |g| < ε 的坐标：u_t 被 ε 托住
    # |g| ≫ ε 的坐标：第一步 u₁ = |g₁| + ε（取最大值之前加 ε），不是 |g₁|
    assert theirs[0][1][0].item() == 0.3 + eps


def test_infinity_norm_forgets_old_maxima_at_rate_beta2():
    """一次大梯度之后全是小梯度：u_t 按 β₂ 几何衰减，直到被新的 |g| + ε 超过（torch 逐步给出，optimlab 相同）。"""
    p0 = torch.zeros(2, dtype=torch.float64)
    grads = [torch.tensor([10.0, 1.0], dtype=torch.float64)] + [torch.tensor([0.5, 1.0], dtype=torch.float64)] * 11
    kw = {"lr": 0.01, "betas": (0.9, 0.5), "eps": 0.0}
    ours, theirs = per_step(Adamax, kw, grads, p0), per_step(TORCH, kw, grads, p0)
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(ours, theirs))
    u_first = [u[0].item() for _, u in theirs]
    assert u_first[:5] == [10.0, 5.0, 2.5, 1.25, 0.625] and u_first[5:] == [0.5] * 7
    assert [u[1].item() for _, u in theirs] == [1.0] * STEPS


def test_complex_uses_componentwise_abs_not_modulus():
    """复数参数：u 是实部、虚部各自的 |·| + ε，而不是复数的模（由 torch 给出，optimlab 相同）。"""
    p0 = torch.tensor([1 + 1j, -2 + 0.5j], dtype=torch.complex128)
    g = torch.tensor([3 - 4j, 0.5 + 0j], dtype=torch.complex128)
    (_, u_ours), = per_step(Adamax, {"eps": 1e-3}, [g], p0)
    (_, u_torch), = per_step(TORCH, {"eps": 1e-3}, [g], p0)
    assert torch.equal(u_ours, u_torch)
    assert torch.equal(torch.view_as_real(u_torch), torch.view_as_real(g).abs() + 1e-3)  # 不是 |3−4i| = 5


def test_torch_differentiable_branch_gives_the_same_numbers():
    """torch 的 differentiable=True 分支（``norm_buf = cat(...)`` 再 ``amax``）与 ``torch.maximum`` 分支、与 optimlab 相同。"""
    gen = torch.Generator().manual_seed(1)
    p0 = torch.randn(7, dtype=torch.float64, generator=gen)
    grads = [torch.randn(7, dtype=torch.float64, generator=gen) * 10.0 ** (-k % 3) for k in range(STEPS)]
    kw = {"lr": 0.05, "weight_decay": 0.1, "eps": 1e-2, "maximize": True}
    ours = per_step(Adamax, kw, grads, p0)
    for flag in (False, True):
        theirs = per_step(TORCH, {**kw, "differentiable": flag}, grads, p0)
        assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(ours, theirs))
