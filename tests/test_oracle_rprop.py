"""optimlab 的 Rprop 与 torch.optim.Rprop 逐位对照：选项网格、状态字典互通、非法输入、iRprop− 的行为。"""

import copy
import io

import pytest
import torch

from oracle import assert_bitwise, assert_same_state, make_params, outcome, product, train
from optimlab.optim.rprop import Rprop

TorchRprop = torch.optim.Rprop
T = torch.tensor
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
STEPS = 12

# step_sizes=(2e-3, 0.05)：lr=0.2 时第一步就被 Δmax 截断，etas=(0.3, 1.5) 时几次翻转后碰到 Δmin。
GRID = product(
    lr=[0.01, 0.2],
    etas=[(0.5, 1.2), (0.3, 1.5)],
    step_sizes=[(1e-6, 50), (2e-3, 0.05)],
    maximize=[False, True],
)


def case_id(kw):
    return "-".join(f"{k}={v!r}".replace("\n", "") for k, v in kw.items())


@DTYPES
@pytest.mark.parametrize("kwargs", GRID, ids=[case_id(kw) for kw in GRID])
def test_bitwise_equal_to_torch(kwargs, dtype):
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, _ = train(Rprop, kwargs, params=p_ours, steps=STEPS, groups=True, none_grad=True)
    theirs, _ = train(TorchRprop, kwargs, params=p_torch, steps=STEPS, groups=True, none_grad=True)
    assert_bitwise(p_ours, p_torch, "Rprop")
    assert_same_state(ours, theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]
    # 网格真的走到了"符号翻转 → 梯度置 0"的分支
    assert any((theirs.state[p]["prev"] == 0).any() for p in p_torch)


def test_step_size_clamps_are_exercised():
    """Δmax 与 Δmin 两个截断都真的发生了（两边一致由上面的网格保证）。"""
    lo, hi = 2e-3, 0.05
    params = make_params(torch.float64)
    opt, _ = train(TorchRprop, {"lr": 0.2, "etas": (0.3, 1.5), "step_sizes": (lo, hi)}, params=params, steps=STEPS)
    sizes = torch.cat([opt.state[p]["step_size"].flatten() for p in params])
    assert (sizes == hi).any() and (sizes == lo).any()


def test_default_constructor_matches_torch():
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(Rprop, {}, params=p_ours, steps=STEPS)
    theirs, _ = train(TorchRprop, {}, params=p_torch, steps=STEPS)
    assert ours.defaults == theirs.defaults
    assert_bitwise(p_ours, p_torch)


@pytest.mark.parametrize("lr", [T(0.05), T([0.05])], ids=["0d", "1elem"])
def test_tensor_lr(lr):
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(Rprop, {"lr": lr}, params=p_ours, steps=STEPS, groups=True)
    theirs, _ = train(TorchRprop, {"lr": lr}, params=p_torch, steps=STEPS, groups=True)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_complex_params():
    results = []
    for cls in (Rprop, TorchRprop):
        z = torch.randn(6, dtype=torch.complex64, generator=torch.Generator().manual_seed(0)).requires_grad_()
        opt = cls([z], lr=0.05)
        for _ in range(STEPS):
            opt.zero_grad()
            (z * z.conj() + 0.3 * z.real**3 - z.imag).real.sum().backward()
            opt.step()
        results.append((z, opt.state[z]["step_size"]))
    (z_ours, s_ours), (z_torch, s_torch) = results
    assert torch.equal(torch.view_as_real(z_ours), torch.view_as_real(z_torch))
    assert s_torch.is_complex() and torch.equal(torch.view_as_real(s_ours), torch.view_as_real(s_torch))


def test_foreach_is_accepted_and_ignored():
    finals = []
    for foreach in (None, False, True):
        params = make_params()
        train(Rprop, {"lr": 0.05, "foreach": foreach}, params=params, steps=5)
        finals.append(params)
    p_torch = make_params()
    train(TorchRprop, {"lr": 0.05}, params=p_torch, steps=5)
    for params in finals:
        assert_bitwise(params, p_torch)


# ---------------------------------------------------------------- 状态字典

KW = {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.1)}


@DTYPES
def test_state_layout_matches_torch(dtype):
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, _ = train(Rprop, KW, params=p_ours, steps=6, groups=True)
    theirs, _ = train(TorchRprop, KW, params=p_torch, steps=6, groups=True)
    sd_ours, sd_torch = ours.state_dict(), theirs.state_dict()
    assert list(sd_ours["state"]) == list(sd_torch["state"]) == [0, 1, 2]
    for i, st in sd_torch["state"].items():
        assert list(st) == ["step", "prev", "step_size"]
        assert list(sd_ours["state"][i]) == list(st)
        assert st["step"].shape == () and st["step"].dtype == torch.float32
        for key in ("prev", "step_size"):
            assert st[key].dtype == dtype and st[key].shape == p_torch[i].shape
    assert_same_state(ours, theirs)


def test_scalar_state_dtype_follows_default_dtype():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        p_ours, p_torch = make_params(torch.float64), make_params(torch.float64)
        ours, _ = train(Rprop, KW, params=p_ours, steps=5)
        theirs, _ = train(TorchRprop, KW, params=p_torch, steps=5)
    finally:
        torch.set_default_dtype(old)
    assert theirs.state_dict()["state"][0]["step"].dtype == torch.float64
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def transfer(state_dict, via):
    if via == "deepcopy":
        return copy.deepcopy(state_dict)
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def load_fresh(cls, saved, params_src, via):
    params = [p.detach().clone().requires_grad_() for p in params_src]
    # 构造参数故意与存档不同：载入的参数组必须覆盖它们
    opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 123.0}], lr=9.0, etas=(0.9, 1.01))
    opt.load_state_dict(transfer(saved, via))
    assert opt.state_dict()["param_groups"] == saved["param_groups"]
    return params, opt


@DTYPES
@pytest.mark.parametrize("via", ["deepcopy", "torch.save"])
@pytest.mark.parametrize("src_cls", [TorchRprop, Rprop], ids=["torch->both", "optimlab->both"])
def test_state_dict_interop(src_cls, via, dtype):
    """一方训练 6 步后存档；optimlab 与 torch 各自载入同一份存档，再各训练 6 步，逐位一致。"""
    params_src = make_params(dtype)
    src, _ = train(src_cls, KW, params=params_src, steps=6, groups=True)
    saved = src.state_dict()
    p_ours, ours = load_fresh(Rprop, saved, params_src, via)
    p_torch, theirs = load_fresh(TorchRprop, saved, params_src, via)
    assert_same_state(ours, theirs)
    train(Rprop, {}, params=p_ours, steps=6, start=6, opt=ours)
    train(TorchRprop, {}, params=p_torch, steps=6, start=6, opt=theirs)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)
    # Rprop 的状态里没有 dtype 会被载入改变的标量：存档、载入、继续 = 不中断地训练 12 步
    p_straight = make_params(dtype)
    train(TorchRprop, KW, params=p_straight, steps=12, groups=True)
    assert_bitwise(p_ours, p_straight)


def test_legacy_python_float_step_is_converted():
    params = make_params()
    src, _ = train(TorchRprop, KW, params=params, steps=5, none_grad=False)
    saved = copy.deepcopy(src.state_dict())
    for st in saved["state"].values():
        st["step"] = float(st["step"].item())
    results = []
    for cls in (Rprop, TorchRprop):
        p = [q.detach().clone().requires_grad_() for q in params]
        opt = cls(p)
        opt.load_state_dict(copy.deepcopy(saved))
        st = opt.state_dict()["state"][0]
        assert torch.is_tensor(st["step"]) and st["step"].item() == 5.0
        train(cls, {}, params=p, steps=5, start=5, opt=opt)
        results.append((p, opt))
    assert_bitwise(results[0][0], results[1][0])
    assert_same_state(results[0][1], results[1][1])


# ---------------------------------------------------------------- 非法输入

INVALID = [
    {"lr": -0.1},
    {"lr": T([0.1, 0.2])},
    {"lr": T(-0.1)},
    {"lr": float("nan")},
    {"etas": (1.0, 1.2)},
    {"etas": (0.0, 1.2)},
    {"etas": (-0.5, 1.2)},
    {"etas": (0.5, 1.0)},
    {"etas": (0.5, 0.9)},
    {"etas": (1.5, 0.5)},
    {"etas": (float("nan"), 1.2)},
    {"lr": -0.1, "etas": (2.0, 0.5)},  # 先报 lr
    {"__params__": []},
    {"__params__": torch.zeros(3)},
    {"__params__": [torch.zeros(3, requires_grad=True) * 2]},
]
# torch 不检查 step_sizes：反过来的、负的都接受。
VALID_EDGES = [
    {"lr": 0.0},
    {"lr": T([0.01])},
    {"etas": (1e-9, 1.0 + 1e-9)},
    {"step_sizes": (50.0, 1e-6)},
    {"step_sizes": (-1.0, -2.0)},
    {"foreach": True},
]


def construct(cls, kwargs):
    kwargs = dict(kwargs)
    params = kwargs.pop("__params__", [torch.zeros(3, requires_grad=True)])
    return lambda: cls(params, **kwargs)


@pytest.mark.parametrize("kwargs", INVALID, ids=[case_id(kw) for kw in INVALID])
def test_invalid_argument_same_error_as_torch(kwargs):
    theirs = outcome(construct(TorchRprop, kwargs))
    assert theirs[0] != "ok", "torch 接受了这个参数，用例本身写错了"
    assert outcome(construct(Rprop, kwargs)) == theirs


@pytest.mark.parametrize("kwargs", VALID_EDGES, ids=[case_id(kw) for kw in VALID_EDGES])
def test_valid_edge_accepted_by_both(kwargs):
    assert outcome(construct(TorchRprop, kwargs)) == ("ok", None)
    assert outcome(construct(Rprop, kwargs)) == ("ok", None)


def test_exact_messages():
    with pytest.raises(ValueError, match=r"^Invalid eta values: 1\.0, 1\.2$"):
        Rprop([torch.zeros(1, requires_grad=True)], etas=(1.0, 1.2))
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0\.1$"):
        Rprop([torch.zeros(1, requires_grad=True)], lr=-0.1)


def test_positional_keyword_only_like_torch():
    """torch 的 capturable 之后全是仅限关键字的参数；多传一个位置参数两边报同样的 TypeError。"""
    args = ([torch.zeros(1, requires_grad=True)], 0.1, (0.5, 1.2), (1e-6, 50), False)
    theirs = outcome(lambda: TorchRprop(*args))
    assert theirs[0] is TypeError
    assert outcome(lambda: Rprop(*args)) == theirs


def test_reversed_step_sizes_clamp_to_max_like_torch():
    """Δmin > Δmax 时 clamp 得到 Δmax：两边都不报错，结果逐位一致。"""
    kw = {"lr": 0.01, "step_sizes": (0.03, 0.02)}
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(Rprop, kw, params=p_ours, steps=4)
    theirs, _ = train(TorchRprop, kw, params=p_torch, steps=4)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)
    assert (theirs.state[p_torch[0]]["step_size"] == torch.tensor(0.02)).all()


@pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")
def test_sparse_gradient_refused_like_torch():
    results = []
    for cls in (Rprop, TorchRprop):
        emb = torch.nn.Embedding(5, 2, sparse=True)
        opt = cls(emb.parameters())
        emb(torch.tensor([0, 2, 2])).sum().backward()
        results.append(outcome(opt.step))
    assert results[1] == (RuntimeError, "Rprop does not support sparse gradients")
    assert results[0] == results[1]


@pytest.mark.parametrize("flag", ["capturable", "differentiable"])
def test_unsupported_flags_raise_not_implemented(flag):
    with pytest.raises(NotImplementedError) as info:
        Rprop([torch.zeros(2, requires_grad=True)], **{flag: True})
    assert str(info.value) == (
        f"optimlab.Rprop 不支持 {flag}=True：optimlab 只有一份逐个张量更新的"
        f"易读实现；需要 {flag} 时请用 torch.optim.Rprop"
    )
    p, q = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = Rprop([p])
    opt.add_param_group({"params": [q], flag: True})
    p.grad, q.grad = torch.ones(2), torch.ones(2)
    with pytest.raises(NotImplementedError, match=f"不支持 {flag}=True"):
        opt.step()


# ---------------------------------------------------------------- 算法本身

def test_sign_change_skips_the_step_irprop_minus():
    """符号翻转：步长乘 η₋，这一步不动，也不撤回上一步；下一步乘积为 0，步长不变（iRprop−）。"""
    grads = [1.0, -1.0, 1.0, 1.0, -3.0, 0.5]
    trajectories = []
    for cls in (Rprop, TorchRprop):
        p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = cls([p], lr=0.1, etas=(0.5, 1.2))
        traj = []
        for g in grads:
            p.grad = torch.tensor([g], dtype=torch.float64)
            opt.step()
            traj.append((p.item(), opt.state[p]["step_size"].item(), opt.state[p]["prev"].item()))
        trajectories.append(traj)
    assert trajectories[0] == trajectories[1]
    expected = [  # (θ_t, Δ_t, g̃_t)
        (-0.1, 0.1, 1.0),  # 第一步：prev = 0，Δ = lr
        (-0.1, 0.05, 0.0),  # 翻转：Δ × 0.5，不动，不撤回，g̃ = 0
        (-0.15, 0.05, 1.0),  # 乘积为 0：Δ 不变
        (-0.21, 0.06, 1.0),  # 同号：Δ × 1.2
        (-0.21, 0.03, 0.0),  # 翻转（幅度无关，只看符号）
        (-0.24, 0.03, 0.5),
    ]
    for got, want in zip(trajectories[1], expected, strict=True):
        assert got == pytest.approx(want, abs=1e-12)


def test_lr_scheduler_has_no_effect_after_first_step():
    """lr 只在创建状态时用作 Δ₀；之后调度器改 lr 不改变任何结果（torch 如此，optimlab 相同）。"""
    sched = lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)  # noqa: E731
    p_plain, p_torch, p_ours = make_params(), make_params(), make_params()
    train(TorchRprop, {"lr": 0.05}, params=p_plain, steps=8, none_grad=False)
    train(TorchRprop, {"lr": 0.05}, params=p_torch, steps=8, scheduler=sched, none_grad=False)
    ours, _ = train(Rprop, {"lr": 0.05}, params=p_ours, steps=8, scheduler=sched, none_grad=False)
    assert ours.param_groups[0]["lr"] < 1e-8
    assert_bitwise(p_torch, p_plain)
    assert_bitwise(p_ours, p_torch)


def test_closure_and_add_param_group():
    results = []
    for cls in (Rprop, TorchRprop):
        params = make_params()
        opt = cls(params[:2], lr=0.05)
        train(cls, {}, params=params, steps=4, opt=opt, none_grad=False, closure=True)
        opt.add_param_group({"params": params[2:], "lr": 0.02, "etas": (0.3, 1.5)})
        train(cls, {}, params=params, steps=6, start=4, opt=opt, closure=True)
        results.append((params, opt))
    assert_bitwise(results[0][0], results[1][0])
    assert_same_state(results[0][1], results[1][1])
