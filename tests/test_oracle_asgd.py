"""optimlab 的 ASGD 与 torch.optim.ASGD 逐位对照：选项网格、状态字典互通、非法输入、平均与步长调度。"""

import copy
import io

import pytest
import torch

from oracle import assert_bitwise, assert_same_state, loss_fn, make_params, outcome, product, train
from optimlab.optim.asgd import ASGD

TorchASGD = torch.optim.ASGD
T = torch.tensor
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
STEPS = 12

# t0=3 让平均在 12 步之内开始（默认 1e6 时 ax 只是参数的拷贝）；lambd=0.05 让衰减项与调度看得出来。
GRID = product(
    lr=[0.05],
    lambd=[1e-4, 0.05],
    alpha=[0.75, 0.5],
    t0=[1e6, 3.0],
    weight_decay=[0.0, 0.1],
    maximize=[False, True],
)


def case_id(kw):
    return "-".join(f"{k}={v!r}".replace("\n", "") for k, v in kw.items())


@DTYPES
@pytest.mark.parametrize("kwargs", GRID, ids=[case_id(kw) for kw in GRID])
def test_bitwise_equal_to_torch(kwargs, dtype):
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, _ = train(ASGD, kwargs, params=p_ours, steps=STEPS, groups=True, none_grad=True)
    theirs, _ = train(TorchASGD, kwargs, params=p_torch, steps=STEPS, groups=True, none_grad=True)
    assert_bitwise(p_ours, p_torch, "ASGD")
    assert_same_state(ours, theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]
    ax = theirs.state[p_torch[0]]["ax"]
    # 网格真的覆盖了"平均已开始"与"平均未开始"两种情形
    assert torch.equal(ax, p_torch[0].detach()) == (kwargs["t0"] > STEPS)


def test_default_constructor_matches_torch():
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(ASGD, {}, params=p_ours, steps=STEPS)
    theirs, _ = train(TorchASGD, {}, params=p_torch, steps=STEPS)
    assert ours.defaults == theirs.defaults
    assert_bitwise(p_ours, p_torch)


@pytest.mark.parametrize("lr", [T(0.05), T([0.05])], ids=["0d", "1elem"])
def test_tensor_lr(lr):
    kw = {"lr": lr, "t0": 2.0, "lambd": 0.05}
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(ASGD, kw, params=p_ours, steps=STEPS)
    theirs, _ = train(TorchASGD, kw, params=p_torch, steps=STEPS)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_closure_and_scheduler():
    """lr 调度：第 t 步用的 η_t 是上一步末尾按当时的 lr 算的；两边一致。"""
    kw = {"lr": 0.1, "t0": 2.0, "lambd": 0.05}
    sched = lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)  # noqa: E731
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(ASGD, kw, params=p_ours, steps=STEPS, closure=True, scheduler=sched, groups=True)
    theirs, _ = train(TorchASGD, kw, params=p_torch, steps=STEPS, closure=True, scheduler=sched, groups=True)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_complex_params():
    results = []
    for cls in (ASGD, TorchASGD):
        z = torch.randn(6, dtype=torch.complex64, generator=torch.Generator().manual_seed(0)).requires_grad_()
        opt = cls([z], lr=0.05, weight_decay=0.1, lambd=0.05, t0=2.0)
        for _ in range(STEPS):
            opt.zero_grad()
            (z * z.conj() + 0.3 * z.real**3).real.sum().backward()
            opt.step()
        results.append((z, opt.state[z]["ax"]))
    (z_ours, ax_ours), (z_torch, ax_torch) = results
    assert torch.equal(torch.view_as_real(z_ours), torch.view_as_real(z_torch))
    assert ax_torch.is_complex() and torch.equal(torch.view_as_real(ax_ours), torch.view_as_real(ax_torch))


def test_foreach_is_accepted_and_ignored():
    """foreach=True/False/None 三者逐位相同，都等于 torch 的默认（CPU 上的单张量循环）。"""
    finals = []
    for foreach in (None, False, True):
        params = make_params()
        train(ASGD, {"lr": 0.05, "t0": 2.0, "foreach": foreach}, params=params, steps=5)
        finals.append(params)
    p_torch = make_params()
    train(TorchASGD, {"lr": 0.05, "t0": 2.0}, params=p_torch, steps=5)
    for params in finals:
        assert_bitwise(params, p_torch)


# ---------------------------------------------------------------- 状态字典

KW = {"lr": 0.05, "lambd": 0.05, "t0": 3.0, "weight_decay": 0.1}


@DTYPES
def test_state_layout_matches_torch(dtype):
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, _ = train(ASGD, KW, params=p_ours, steps=6, groups=True)
    theirs, _ = train(TorchASGD, KW, params=p_torch, steps=6, groups=True)
    sd_ours, sd_torch = ours.state_dict(), theirs.state_dict()
    assert list(sd_ours["state"]) == list(sd_torch["state"]) == [0, 1, 2]
    for i, st in sd_torch["state"].items():
        assert list(st) == ["step", "eta", "mu", "ax"]
        assert list(sd_ours["state"][i]) == list(st)
        for key in ("step", "eta", "mu"):  # 0 维 float32，与参数 dtype 无关
            assert st[key].shape == () and st[key].dtype == torch.float32
        assert st["ax"].dtype == dtype and st["ax"].shape == p_torch[i].shape
    assert_same_state(ours, theirs)


def test_scalar_state_dtype_follows_default_dtype():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        p_ours, p_torch = make_params(torch.float64), make_params(torch.float64)
        ours, _ = train(ASGD, KW, params=p_ours, steps=5)
        theirs, _ = train(TorchASGD, KW, params=p_torch, steps=5)
    finally:
        torch.set_default_dtype(old)
    assert theirs.state_dict()["state"][0]["eta"].dtype == torch.float64
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
    opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 123.0}], lr=9.0, t0=77.0)
    opt.load_state_dict(transfer(saved, via))
    assert opt.state_dict()["param_groups"] == saved["param_groups"]
    return params, opt


@DTYPES
@pytest.mark.parametrize("via", ["deepcopy", "torch.save"])
@pytest.mark.parametrize("src_cls", [TorchASGD, ASGD], ids=["torch->both", "optimlab->both"])
def test_state_dict_interop(src_cls, via, dtype):
    """一方训练 6 步后存档；optimlab 与 torch 各自载入同一份存档，再各训练 6 步，逐位一致。"""
    params_src = make_params(dtype)
    src, _ = train(src_cls, KW, params=params_src, steps=6, groups=True)
    saved = src.state_dict()
    p_ours, ours = load_fresh(ASGD, saved, params_src, via)
    p_torch, theirs = load_fresh(TorchASGD, saved, params_src, via)
    assert_same_state(ours, theirs)
    # 载入时 eta、mu 被转换成参数的 dtype（step 不转换），两边相同
    assert ours.state_dict()["state"][0]["eta"].dtype == dtype
    train(ASGD, {}, params=p_ours, steps=6, start=6, opt=ours)
    train(TorchASGD, {}, params=p_torch, steps=6, start=6, opt=theirs)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_legacy_python_float_scalars_are_converted():
    """旧格式里 step、eta、mu 是 Python 数：载入后转换成张量，继续训练与 torch 逐位一致。"""
    params = make_params()
    src, _ = train(TorchASGD, KW, params=params, steps=5, none_grad=False)
    saved = copy.deepcopy(src.state_dict())
    for st in saved["state"].values():
        for key in ("step", "eta", "mu"):
            st[key] = float(st[key].item())
    results = []
    for cls in (ASGD, TorchASGD):
        p = [q.detach().clone().requires_grad_() for q in params]
        opt = cls(p, lr=0.01)
        opt.load_state_dict(copy.deepcopy(saved))
        st = opt.state_dict()["state"][0]
        assert all(torch.is_tensor(st[k]) and st[k].dtype == torch.float32 for k in ("step", "eta", "mu"))
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
    {"lr": 0.1, "weight_decay": -1e-2},
    {"lr": 0.1, "weight_decay": float("nan")},
    {"lr": -0.1, "weight_decay": -1e-2},  # 先报 lr
    {"lr": T([-0.1, 0.2]), "weight_decay": -1.0},  # 元素个数在正负之前
    {"__params__": []},
    {"__params__": torch.zeros(3)},
    {"__params__": [torch.zeros(3, requires_grad=True) * 2]},
]
# torch 不检查 lambd、alpha、t0：这些"奇怪"的值两边都接受。
VALID_EDGES = [
    {"lr": 0.0},
    {"lr": T([0.01])},
    {"lambd": -1.0},
    {"alpha": -2.0},
    {"t0": -5.0},
    {"weight_decay": 0.0},
    {"foreach": True},
]


def construct(cls, kwargs):
    kwargs = dict(kwargs)
    params = kwargs.pop("__params__", [torch.zeros(3, requires_grad=True)])
    return lambda: cls(params, **kwargs)


@pytest.mark.parametrize("kwargs", INVALID, ids=[case_id(kw) for kw in INVALID])
def test_invalid_argument_same_error_as_torch(kwargs):
    theirs = outcome(construct(TorchASGD, kwargs))
    assert theirs[0] != "ok", "torch 接受了这个参数，用例本身写错了"
    assert outcome(construct(ASGD, kwargs)) == theirs


@pytest.mark.parametrize("kwargs", VALID_EDGES, ids=[case_id(kw) for kw in VALID_EDGES])
def test_valid_edge_accepted_by_both(kwargs):
    assert outcome(construct(TorchASGD, kwargs)) == ("ok", None)
    assert outcome(construct(ASGD, kwargs)) == ("ok", None)


def test_exact_messages():
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0\.1$"):
        ASGD([torch.zeros(1, requires_grad=True)], lr=-0.1)
    with pytest.raises(ValueError, match=r"^Invalid weight_decay value: -1$"):
        ASGD([torch.zeros(1, requires_grad=True)], weight_decay=-1)


def test_duplicate_parameter_across_groups_same_error():
    p = torch.zeros(2, requires_grad=True)
    groups = [{"params": [p]}, {"params": [p]}]
    theirs = outcome(lambda: TorchASGD(groups))
    assert theirs[0] is ValueError and outcome(lambda: ASGD(groups)) == theirs


@pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")
def test_sparse_gradient_refused_like_torch():
    results = []
    for cls in (ASGD, TorchASGD):
        emb = torch.nn.Embedding(5, 2, sparse=True)
        opt = cls(emb.parameters())
        emb(torch.tensor([0, 2, 2])).sum().backward()
        results.append(outcome(opt.step))
    assert results[1] == (RuntimeError, "ASGD does not support sparse gradients")
    assert results[0] == results[1]


@pytest.mark.parametrize("flag", ["capturable", "differentiable"])
def test_unsupported_flags_raise_not_implemented(flag):
    with pytest.raises(NotImplementedError) as info:
        ASGD([torch.zeros(2, requires_grad=True)], **{flag: True})
    assert str(info.value) == (
        f"optimlab.ASGD 不支持 {flag}=True：optimlab 只有一份逐个张量更新的"
        f"易读实现；需要 {flag} 时请用 torch.optim.ASGD"
    )
    # 事后在参数组里打开也会在 step 时拒绝
    p, q = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = ASGD([p])
    opt.add_param_group({"params": [q], flag: True})
    p.grad, q.grad = torch.ones(2), torch.ones(2)
    with pytest.raises(NotImplementedError, match=f"不支持 {flag}=True"):
        opt.step()


# ---------------------------------------------------------------- 算法本身

def test_first_step_uses_float32_rounded_lr_even_for_float64():
    """状态 eta 是 float32：float64 参数第一步走的是 float32(lr)，不是 lr（torch 如此，optimlab 相同）。"""
    lr = 0.1
    finals = []
    for cls in (ASGD, TorchASGD):
        p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = cls([p], lr=lr, lambd=0.0)
        p.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
        finals.append(p.detach().clone())
    lr32 = torch.tensor(lr, dtype=torch.float32).item()
    assert lr32 != lr
    assert finals[1].item() == -lr32
    assert torch.equal(finals[0], finals[1])


def test_eta_and_mu_schedules():
    """第 t 步之后 eta = float32(η/(1 + κηt)^α)，mu = float32(1/max(1, t − t₀))。"""
    lr, lambd, alpha, t0 = 0.1, 0.3, 0.75, 4.0
    states = []
    for cls in (ASGD, TorchASGD):
        p = torch.zeros(2, requires_grad=True)
        opt = cls([p], lr=lr, lambd=lambd, alpha=alpha, t0=t0)
        etas, mus = [], []
        for _ in range(8):
            p.grad = torch.ones(2)
            opt.step()
            etas.append(opt.state[p]["eta"].item())
            mus.append(opt.state[p]["mu"].item())
        states.append((etas, mus))
    assert states[0] == states[1]
    f32 = lambda x: torch.tensor(x, dtype=torch.float32).item()  # noqa: E731
    assert states[1][0] == [f32(lr / (1 + lambd * lr * t) ** alpha) for t in range(1, 9)]
    assert states[1][1] == [f32(1 / max(1, t - t0)) for t in range(1, 9)]


def test_ax_is_the_average_from_theta_t0_plus_2():
    """整数 t₀ 时 ax_t = mean(θ_{t₀+2}, …, θ_t)：平均比 Bottou 的写法晚一步开始。"""
    t0, steps = 2, 9
    finals = []
    for cls in (ASGD, TorchASGD):
        params = make_params(torch.float64)
        opt = cls(params, lr=0.05, t0=float(t0))
        thetas = []
        for k in range(steps):
            opt.zero_grad()
            loss_fn(params, k).backward()
            opt.step()
            thetas.append(params[0].detach().clone())
        finals.append((opt.state[params[0]]["ax"], thetas))
    (ax_ours, _), (ax_torch, thetas) = finals
    assert torch.equal(ax_ours, ax_torch)
    mean_from = lambda i: torch.stack(thetas[i - 1:]).mean(0)  # noqa: E731  θ_i … θ_T 的平均
    assert torch.allclose(ax_torch, mean_from(t0 + 2), rtol=0, atol=1e-8)  # μ 是 float32，只差舍入
    assert not torch.allclose(ax_torch, mean_from(t0 + 1), rtol=0, atol=1e-4)
    # 平均值不写回参数
    assert not torch.equal(ax_torch, thetas[-1])


def test_add_param_group_and_none_grad_skip():
    results = []
    for cls in (ASGD, TorchASGD):
        params = make_params()
        opt = cls(params[:2], lr=0.05, t0=1.0)
        train(cls, {}, params=params, steps=4, opt=opt, none_grad=False)
        opt.add_param_group({"params": params[2:], "lr": 0.02})
        train(cls, {}, params=params, steps=6, start=4, opt=opt)
        results.append((params, opt))
    assert_bitwise(results[0][0], results[1][0])
    assert_same_state(results[0][1], results[1][1])
