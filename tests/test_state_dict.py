"""状态字典：键与布局同 torch.optim；两边互相保存、载入后继续训练仍逐位一致。"""

import copy
import io

import pytest
import torch

from oracle import NAMES, assert_bitwise, assert_same_state, make_params, pair, train

# 每个优化器的选项 → torch.optim 在每个参数的状态里保存的键（写死，防止两边一起"丢键"）。
LAYOUTS = [
    ("SGD", {"lr": 0.05}, set()),
    ("SGD", {"lr": 0.05, "momentum": 0.9}, {"momentum_buffer"}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, {"momentum_buffer"}),
    ("Adam", {"lr": 0.01}, {"step", "exp_avg", "exp_avg_sq"}),
    ("Adam", {"lr": 0.01, "amsgrad": True}, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, {"step", "exp_avg", "exp_avg_sq"}),
    ("AdamW", {"lr": 0.01}, {"step", "exp_avg", "exp_avg_sq"}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    ("NAdam", {"lr": 0.01}, {"step", "mu_product", "exp_avg", "exp_avg_sq"}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
     {"step", "mu_product", "exp_avg", "exp_avg_sq"}),
    ("RMSprop", {"lr": 0.01}, {"step", "square_avg"}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}, {"step", "square_avg", "momentum_buffer"}),
    ("RMSprop", {"lr": 0.01, "centered": True}, {"step", "square_avg", "grad_avg"}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True},
     {"step", "square_avg", "momentum_buffer", "grad_avg"}),
    ("Adagrad", {"lr": 0.1}, {"step", "sum"}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.5}, {"step", "sum"}),
]
LAYOUT_IDS = [f"{n}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for n, kw, _ in LAYOUTS]
CASES = [pytest.param(n, kw, id=i) for (n, kw, _), i in zip(LAYOUTS, LAYOUT_IDS)]
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])


def layout(opt):
    """状态的"形状"：每个参数序号 → {键: (类型, dtype, 形状, 设备)}，另有参数组。"""
    sd = opt.state_dict()
    state = {
        i: {k: (type(v).__name__, v.dtype, tuple(v.shape), v.device) if torch.is_tensor(v) else v
            for k, v in st.items()}
        for i, st in sd["state"].items()
    }
    return state, sd["param_groups"]


@DTYPES
@pytest.mark.parametrize("name,kwargs,keys", [pytest.param(*c, id=i) for c, i in zip(LAYOUTS, LAYOUT_IDS)])
def test_state_layout_matches_torch(name, kwargs, keys, dtype):
    ours_cls, torch_cls = pair(name)
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, _ = train(ours_cls, kwargs, params=p_ours, steps=6, groups=True)
    theirs, _ = train(torch_cls, kwargs, params=p_torch, steps=6, groups=True)
    assert layout(ours) == layout(theirs)
    sd = ours.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert list(sd["state"]) == list(theirs.state_dict()["state"])  # 同样的参数序号、同样的顺序
    for st, st_torch in zip(sd["state"].values(), theirs.state_dict()["state"].values()):
        assert set(st) == keys
        assert list(st) == list(st_torch)  # 键的插入顺序也相同
        if "step" in st:
            # step 是 CPU 上的 0 维 float32 张量（与参数 dtype 无关），mu_product 同理
            assert st["step"].shape == () and st["step"].dtype == torch.float32
            assert st["step"].device.type == "cpu"
        if "mu_product" in st:
            assert st["mu_product"].shape == () and st["mu_product"].dtype == torch.float32
        for key in keys - {"step", "mu_product"}:
            assert st[key].dtype == dtype
    assert_same_state(ours, theirs)


@pytest.mark.parametrize("name", ["Adam", "NAdam", "RMSprop", "Adagrad"])
def test_scalar_state_dtype_follows_default_dtype(name):
    """默认 dtype 为 float64 时，step（和 mu_product）是 float64，同 torch。"""
    ours_cls, torch_cls = pair(name)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        p_ours, p_torch = make_params(torch.float64), make_params(torch.float64)
        ours, _ = train(ours_cls, {"lr": 0.01}, params=p_ours, steps=3)
        theirs, _ = train(torch_cls, {"lr": 0.01}, params=p_torch, steps=3)
    finally:
        torch.set_default_dtype(old)
    assert ours.state_dict()["state"][0]["step"].dtype == torch.float64
    assert layout(ours) == layout(theirs)
    assert_bitwise(p_ours, p_torch, name)


def transfer(state_dict, via):
    """模拟"保存后再载入"：直接深拷贝，或经过 torch.save / torch.load 和 BytesIO。"""
    if via == "deepcopy":
        return copy.deepcopy(state_dict)
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def load_fresh(cls, saved, params_src, kwargs, via):
    """新建 cls 优化器（参数是 params_src 的拷贝），载入 saved。"""
    params = [p.detach().clone().requires_grad_() for p in params_src]
    # 构造参数故意与存档不同：载入的参数组必须覆盖它们
    lr = kwargs.get("lr", 1e-3)
    opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 123.0}], lr=lr * 7)
    opt.load_state_dict(transfer(saved, via))
    assert opt.state_dict()["param_groups"] == saved["param_groups"]
    return params, opt


def resume(src_cls, name, kwargs, dtype, via, *, first=12, then=18):
    """src 训练 first 步后存档；optimlab 与 torch.optim 各自新建优化器载入同一份存档，再各训练 then 步。

    比较的是"同一份存档分别载入两边"的结果，而不是与源优化器比：torch 载入时把 step 以外的
    状态转换成参数的 dtype（NAdam 的 0 维 ``mu_product`` 在 float64 参数下由 float32 变成 float64），
    所以即使是 torch 自己，载入后继续训练也不必与不中断的训练逐位一致。
    """
    ours_cls, torch_cls = pair(name)
    params_src = make_params(dtype)
    src, _ = train(src_cls, kwargs, params=params_src, steps=first, groups=True)
    saved = src.state_dict()
    p_ours, ours = load_fresh(ours_cls, saved, params_src, kwargs, via)
    p_torch, theirs = load_fresh(torch_cls, saved, params_src, kwargs, via)
    assert layout(ours) == layout(theirs)
    assert_same_state(ours, theirs)
    train(ours_cls, {}, params=p_ours, steps=then, start=first, opt=ours)
    train(torch_cls, {}, params=p_torch, steps=then, start=first, opt=theirs)
    assert_bitwise(p_ours, p_torch, name)
    assert_same_state(ours, theirs)
    return p_ours, ours


@DTYPES
@pytest.mark.parametrize("via", ["deepcopy", "torch.save"])
@pytest.mark.parametrize("name,kwargs", CASES)
def test_torch_state_dict_loads_into_optimlab(name, kwargs, via, dtype):
    resume(pair(name)[1], name, kwargs, dtype, via)


@DTYPES
@pytest.mark.parametrize("via", ["deepcopy", "torch.save"])
@pytest.mark.parametrize("name,kwargs", CASES)
def test_optimlab_state_dict_loads_into_torch(name, kwargs, via, dtype):
    resume(pair(name)[0], name, kwargs, dtype, via)


def test_nadam_mu_product_takes_param_dtype_on_load():
    """torch 载入时把 mu_product 转成参数的 dtype（float64），optimlab 载入后也一样。"""
    ours_cls, torch_cls = pair("NAdam")
    params = make_params(torch.float64)
    src, _ = train(torch_cls, {"lr": 0.01}, params=params, steps=3, groups=True)
    assert src.state_dict()["state"][0]["mu_product"].dtype == torch.float32
    for cls in (ours_cls, torch_cls):
        _, opt = load_fresh(cls, src.state_dict(), params, {}, "torch.save")
        assert opt.state_dict()["state"][0]["mu_product"].dtype == torch.float64


@pytest.mark.parametrize("name", NAMES)
def test_resumed_run_equals_uninterrupted_run(name):
    """optimlab 存档、载入到新的 optimlab 优化器后继续，与不中断地训练 30 步逐位一致。"""
    ours_cls, _ = pair(name)
    kwargs = dict(next(kw for n, kw, _ in LAYOUTS[::-1] if n == name))
    p_resumed, _ = resume(ours_cls, name, kwargs, torch.float32, "torch.save")
    p_straight = make_params()
    train(ours_cls, kwargs, params=p_straight, steps=30, groups=True)
    assert_bitwise(p_resumed, p_straight, name)


def test_loaded_state_is_not_shared_with_the_source():
    """经 torch.save 载入后，目标优化器的状态张量与源优化器互不共享存储。"""
    ours_cls, torch_cls = pair("Adam")
    params = make_params()
    theirs, _ = train(torch_cls, {"lr": 0.01}, params=params, steps=3)
    ours = ours_cls([p.detach().clone().requires_grad_() for p in params], lr=0.01)
    ours.load_state_dict(transfer(theirs.state_dict(), "torch.save"))
    a = next(iter(ours.state.values()))["exp_avg"]
    b = next(iter(theirs.state.values()))["exp_avg"]
    assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()


@pytest.mark.parametrize("name", ["Adam", "AdamW", "NAdam", "RMSprop", "Adagrad"])
def test_legacy_python_float_step_is_converted(name):
    """旧版 torch 的状态字典里 step 是 Python 数；载入后转成张量，继续训练与 torch 逐位一致。"""
    ours_cls, torch_cls = pair(name)
    params = make_params()
    src, _ = train(torch_cls, {"lr": 0.01}, params=params, steps=5, none_grad=False)
    saved = copy.deepcopy(src.state_dict())
    for st in saved["state"].values():
        st["step"] = float(st["step"].item())
        if "mu_product" in st:
            st["mu_product"] = float(st["mu_product"].item())
    results = []
    for cls in (ours_cls, torch_cls):
        p = [q.detach().clone().requires_grad_() for q in params]
        opt = cls(p, lr=0.01)
        opt.load_state_dict(copy.deepcopy(saved))
        st = opt.state_dict()["state"][0]
        assert torch.is_tensor(st["step"]) and st["step"].item() == 5.0
        train(cls, {}, params=p, steps=10, start=5, opt=opt)
        results.append((p, opt))
    (p_ours, ours), (p_torch, theirs) = results
    assert_bitwise(p_ours, p_torch, name)
    assert_same_state(ours, theirs)


@pytest.mark.parametrize("name", NAMES)
def test_named_parameters_state_dict_interop(name):
    """named_parameters 的状态字典带 param_names；torch 存、optimlab 读，名字与训练都一致。"""
    ours_cls, torch_cls = pair(name)
    torch.manual_seed(0)
    m_torch = torch.nn.Linear(3, 2)
    m_ours = torch.nn.Linear(3, 2)
    m_ours.load_state_dict(m_torch.state_dict())
    x = torch.randn(4, 3)
    theirs = torch_cls(m_torch.named_parameters(), lr=0.01)

    def run(opt, m, n):
        for _ in range(n):
            opt.zero_grad()
            m(x).sin().sum().backward()
            opt.step()

    run(theirs, m_torch, 4)
    m_ours.load_state_dict(m_torch.state_dict())
    ours = ours_cls(m_ours.named_parameters(), lr=0.5)
    ours.load_state_dict(transfer(theirs.state_dict(), "torch.save"))
    assert ours.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    run(theirs, m_torch, 6)
    run(ours, m_ours, 6)
    assert_bitwise(list(m_ours.parameters()), list(m_torch.parameters()), name)
    assert_same_state(ours, theirs)


@pytest.mark.parametrize("name", NAMES)
def test_load_state_dict_group_mismatch_same_error(name):
    """参数组个数不同：与 torch 一样报 ValueError，信息相同。"""
    ours_cls, torch_cls = pair(name)
    params = make_params()
    src, _ = train(torch_cls, {"lr": 0.01}, params=params, steps=2, groups=True)
    saved = src.state_dict()
    errors = []
    for cls in (ours_cls, torch_cls):
        opt = cls(make_params(), lr=0.01)  # 只有一个参数组
        with pytest.raises(ValueError) as info:
            opt.load_state_dict(copy.deepcopy(saved))
        errors.append(str(info.value))
    assert errors[0] == errors[1] == "loaded state dict has a different number of parameter groups"
