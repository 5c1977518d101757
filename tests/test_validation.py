"""非法输入：与 torch.optim 抛出同样类型、同样信息的异常；稀疏梯度的拒绝与处理同 torch。"""

import inspect

import pytest
import torch

import optimlab
from oracle import NAMES, assert_bitwise, outcome, pair

T = torch.tensor


def construct(cls, kwargs, params=None):
    params = [torch.zeros(3, requires_grad=True)] if params is None else params
    return lambda: cls(params, **kwargs)


# (优化器, 构造参数)：每一项 torch.optim 都会拒绝。
INVALID = [
    *[(n, {"lr": -0.1}) for n in NAMES],
    *[(n, {"lr": T([0.1, 0.2])}) for n in NAMES],  # 多元素张量学习率
    *[(n, {"lr": T(-0.1)}) for n in NAMES],  # 负的张量学习率（信息里带张量的 repr）
    *[(n, {"lr": 0.1, "weight_decay": -1e-2}) for n in NAMES],
    *[(n, {"lr": 0.1, "eps": -1e-8}) for n in ["Adam", "AdamW", "NAdam", "RMSprop", "Adagrad"]],
    *[(n, {"lr": float("nan")}) for n in ["Adam", "AdamW", "NAdam", "RMSprop", "Adagrad"]],
    # 动量
    ("SGD", {"lr": 0.1, "momentum": -0.9}),
    ("RMSprop", {"lr": 0.1, "momentum": -0.9}),
    ("SGD", {"lr": 0.1, "nesterov": True}),  # Nesterov 没有动量
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}),  # Nesterov 有阻尼
    ("SGD", {"lr": 0.1, "momentum": -0.5, "nesterov": True}),  # 负动量先被报告
    # betas
    *[(n, {"betas": (1.0, 0.999)}) for n in ["Adam", "AdamW", "NAdam"]],
    *[(n, {"betas": (-0.1, 0.999)}) for n in ["Adam", "AdamW", "NAdam"]],
    *[(n, {"betas": (0.9, 1.0)}) for n in ["Adam", "AdamW", "NAdam"]],
    *[(n, {"betas": (0.9, -1e-3)}) for n in ["Adam", "AdamW", "NAdam"]],
    *[(n, {"betas": (1.5, 1.5)}) for n in ["Adam", "AdamW", "NAdam"]],  # 先报第 0 个
    ("Adam", {"betas": (T(1.0), T(0.999))}),
    ("Adam", {"betas": (T(0.9), T(1.0))}),
    ("Adam", {"betas": (0.9, T(0.999))}),  # 浮点数与张量混用
    ("Adam", {"betas": (T(0.9), 0.999)}),
    ("AdamW", {"betas": (T(0.9), 0.999)}),
    ("Adam", {"betas": (0.9, 1)}),  # 整数也不算 float
    ("Adam", {"betas": (T([0.9, 0.8]), T(0.999))}),
    ("Adam", {"betas": (T(0.9), T([0.999, 0.99]))}),
    ("Adam", {"betas": (T(0.9), T(0.999)), "foreach": True}),
    ("AdamW", {"betas": (T(0.9), T(0.999)), "foreach": True}),
    # 各自的超参数
    ("NAdam", {"momentum_decay": -4e-3}),
    ("RMSprop", {"alpha": -0.5}),
    ("Adagrad", {"lr_decay": -0.01}),
    ("Adagrad", {"initial_accumulator_value": -0.1}),
    # 张量学习率与 foreach
    ("Adam", {"lr": T(0.01), "foreach": True}),
    ("AdamW", {"lr": T(0.01), "foreach": True}),
    ("Adam", {"lr": T([0.01, 0.02]), "foreach": True}),  # foreach 的检查在元素个数之前
    # fused 与其他开关冲突：torch 在检查 optimlab 的"不支持"之前就报这些错
    *[(n, {"fused": True, "foreach": True}) for n in ["SGD", "Adam", "AdamW", "Adagrad"]],
    *[(n, {"fused": True, "differentiable": True}) for n in ["SGD", "Adam", "AdamW", "Adagrad"]],
    # 参数列表本身的问题（由基类 torch.optim.Optimizer 检查）
    *[(n, {"lr": 0.1, "__params__": []}) for n in NAMES],
    *[(n, {"lr": 0.1, "__params__": torch.zeros(3)}) for n in NAMES],
    *[(n, {"lr": 0.1, "__params__": [torch.zeros(3, requires_grad=True) * 2]}) for n in NAMES],
]


def case_id(name, kwargs):
    """A readable test id that is the same in every process (pytest-xdist compares them)."""

    def show(v):
        return "generator" if inspect.isgenerator(v) else repr(v).replace("\n", "")

    return f"{name}-" + "-".join(f"{k}={show(v)}" for k, v in kwargs.items())


@pytest.mark.parametrize("name,kwargs", [pytest.param(n, kw, id=case_id(n, kw)) for n, kw in INVALID])
def test_invalid_argument_same_error_as_torch(name, kwargs):
    ours_cls, torch_cls = pair(name)
    kwargs = dict(kwargs)
    params = kwargs.pop("__params__", None)
    theirs = outcome(construct(torch_cls, kwargs, params))
    ours = outcome(construct(ours_cls, kwargs, params))
    assert theirs[0] != "ok", "torch 接受了这个参数，用例本身写错了"
    assert ours == theirs


@pytest.mark.parametrize("name", NAMES)
def test_exact_message_examples(name):
    """几条写死的信息，防止两边"一起变"而对照测试察觉不到。"""
    cls = getattr(optimlab, name)
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0\.1$"):
        cls([torch.zeros(1, requires_grad=True)], lr=-0.1)
    with pytest.raises(ValueError, match=r"^Invalid weight_decay value: -1$"):
        cls([torch.zeros(1, requires_grad=True)], weight_decay=-1)
    with pytest.raises(ValueError, match=r"^Tensor lr must be 1-element$"):
        cls([torch.zeros(1, requires_grad=True)], lr=T([0.1, 0.2]))


def test_adam_beta_message_is_the_one_in_the_issue():
    with pytest.raises(ValueError) as info:
        optimlab.Adam([torch.zeros(1, requires_grad=True)], betas=(1.0, 0.999))
    assert str(info.value) == "Invalid beta parameter at index 0: 1.0"


# 边界上的合法值：两边都接受（"同样的异常"也包括"都不抛异常"）。
VALID_EDGES = [
    *[(n, {"lr": 0.0}) for n in NAMES],
    *[(n, {"lr": 0.1, "weight_decay": 0.0}) for n in NAMES],
    ("SGD", {"lr": 0.1, "dampening": -0.5}),  # torch 不检查阻尼
    ("SGD", {"lr": float("nan")}),  # torch 的 SGD 用 lr < 0 检查，NaN 能通过
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"betas": (0.0, 0.0), "eps": 0.0}),
    ("NAdam", {"momentum_decay": 0.0}),
    ("RMSprop", {"alpha": 5.0}),  # torch 只要求 alpha ≥ 0
    ("Adagrad", {"lr_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 0.0}),
    ("Adam", {"betas": (T(0.9), T(0.999))}),
    ("Adam", {"betas": (T([0.9]), T([[0.999]]))}),  # 1 元素的多维张量可以
    ("Adam", {"lr": T([0.01])}),
    *[(n, {"lr": T(0.01), "foreach": True}) for n in ["SGD", "NAdam", "RMSprop", "Adagrad"]],
    *[(n, {"lr": 0.1, "foreach": False}) for n in NAMES],
    *[(n, {"lr": 0.1, "__params__": (p for p in [torch.zeros(2, requires_grad=True)])}) for n in NAMES],
]


@pytest.mark.parametrize("name,kwargs", [pytest.param(n, kw, id=case_id(n, kw)) for n, kw in VALID_EDGES])
def test_valid_edge_accepted_by_both(name, kwargs):
    ours_cls, torch_cls = pair(name)
    kwargs = dict(kwargs)
    params = kwargs.pop("__params__", None)
    if params is not None:  # 生成器只能用一次：两边各造一个
        params = list(params)
    assert outcome(construct(torch_cls, kwargs, params)) == ("ok", None)
    assert outcome(construct(ours_cls, kwargs, params)) == ("ok", None)


def test_duplicate_parameter_across_groups_same_error():
    p = torch.zeros(2, requires_grad=True)
    for name in NAMES:
        ours_cls, torch_cls = pair(name)
        groups = [{"params": [p]}, {"params": [p]}]
        theirs = outcome(lambda: torch_cls(groups, lr=0.1))
        assert theirs[0] is ValueError
        assert outcome(lambda: ours_cls(groups, lr=0.1)) == theirs


@pytest.mark.parametrize("name", NAMES)
def test_add_param_group_errors_same_as_torch(name):
    ours_cls, torch_cls = pair(name)
    p, q = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    bad_groups = [
        {"params": [p]},  # 已在别的组里
        [q],  # 不是 dict
        {"params": set([q])},  # 集合顺序不确定
    ]
    for bad in bad_groups:
        results = []
        for cls in (ours_cls, torch_cls):
            opt = cls([p], lr=0.1)
            results.append(outcome(lambda opt=opt: opt.add_param_group(bad)))
        assert results[1][0] != "ok" and results[0] == results[1], bad


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_tensor_lr_with_foreach_refused_after_first_step(name):
    """已有状态之后才把学习率换成张量：torch 每一步都检查，下一次 step 就拒绝。"""
    ours_cls, torch_cls = pair(name)
    results = []
    for cls in (ours_cls, torch_cls):
        p = torch.ones(2, requires_grad=True)
        opt = cls([p], lr=0.1, foreach=True)
        p.grad = torch.ones(2)
        opt.step()
        opt.param_groups[0]["lr"] = T(0.1)
        results.append(outcome(opt.step))
    assert results[1][0] is RuntimeError
    assert results[0] == results[1]


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_tensor_lr_with_foreach_refused_at_step_too(name):
    """构造后把学习率换成张量（或 add_param_group 加入张量学习率的组）：torch 在 step 时拒绝。"""
    ours_cls, torch_cls = pair(name)
    results = []
    for cls in (ours_cls, torch_cls):
        p, q = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
        opt = cls([p], lr=0.1, foreach=True)
        opt.add_param_group({"params": [q], "lr": T(0.1)})
        p.grad, q.grad = torch.ones(2), torch.ones(2)
        results.append(outcome(opt.step))
    assert results[1][0] is RuntimeError
    assert results[0] == results[1]


# ---------------------------------------------------------------- optimlab 自己的拒绝

UNSUPPORTED = [
    ("SGD", "fused"), ("SGD", "differentiable"),
    ("Adam", "fused"), ("Adam", "capturable"), ("Adam", "differentiable"),
    ("AdamW", "fused"), ("AdamW", "capturable"), ("AdamW", "differentiable"),
    ("NAdam", "capturable"), ("NAdam", "differentiable"),
    ("RMSprop", "capturable"), ("RMSprop", "differentiable"),
    ("Adagrad", "fused"), ("Adagrad", "differentiable"),
]


@pytest.mark.parametrize("name,flag", UNSUPPORTED)
def test_unsupported_flags_raise_not_implemented(name, flag):
    cls = getattr(optimlab, name)
    with pytest.raises(NotImplementedError) as info:
        cls([torch.zeros(2, requires_grad=True)], lr=0.1, **{flag: True})
    msg = str(info.value)
    assert msg == (
        f"optimlab.{name} 不支持 {flag}=True：optimlab 只有一份逐个张量更新的"
        f"易读实现；需要 {flag} 时请用 torch.optim.{name}"
    )


@pytest.mark.parametrize("name,flag", UNSUPPORTED)
def test_unsupported_flag_set_later_refused_at_step(name, flag):
    """参数组里事后打开这些开关（或 add_param_group 带上它们）也会在 step 时明确拒绝，而不是悄悄忽略。"""
    cls = getattr(optimlab, name)
    p, q = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = cls([p], lr=0.1)
    opt.add_param_group({"params": [q], flag: True})
    p.grad, q.grad = torch.ones(2), torch.ones(2)
    with pytest.raises(NotImplementedError, match=f"不支持 {flag}=True"):
        opt.step()


@pytest.mark.parametrize("name", NAMES)
def test_foreach_is_accepted_and_gives_the_same_result(name):
    """foreach 被接受但忽略：foreach=True/False/None 三者逐位相同。"""
    cls = getattr(optimlab, name)
    finals = []
    for foreach in (None, False, True):
        gen = torch.Generator().manual_seed(0)
        p = torch.randn(5, generator=gen).requires_grad_()
        opt = cls([p], lr=0.05, foreach=foreach)
        for _ in range(5):
            opt.zero_grad()
            (p.sin() * p).sum().backward()
            opt.step()
        finals.append(p.detach().clone())
    assert torch.equal(finals[0], finals[1]) and torch.equal(finals[0], finals[2])


# ---------------------------------------------------------------- 稀疏梯度

# torch.sparse_coo_tensor 第一次被调用时提示"稀疏张量不变量检查默认关闭"，与优化器无关
sparse_warning = pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")


def embedding_problem(seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    emb = torch.nn.Embedding(10, 3, sparse=True).to(dtype)
    with torch.no_grad():
        emb.weight.copy_(torch.randn(10, 3, generator=gen, dtype=dtype))
    return emb


def sparse_batches(steps, seed=1):
    """每步一批索引，含重复索引（未合并的稀疏梯度），且有的行从不出现。"""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 8, (6,), generator=gen) for _ in range(steps)]


def train_sparse(cls, kwargs, dtype=torch.float32, steps=25):
    emb = embedding_problem(dtype=dtype)
    opt = cls(emb.parameters(), **kwargs)
    for idx in sparse_batches(steps):
        opt.zero_grad()
        out = emb(idx)
        (out.sin() * torch.arange(1, 4, dtype=dtype)).sum().backward()
        assert emb.weight.grad.is_sparse
        opt.step()
    return emb.weight.detach(), opt


@sparse_warning
@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("Adam", {}),
        ("AdamW", {}),
        ("NAdam", {}),
        ("RMSprop", {}),
        ("RMSprop", {"momentum": 0.9, "centered": True}),
        ("Adagrad", {"weight_decay": 0.1}),
        # torch 的 SGD 对稀疏梯度加 L2 项时由 torch.add 报错（稀疏 + 稠密），optimlab 报同样的错
        ("SGD", {"weight_decay": 0.01}),
        ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ],
)
def test_sparse_gradient_refused_like_torch(name, kwargs):
    ours_cls, torch_cls = pair(name)
    results = [outcome(lambda cls=cls: train_sparse(cls, dict(kwargs, lr=0.1), steps=1)) for cls in (ours_cls, torch_cls)]
    assert results[1][0] is RuntimeError
    assert results[0] == results[1]


@sparse_warning
def test_sparse_refusal_messages():
    expected = {
        "Adam": "Adam does not support sparse gradients, please consider SparseAdam instead",
        "AdamW": "Adam does not support sparse gradients, please consider SparseAdam instead",
        "NAdam": "NAdam does not support sparse gradients",
        "RMSprop": "RMSprop does not support sparse gradients",
    }
    for name, msg in expected.items():
        with pytest.raises(RuntimeError) as info:
            train_sparse(getattr(optimlab, name), {"lr": 0.1}, steps=1)
        assert str(info.value) == msg
    with pytest.raises(RuntimeError) as info:
        train_sparse(optimlab.Adagrad, {"lr": 0.1, "weight_decay": 0.1}, steps=1)
    assert str(info.value) == "weight_decay option is not compatible with sparse gradients"


SPARSE_OK = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.2, "eps": 1e-3}),
    ("Adagrad", {"lr": 0.1, "maximize": True}),
]


@sparse_warning
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,kwargs", SPARSE_OK, ids=[case_id(n, kw) for n, kw in SPARSE_OK])
def test_sparse_gradient_handled_bitwise(name, kwargs, dtype):
    ours_cls, torch_cls = pair(name)
    w_ours, ours = train_sparse(ours_cls, kwargs, dtype)
    w_torch, theirs = train_sparse(torch_cls, kwargs, dtype)
    assert_bitwise([w_ours], [w_torch], name)
    assert not torch.equal(w_ours, embedding_problem(dtype=dtype).weight)  # 真的更新了
    # 从未出现的行（索引 8、9）不动：稀疏更新只作用于出现过的行
    assert torch.equal(w_ours[8:], embedding_problem(dtype=dtype).weight[8:])
    sd_ours, sd_torch = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert sd_ours.keys() == sd_torch.keys()
    for i in sd_torch:
        for k, v in sd_torch[i].items():
            x = sd_ours[i][k]
            assert x.is_sparse == v.is_sparse and x.layout == v.layout, k
            if v.is_sparse:
                x, v = x.coalesce(), v.coalesce()
                assert torch.equal(x.indices(), v.indices()), k
                x, v = x.values(), v.values()
            assert torch.equal(x, v), k
