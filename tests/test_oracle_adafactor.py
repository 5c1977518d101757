"""optimlab 的 Adafactor 与 torch.optim.Adafactor 逐位对照：选项网格、状态字典互通、非法输入、因子化的形状。"""

import copy

import pytest
import torch

from oracle import assert_bitwise, assert_same_state, make_params, outcome, product, train
from optimlab.optim.adafactor import Adafactor

T = torch.tensor

FULL = product(
    lr=[0.01, 0.5],  # 0.5：t ≥ 5 时 1/√t < η，ρ_t = min(η, 1/√t) 的两支都走到
    beta2_decay=[-0.8, -0.3],
    eps=[(None, 1e-3), (0.05, 2.0)],  # ε₁ = 0.05 时第 (7)(9) 行的下限都生效；ε₂ = 2 > RMS(θ) 时第 (4) 行取 ε₂
    d=[1.0, 3.0],  # d = 1 时第 (10) 行的裁剪生效，d = 3 时不生效
    weight_decay=[0.0, 0.1],
    maximize=[False, True],
)
# 半分式析因设计：64 种组合中取第二个值的选项个数为偶数的 32 种（第 i 种组合取第二个值的选项就是 i 的二进制位）。
# 任意 5 个选项的 32 种取值组合在其中各出现一次，而时间只要完整网格的一半。
GRID = [kw for i, kw in enumerate(FULL) if bin(i).count("1") % 2 == 0]
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])


@pytest.fixture(autouse=True)
def one_cpu_thread():
    """张量很小，多线程没有好处；在繁忙的机器上线程互相等待反而更慢。两边线程数相同，不影响逐位比较。"""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def run_pair(kwargs, dtype=torch.float32, steps=12, theirs_kwargs=None, **train_kw):
    """同样的问题分别用 optimlab 与 torch 训练，返回 ((参数, 优化器), (参数, 优化器))。"""
    out = []
    for cls, kw in ((Adafactor, kwargs), (torch.optim.Adafactor, kwargs if theirs_kwargs is None else theirs_kwargs)):
        params = make_params(dtype)
        opt, _ = train(cls, kw, params=params, steps=steps, groups=True, **train_kw)
        out.append((params, opt))
    return out


@DTYPES
@pytest.mark.parametrize("kwargs", GRID, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_bitwise_equal_to_torch(kwargs, dtype):
    """两个参数组、部分步里 .grad 为 None；参数、状态与参数组都与 torch 逐位相同。"""
    (p_ours, ours), (p_torch, theirs) = run_pair(kwargs, dtype)
    assert_bitwise(p_ours, p_torch, "Adafactor")
    assert_same_state(ours, theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


@DTYPES
def test_foreach_is_accepted_and_ignored(dtype):
    """optimlab 只有单张量循环：foreach=True 的结果等于 torch 默认（foreach=None）的单张量循环。

    torch 自己的 foreach=True 实现与它的单张量循环并不逐位一致（运算顺序不同），所以这里不拿它比较。
    """
    kw = {"lr": 0.05, "weight_decay": 0.1}
    (p_ours, ours), (p_torch, _) = run_pair({**kw, "foreach": True}, dtype, theirs_kwargs=kw)
    assert_bitwise(p_ours, p_torch, "foreach")
    assert ours.param_groups[0]["foreach"] is True


def test_default_constructor_matches_torch():
    (p_ours, ours), (p_torch, theirs) = run_pair({})
    assert ours.defaults == theirs.defaults
    assert ours.defaults == {
        "lr": 1e-2, "beta2_decay": -0.8, "eps": (None, 1e-3), "d": 1.0,
        "weight_decay": 0.0, "foreach": None, "maximize": False,
    }
    assert_bitwise(p_ours, p_torch)


@DTYPES
def test_tensor_lr(dtype):
    (p_ours, ours), (p_torch, theirs) = run_pair({"lr": T(0.05), "weight_decay": 0.1}, dtype)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_closure_returns_loss_and_matches():
    (p_ours, _), (p_torch, _) = run_pair({"lr": 0.05}, closure=True)
    assert_bitwise(p_ours, p_torch)


@DTYPES
def test_factored_shapes(dtype):
    """矩阵两种朝向（8×5、5×8）、3 维（按最后两维分解，前一维是批）、向量与 0 维标量。

    ≥2 维的参数只有 row_var（…×n×1）与 col_var（…×1×m），没有完整的 variance；向量与标量存完整的 variance。
    """
    shapes = [(8, 5), (5, 8), (2, 3, 4), (7,), ()]
    results = []
    for cls in (Adafactor, torch.optim.Adafactor):
        gen = torch.Generator().manual_seed(0)
        params = [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in shapes]
        opt = cls(params, lr=0.05, weight_decay=0.1)
        for k in range(10):
            opt.zero_grad()
            g = torch.Generator().manual_seed(100 + k)
            loss = sum((torch.tanh(p) * torch.randn(p.shape, generator=g, dtype=dtype)).sum() for p in params)
            (loss + sum((p**2).sum() for p in params)).backward()
            opt.step()
        results.append((params, opt))
    (p_ours, ours), (p_torch, theirs) = results
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)
    state = [ours.state[p] for p in p_ours]
    assert [sorted(s) for s in state] == [["col_var", "row_var", "step"]] * 3 + [["step", "variance"]] * 2
    assert [(s["row_var"].shape, s["col_var"].shape) for s in state[:3]] == [
        ((8, 1), (1, 5)), ((5, 1), (1, 8)), ((2, 3, 1), (2, 1, 4))
    ]


@pytest.mark.parametrize(
    "order", [(torch.float64, torch.float32), (torch.float32, torch.float64)], ids=["f64-first", "f32-first"]
)
def test_default_eps1_comes_from_first_param_dtype(order):
    """ε₁ 为 None 时，torch 取本组第一个有梯度参数的 dtype 的机器精度，整组共用；optimlab 照做。"""
    results = []
    for cls in (Adafactor, torch.optim.Adafactor):
        gen = torch.Generator().manual_seed(0)
        params = [torch.randn(4, 3, generator=gen, dtype=dt).requires_grad_() for dt in order]
        opt = cls(params, lr=0.05)
        for k in range(6):
            g = torch.Generator().manual_seed(10 + k)
            for p in params:
                # 第 0 行梯度为 0：第 (7) 行的分母 max(mean r, ε₁) 与第 (9) 行的 max(√v̂, ε₁) 都依赖 ε₁
                p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype) * 1e-5
                p.grad[0] = 0
            opt.step()
        results.append(params)
    assert_bitwise(results[0], results[1])


@DTYPES
@pytest.mark.parametrize("direction", ["torch->optimlab", "optimlab->torch"])
def test_state_dict_interop(direction, dtype):
    """一边训练 8 步、另一边载入它的状态字典后双方继续 6 步，结果与只用 torch 训练 14 步逐位相同。"""
    kw = {"lr": 0.05, "weight_decay": 0.1, "maximize": True}
    first, second = (torch.optim.Adafactor, Adafactor)
    if direction == "optimlab->torch":
        first, second = second, first

    params = make_params(dtype)
    src, _ = train(first, kw, params=params, steps=8, groups=True)
    saved = src.state_dict()
    p_ref = [p.detach().clone().requires_grad_() for p in params]
    # load_state_dict 不复制 dtype 已相同的状态张量（step 也不复制），所以两边各载入一份深拷贝
    ref = torch.optim.Adafactor([{"params": p_ref[:2]}, {"params": p_ref[2:], "lr": 0.025}], **kw)
    ref.load_state_dict(copy.deepcopy(saved))

    dst = second([{"params": params[:2]}, {"params": params[2:], "lr": 0.025}], **kw)
    dst.load_state_dict(copy.deepcopy(saved))
    assert_same_state(dst, ref)  # 同样的键、dtype、形状与数值
    train(second, kw, params=params, steps=6, start=8, opt=dst)
    train(torch.optim.Adafactor, kw, params=p_ref, steps=6, start=8, opt=ref)
    assert_bitwise(params, p_ref)
    assert_same_state(dst, ref)


def test_old_state_dict_with_float_step_and_no_foreach():
    """旧格式：step 是 Python 数、参数组没有 foreach。两边的 __setstate__ 做同样的补全。"""
    params = make_params()
    src, _ = train(torch.optim.Adafactor, {"lr": 0.05}, params=params, steps=5, groups=True)
    saved = src.state_dict()
    for st in saved["state"].values():
        st["step"] = st["step"].item()
    for g in saved["param_groups"]:
        del g["foreach"]
    loaded = []
    for cls in (Adafactor, torch.optim.Adafactor):
        opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.025}])
        opt.load_state_dict(copy.deepcopy(saved))
        loaded.append(opt)
    assert_same_state(*loaded)
    assert loaded[0].state_dict()["param_groups"] == loaded[1].state_dict()["param_groups"]
    assert loaded[0].state[params[0]]["step"].dtype == torch.float32


def construct(cls, kwargs):
    kwargs = dict(kwargs)
    params = kwargs.pop("__params__", [torch.zeros(3, 2, requires_grad=True)])
    return lambda: cls(params, **kwargs)


# torch.optim.Adafactor 在构造时拒绝的输入。
INVALID = [
    {"lr": -0.1},
    {"lr": T([0.1, 0.2])},  # 多元素张量学习率
    {"lr": T(-0.1)},  # 信息里带张量的 repr
    {"lr": float("nan")},
    {"beta2_decay": 0.5},
    {"beta2_decay": float("nan")},
    {"eps": (-1e-3, 1e-3)},
    {"eps": (None, -1e-3)},
    {"eps": (-1.0, -1.0)},  # 先报 ε₁
    {"d": 0.5},
    {"weight_decay": -0.1},
    {"lr": -1.0, "d": 0.0, "weight_decay": -1.0},  # 先报学习率
    {"beta2_decay": 1.0, "eps": (-1.0, 1e-3)},  # 先报 beta2_decay
    {"d": 0.0, "weight_decay": -1.0},  # 先报 d
    {"__params__": []},  # 基类检查：空的参数列表
    {"capturable": True},  # torch 没有这些参数：TypeError，信息里的类名也相同
    {"fused": True},
    {"differentiable": True},
]


@pytest.mark.parametrize("kwargs", INVALID, ids=repr)
def test_invalid_constructor_arguments(kwargs):
    theirs = outcome(construct(torch.optim.Adafactor, kwargs))
    assert theirs[0] != "ok", "torch 应当拒绝这组参数"
    assert outcome(construct(Adafactor, kwargs)) == theirs


@pytest.mark.parametrize("kind", ["complex", "sparse"])
def test_rejected_at_step(kind):
    """复数参数、稀疏梯度在 step 时报错（先查复数再查稀疏）；报错前已建好的状态也与 torch 相同。"""
    results = []
    for cls in (Adafactor, torch.optim.Adafactor):
        ok = torch.ones(3, 2, requires_grad=True)
        bad = torch.ones(4, dtype=torch.complex64 if kind == "complex" else torch.float32, requires_grad=True)
        opt = cls([ok, bad], lr=0.1)
        ok.grad = torch.ones(3, 2)
        bad.grad = torch.ones_like(bad) if kind == "complex" else torch.ones(4).to_sparse()
        results.append((outcome(opt.step), ok, opt))
    (err_ours, ok_ours, ours), (err_torch, ok_torch, theirs) = results
    assert err_torch[0] is RuntimeError
    assert err_ours == err_torch
    assert_same_state(ours, theirs)
    assert torch.equal(ok_ours, ok_torch)
