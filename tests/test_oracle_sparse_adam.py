"""optimlab 的 SparseAdam 与 torch.optim.SparseAdam 逐位对照。

梯度必须是稀疏张量，所以这里不用 ``oracle.train``，而用自己的训练循环：两个
``nn.Embedding(sparse=True)``\\ （索引有重复，梯度未合并）加一个手工构造稀疏 COO 梯度的矩阵
（二维稀疏索引、有重复索引，有的步里 ``nnz = 0``），分在两个参数组，部分步里某个参数的 ``.grad`` 为 None。
"""

import copy
import io

import pytest
import torch

from oracle import assert_bitwise, assert_same_state, outcome, product
from optimlab.optim.sparse_adam import SparseAdam

TorchSparseAdam = torch.optim.SparseAdam
T = torch.tensor
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
STEPS = 12

# torch.sparse_coo_tensor 第一次被调用时提示"稀疏张量不变量检查默认关闭"，与优化器无关
pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")



@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """稠密张量加稀疏张量（``add_``）在 CPU 上每次都开一个 OpenMP 并行区；对这些小张量，在繁忙的
    双核机器上单线程要快两个数量级。逐元素的加法与线程数无关，结果不变。"""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


GRID = product(
    lr=[0.01, 0.1],
    betas=[(0.9, 0.999), (0.5, 0.9)],
    eps=[1e-8, 1e-3],
    maximize=[False, True],
)


def case_id(kw):
    return "-".join(f"{k}={v!r}".replace("\n", "") for k, v in kw.items())


def make_problem(dtype=torch.float32, seed=0):
    """(模块, 参数列表)：两个稀疏嵌入表与一个手工给稀疏梯度的矩阵。"""
    gen = torch.Generator().manual_seed(seed)
    emb_a = torch.nn.Embedding(10, 3, sparse=True, dtype=dtype)
    emb_b = torch.nn.Embedding(6, 2, sparse=True, dtype=dtype)
    w = torch.randn(5, 4, generator=gen, dtype=dtype).requires_grad_()
    with torch.no_grad():
        emb_a.weight.copy_(torch.randn(10, 3, generator=gen, dtype=dtype))
        emb_b.weight.copy_(torch.randn(6, 2, generator=gen, dtype=dtype))
    return (emb_a, emb_b), [emb_a.weight, emb_b.weight, w]


def make_opt(cls, params, kwargs):
    lr = kwargs.get("lr", 1e-3)
    return cls([{"params": params[:2]}, {"params": params[2:], "lr": lr * 0.5}], **kwargs)


def set_grads(modules, params, k):
    """第 k 步的稀疏梯度。嵌入表的行 8、9 从不出现；w 的梯度是未合并、有重复索引的 COO。"""
    emb_a, emb_b = modules
    a, b, w = params
    gen = torch.Generator().manual_seed(100 + k)
    idx_a = torch.randint(0, 8, (7,), generator=gen)
    idx_b = torch.randint(0, 6, (4,), generator=gen)
    for p in params:
        p.grad = None
    scale = torch.arange(1, 4, dtype=a.dtype)
    loss = (emb_a(idx_a).sin() * scale).sum() + (emb_b(idx_b) ** 2).sum() - emb_b(idx_b[:2]).sum()
    loss.backward()
    nnz = 0 if k % 5 == 3 else 6  # nnz = 0：torch 跳过更新，但 step 照样加 1
    rows = torch.randint(0, 5, (nnz,), generator=gen)
    cols = torch.randint(0, 4, (nnz,), generator=gen)
    rows[:2], cols[:2] = 1, 2  # 保证有重复索引
    values = torch.randn(nnz, generator=gen, dtype=w.dtype)
    w.grad = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, w.shape)
    if k % 4 == 1:
        b.grad = None
    assert a.grad.is_sparse and not a.grad.is_coalesced()


def train_sparse(cls, kwargs, dtype=torch.float32, steps=STEPS, start=0, opt=None, problem=None):
    modules, params = make_problem(dtype) if problem is None else problem
    opt = make_opt(cls, params, kwargs) if opt is None else opt
    for k in range(start, start + steps):
        set_grads(modules, params, k)
        opt.step()
    return params, opt


@DTYPES
@pytest.mark.parametrize("kwargs", GRID, ids=[case_id(kw) for kw in GRID])
def test_bitwise_equal_to_torch(kwargs, dtype):
    p_ours, ours = train_sparse(SparseAdam, kwargs, dtype)
    p_torch, theirs = train_sparse(TorchSparseAdam, kwargs, dtype)
    assert_bitwise(p_ours, p_torch, "SparseAdam")
    assert_same_state(ours, theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]
    # 从未出现的行（8、9）：参数与矩估计都不动
    _, fresh = make_problem(dtype)
    assert torch.equal(p_ours[0][8:], fresh[0][8:]) and not torch.equal(p_ours[0], fresh[0])
    assert (theirs.state[p_torch[0]]["exp_avg"][8:] == 0).all()


def test_default_constructor_matches_torch():
    p_ours, ours = train_sparse(SparseAdam, {})
    p_torch, theirs = train_sparse(TorchSparseAdam, {})
    assert ours.defaults == theirs.defaults
    assert_bitwise(p_ours, p_torch)


@pytest.mark.parametrize("lr", [T(0.05), T([0.05])], ids=["0d", "1elem"])
@DTYPES
def test_tensor_lr(lr, dtype):
    p_ours, ours = train_sparse(SparseAdam, {"lr": lr}, dtype)
    p_torch, theirs = train_sparse(TorchSparseAdam, {"lr": lr}, dtype)
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)


def test_closure():
    results = []
    for cls in (SparseAdam, TorchSparseAdam):
        modules, params = make_problem()
        opt = make_opt(cls, params, {"lr": 0.05})
        for k in range(5):
            def closure(k=k):
                set_grads(modules, params, k)
                return params[0].detach().sum()

            loss = opt.step(closure)
        results.append((params, opt, loss))
    assert_bitwise(results[0][0], results[1][0])
    assert torch.equal(results[0][2], results[1][2])


# ---------------------------------------------------------------- 状态字典

KW = {"lr": 0.05, "betas": (0.5, 0.9)}


@DTYPES
def test_state_layout_matches_torch(dtype):
    _, ours = train_sparse(SparseAdam, KW, dtype, steps=6)
    _, theirs = train_sparse(TorchSparseAdam, KW, dtype, steps=6)
    sd_ours, sd_torch = ours.state_dict(), theirs.state_dict()
    assert list(sd_ours["state"]) == list(sd_torch["state"]) == [0, 1, 2]
    for i, st in sd_torch["state"].items():
        assert list(st) == ["step", "exp_avg", "exp_avg_sq"]
        assert list(sd_ours["state"][i]) == list(st)
        # step 是 Python 整数（不是张量），且 nnz = 0 与 .grad 为 None 的区别：前者也计数
        assert type(st["step"]) is int and type(sd_ours["state"][i]["step"]) is int
        for key in ("exp_avg", "exp_avg_sq"):
            assert st[key].dtype == dtype and st[key].layout == torch.strided
    assert [st["step"] for st in sd_torch["state"].values()] == [6, 4, 6]
    assert_same_state(ours, theirs)


def transfer(state_dict, via):
    if via == "deepcopy":
        return copy.deepcopy(state_dict)
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@DTYPES
@pytest.mark.parametrize("via", ["deepcopy", "torch.save"])
@pytest.mark.parametrize("src_cls", [TorchSparseAdam, SparseAdam], ids=["torch->both", "optimlab->both"])
def test_state_dict_interop(src_cls, via, dtype):
    """一方训练 6 步后存档；optimlab 与 torch 各自载入同一份存档，再各训练 6 步，逐位一致。"""
    src_params, src = train_sparse(src_cls, KW, dtype, steps=6)
    saved = src.state_dict()
    runs = []
    for cls in (SparseAdam, TorchSparseAdam):
        modules, params = make_problem(dtype)
        with torch.no_grad():
            for p, q in zip(params, src_params):
                p.copy_(q)
        # 构造参数故意与存档不同：载入的参数组必须覆盖它们
        opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 123.0}], lr=9.0, eps=0.5)
        opt.load_state_dict(transfer(saved, via))
        assert opt.state_dict()["param_groups"] == saved["param_groups"]
        assert type(opt.state_dict()["state"][0]["step"]) is int
        train_sparse(cls, {}, dtype, steps=6, start=6, opt=opt, problem=(modules, params))
        runs.append((params, opt))
    assert_bitwise(runs[0][0], runs[1][0])
    assert_same_state(runs[0][1], runs[1][1])
    # 状态里没有会被载入改变 dtype 的标量：存档、载入、继续 = 不中断地训练 12 步
    p_straight, _ = train_sparse(TorchSparseAdam, KW, dtype, steps=12)
    assert_bitwise(runs[0][0], p_straight)


# ---------------------------------------------------------------- 非法输入

def dense():
    return torch.zeros(3, requires_grad=True)


def sparse_param():
    return torch.sparse_coo_tensor(T([[0, 2]]), T([1.0, 2.0]), (3,)).requires_grad_()


def complex_param():
    return torch.zeros(3, dtype=torch.complex64, requires_grad=True)


INVALID = [
    ("lr=0", {"lr": 0.0}),  # SparseAdam 要求 lr 严格大于 0
    ("lr<0", {"lr": -0.1}),
    ("lr-tensor-2elem", {"lr": T([0.1, 0.2])}),
    ("lr-tensor-0", {"lr": T(0.0)}),
    ("lr-nan", {"lr": float("nan")}),
    ("eps=0", {"eps": 0.0}),
    ("eps<0", {"eps": -1e-8}),
    ("eps-nan", {"eps": float("nan")}),
    ("beta0=1", {"betas": (1.0, 0.999)}),
    ("beta0<0", {"betas": (-0.1, 0.999)}),
    ("beta1=1", {"betas": (0.9, 1.0)}),
    ("beta1<0", {"betas": (0.9, -1e-3)}),
    ("both-betas", {"betas": (1.5, 1.5)}),  # 先报第 0 个
    ("lr-before-eps", {"lr": 0.0, "eps": 0.0}),
    ("eps-before-betas", {"eps": 0.0, "betas": (1.0, 1.0)}),
    ("sparse-param", {"__params__": lambda: [dense(), sparse_param()]}),
    ("complex-param", {"__params__": lambda: [complex_param(), dense()]}),
    ("sparse-in-group-2", {"__params__": lambda: [{"params": [dense()]}, {"params": [dense(), sparse_param()]}]}),
    ("sparse-before-complex", {"__params__": lambda: [complex_param(), sparse_param(), sparse_param()]}),
    ("no-foreach-arg", {"foreach": True}),  # torch 的 SparseAdam 没有这些参数：同样的 TypeError
    ("no-weight-decay-arg", {"weight_decay": 0.1}),
    ("no-fused-arg", {"fused": True}),
    ("no-params", {"__params__": lambda: []}),
    ("params-is-tensor", {"__params__": lambda: torch.zeros(3)}),
    ("non-leaf", {"__params__": lambda: [torch.zeros(3, requires_grad=True) * 2]}),
]
VALID_EDGES = [
    ("tiny-lr-eps", {"lr": 1e-30, "eps": 1e-30}),
    ("betas-zero", {"betas": (0.0, 0.0)}),
    ("lr-tensor-1elem", {"lr": T([0.01])}),
    ("maximize", {"maximize": True}),
]


def construct(cls, kwargs):
    kwargs = dict(kwargs)
    params = kwargs.pop("__params__", lambda: [dense()])()
    return lambda: cls(params, **kwargs)


@pytest.mark.parametrize("kwargs", [kw for _, kw in INVALID], ids=[i for i, _ in INVALID])
def test_invalid_argument_same_error_as_torch(kwargs):
    theirs = outcome(construct(TorchSparseAdam, kwargs))
    assert theirs[0] != "ok", "torch 接受了这个参数，用例本身写错了"
    assert outcome(construct(SparseAdam, kwargs)) == theirs


@pytest.mark.parametrize("kwargs", [kw for _, kw in VALID_EDGES], ids=[i for i, _ in VALID_EDGES])
def test_valid_edge_accepted_by_both(kwargs):
    assert outcome(construct(TorchSparseAdam, kwargs)) == ("ok", None)
    assert outcome(construct(SparseAdam, kwargs)) == ("ok", None)


def test_exact_messages():
    with pytest.raises(ValueError, match=r"^Invalid learning rate: 0\.0$"):
        SparseAdam([dense()], lr=0.0)
    with pytest.raises(ValueError) as info:
        SparseAdam([{"params": [dense()]}, {"params": [dense(), sparse_param()]}])
    assert str(info.value) == "Sparse params at indices [[1, 1]]: SparseAdam requires dense parameter tensors"
    with pytest.raises(ValueError) as info:
        SparseAdam([complex_param()])
    assert str(info.value) == "Complex params at indices [[0, 0]]: SparseAdam does not support complex parameters"


def test_dense_gradient_refused_like_torch():
    """稠密梯度报错；同一组里排在它前面的参数 step 已经加 1（但没有更新），两边一样。"""
    results = []
    for cls in (SparseAdam, TorchSparseAdam):
        modules, params = make_problem()
        opt = make_opt(cls, params, {"lr": 0.05})
        set_grads(modules, params, 0)
        params[1].grad = params[1].grad.to_dense()
        results.append((outcome(opt.step), params, opt))
    (err_ours, p_ours, ours), (err_torch, p_torch, theirs) = results
    assert err_torch == (RuntimeError, "SparseAdam does not support dense gradients, please consider Adam instead")
    assert err_ours == err_torch
    assert_bitwise(p_ours, p_torch)
    assert_same_state(ours, theirs)
    assert theirs.state_dict()["state"][0]["step"] == 1 and 1 not in theirs.state_dict()["state"]
    _, fresh = make_problem()
    assert_bitwise(p_torch, fresh)  # 报错的一步里什么都没更新


# ---------------------------------------------------------------- 算法本身

@DTYPES
def test_hand_built_duplicate_indices_are_summed(dtype):
    """重复索引先相加：未合并的梯度与手工合并后的梯度给出逐位相同的结果（两边都是）。"""
    finals = []
    for cls in (SparseAdam, TorchSparseAdam):
        for coalesce in (False, True):
            w = torch.arange(12, dtype=dtype).reshape(3, 4).div(7).requires_grad_()
            opt = cls([w], lr=0.1)
            for k in range(4):
                idx = T([[0, 2, 0, 1, 2], [1, 3, 1, 0, 3]])
                vals = torch.tensor([0.5, -1.0, 0.25, 2.0, 3.0], dtype=dtype) * (k + 1)
                w.grad = torch.sparse_coo_tensor(idx, vals, w.shape)
                if coalesce:
                    w.grad = w.grad.coalesce()
                opt.step()
            finals.append(w.detach().clone())
    assert all(torch.equal(f, finals[0]) for f in finals[1:])


def test_empty_gradient_counts_a_step_but_does_not_update():
    results = []
    for cls in (SparseAdam, TorchSparseAdam):
        w = torch.ones(4, requires_grad=True)
        opt = cls([w], lr=0.1)
        for vals in ([1.0], [], [], [2.0]):
            n = len(vals)
            w.grad = torch.sparse_coo_tensor(torch.zeros(1, n, dtype=torch.long), T(vals).reshape(n), (4,))
            opt.step()
        results.append((w.detach().clone(), opt.state[w]["step"]))
    assert results[1][1] == 4  # 两步空梯度也计入 t
    assert torch.equal(results[0][0], results[1][0]) and results[0][1] == results[1][1]


@pytest.mark.parametrize("betas,t", [((0.9, 0.999), 50), ((0.5, 0.9), 60)], ids=["default-t50", "0.5-0.9-t60"])
def test_row_first_seen_late_gets_a_different_first_step(betas, t):
    """惰性：第 t 步才第一次出现的行，m = (1 − β₁)g、v = (1 − β₂)g²，偏差校正却按 t 算，第一步是
    η (1 − β₁)/(1 − β₁ᵗ) · √((1 − β₂ᵗ)/(1 − β₂))，而不是 Adam 第一步的 η：默认 betas、t = 50 时约 0.7η，
    betas = (0.5, 0.9)、t = 60 时约 1.58η（t ≫ 1/(1 − β₂) 时趋于 (1 − β₁)/√(1 − β₂)，默认 betas 下约 3.16η）。"""
    lr = 0.01
    beta1, beta2 = betas
    finals = []
    for cls in (SparseAdam, TorchSparseAdam):
        emb = torch.nn.Embedding(3, 2, sparse=True, dtype=torch.float64)
        with torch.no_grad():
            emb.weight.zero_()
        opt = cls(emb.parameters(), lr=lr, betas=betas)
        for k in range(t):
            opt.zero_grad()
            emb(T([2 if k == t - 1 else 0])).sum().backward()
            opt.step()
        finals.append(emb.weight.detach().clone())
    assert torch.equal(finals[0], finals[1])
    expected = lr * (1 - beta1) / (1 - beta1**t) * ((1 - beta2**t) / (1 - beta2)) ** 0.5
    assert (-finals[1][2]).tolist() == pytest.approx([expected] * 2, rel=1e-6)
    assert abs(expected - lr) > 0.25 * lr


def test_not_equal_to_adam_even_when_every_row_is_present():
    """每步所有坐标都出现时，SparseAdam 仍与 Adam 不逐位相同（ε 的位置不同），但很接近。"""
    results = []
    for cls, sparse in ((SparseAdam, True), (TorchSparseAdam, True), (torch.optim.Adam, False)):
        w = torch.linspace(-1, 1, 6, dtype=torch.float64).requires_grad_()
        opt = cls([w], lr=0.01)
        for k in range(5):
            g = torch.cos(w.detach() * (k + 1))
            w.grad = g.to_sparse() if sparse else g
            opt.step()
        results.append(w.detach().clone())
    assert torch.equal(results[0], results[1])
    assert not torch.equal(results[1], results[2])
    assert torch.allclose(results[1], results[2], rtol=0, atol=1e-7)
