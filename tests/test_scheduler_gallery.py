"""附录《学习率调度器一览》的对照测试：torch 的每个调度器 × optimlab 的全部 15 个优化器。

调度器只改写参数组（``lr``；CyclicLR、OneCycleLR 还改写 ``momentum`` 或 ``betas[0]``），
所以同一个调度器驱动 optimlab 与驱动 torch.optim 时，每一步的参数组必须相同，参数必须逐位相同。
"允许"与否由 torch 决定：调度器在 torch.optim 的类上抛出异常时，optimlab 必须抛出同类型、同信息的异常。
"""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler as ls
from torch.optim.swa_utils import SWALR, AveragedModel

import optimlab
from oracle import outcome

# torch 第一次构造稀疏张量（SparseAdam）时的一次性提示，与本文件无关
pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")

STEPS = 8
DTYPE = torch.float64

# ReduceLROnPlateau 监视的指标：固定的序列，停滞两次（patience=1：第 4、7 次 step 之后降低学习率）
METRICS = [1.0, 0.8, 0.8, 0.81, 0.7, 0.7, 0.7, 0.6]


def lr_lambda(k):
    return 0.9**k


def mult_lambda(k):
    return 0.95 if k % 2 else 0.8


def lrs(opt, factor):
    """每个参数组各自的学习率乘以 factor（CyclicLR、OneCycleLR、SWALR 接受逐组的列表）。"""
    return [g["lr"] * factor for g in opt.param_groups]


# 名字 -> (optimizer) -> scheduler；名字即测试 id
SCHEDULERS = {
    "LambdaLR": lambda o: ls.LambdaLR(o, lr_lambda),
    "MultiplicativeLR": lambda o: ls.MultiplicativeLR(o, mult_lambda),
    "StepLR": lambda o: ls.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda o: ls.MultiStepLR(o, milestones=[2, 5, 5, 7], gamma=0.5),
    "ConstantLR": lambda o: ls.ConstantLR(o, factor=0.25, total_iters=4),
    "LinearLR": lambda o: ls.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=5),
    "ExponentialLR": lambda o: ls.ExponentialLR(o, gamma=0.8),
    "SequentialLR": lambda o: ls.SequentialLR(
        o, [ls.LinearLR(o, start_factor=0.1, total_iters=3), ls.CosineAnnealingLR(o, T_max=STEPS - 3)],
        milestones=[3],
    ),
    "WSD": lambda o: ls.SequentialLR(
        o,
        [
            ls.LinearLR(o, start_factor=0.1, total_iters=2),
            ls.ConstantLR(o, factor=1.0, total_iters=3),
            ls.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=3),
        ],
        milestones=[2, 5],
    ),
    "PolynomialLR": lambda o: ls.PolynomialLR(o, total_iters=6, power=2.0),
    "CosineAnnealingLR": lambda o: ls.CosineAnnealingLR(o, T_max=3, eta_min=1e-4),  # 越过 T_max 后回升
    "ChainedScheduler": lambda o: ls.ChainedScheduler(
        [ls.ConstantLR(o, factor=0.5, total_iters=4), ls.ExponentialLR(o, gamma=0.9)], optimizer=o
    ),
    "ReduceLROnPlateau": lambda o: ls.ReduceLROnPlateau(o, factor=0.5, patience=1),
    "CyclicLR": lambda o: ls.CyclicLR(o, base_lr=lrs(o, 0.1), max_lr=lrs(o, 1.0), step_size_up=3),
    "CyclicLR-exp_range": lambda o: ls.CyclicLR(
        o, base_lr=lrs(o, 0.1), max_lr=lrs(o, 1.0), step_size_up=2, step_size_down=3,
        mode="exp_range", gamma=0.9,
    ),
    "CyclicLR-lr_only": lambda o: ls.CyclicLR(
        o, base_lr=lrs(o, 0.1), max_lr=lrs(o, 1.0), step_size_up=2, mode="triangular2",
        cycle_momentum=False,
    ),
    "CosineAnnealingWarmRestarts": lambda o: ls.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2),
    "OneCycleLR": lambda o: ls.OneCycleLR(o, max_lr=lrs(o, 2.0), total_steps=STEPS),
    "OneCycleLR-lr_only": lambda o: ls.OneCycleLR(
        o, max_lr=lrs(o, 2.0), total_steps=STEPS, anneal_strategy="linear", three_phase=True,
        cycle_momentum=False,
    ),
    "SWALR": lambda o: SWALR(o, swa_lr=lrs(o, 0.1), anneal_epochs=5),
}

# 循环动量的调度器只接受 defaults 里有 momentum 或 betas 的优化器
CYCLES_MOMENTUM = {"CyclicLR", "CyclicLR-exp_range", "OneCycleLR"}
NO_MOMENTUM = {"Adagrad", "Adadelta", "ASGD", "Rprop", "LBFGS", "Adafactor"}


# ---------------------------------------------------------------------------
# 每个优化器的最小问题：一个小模块（AveragedModel 需要 nn.Module）、参数组、第 k 步的损失
# ---------------------------------------------------------------------------


INPUTS = torch.randn(STEPS, 5, 4, generator=torch.Generator().manual_seed(100), dtype=DTYPE)  # 第 k 步的小批量


class Dense(nn.Module):
    """两个参数张量 w (4, 3)、b (3,)；Muon 只接受二维参数，所以它的第二个参数也是矩阵。"""

    def __init__(self, matrices_only=False):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.w = nn.Parameter(torch.randn(4, 3, generator=gen, dtype=DTYPE))
        shape = (3, 2) if matrices_only else (3,)
        self.b = nn.Parameter(torch.randn(shape, generator=gen, dtype=DTYPE))

    def loss(self, k):
        h = torch.tanh(INPUTS[k] @ self.w)
        out = h @ self.b if self.b.ndim == 2 else h + self.b
        return (out - 0.5).pow(2).mean()


class Sparse(nn.Module):
    """SparseAdam 需要稀疏梯度：两个 nn.Embedding(sparse=True)。"""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.e1 = nn.Embedding(6, 3, sparse=True, dtype=DTYPE)
        self.e2 = nn.Embedding(6, 3, sparse=True, dtype=DTYPE)

    def loss(self, k):
        idx = torch.tensor([k % 6, (2 * k + 1) % 6, (k + 3) % 6])
        return ((self.e1(idx) * self.e2(idx)).sum(1) - 1.0).pow(2).mean()


def setup(name):
    """(模块, 参数组规格)。LBFGS 只允许一个参数组，其余用两组（第二组学习率减半）。"""
    if name == "SparseAdam":
        model = Sparse()
        first, second = [model.e1.weight], [model.e2.weight]
    else:
        model = Dense(matrices_only=name == "Muon")
        first, second = [model.w], [model.b]
    if name == "LBFGS":
        return model, first + second
    lr = inspect.signature(getattr(torch.optim, name)).parameters["lr"].default  # torch 的默认学习率
    return model, [{"params": first}, {"params": second, "lr": lr * 0.5}]


def groups(opt):
    """参数组里除参数本身以外的全部键值（lr、momentum/betas、initial_lr、max_lr ……）。"""
    return [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]


# 除此之外一律用默认超参数。LBFGS 默认每步最多 20 次迭代、保存 100 对历史，测试里减少到 2 次、4 对
KWARGS = {"LBFGS": {"max_iter": 2, "history_size": 4}}


def build(cls, name):
    """(模块, 优化器)：cls 是 optimlab 或 torch.optim 中名为 name 的类。"""
    model, spec = setup(name)
    return model, cls(spec, **KWARGS.get(name, {}))


def run(cls, name, make_sched, average=False):
    """用 cls 的优化器和调度器训练 STEPS 步，返回 (模块, 优化器, 每步的参数组, 平均模型, 快照)。"""
    model, opt = build(cls, name)
    sched = make_sched(opt)
    trace = [groups(opt)]
    swa = AveragedModel(model) if average else None
    snapshots = []
    for k in range(STEPS):

        def closure(k=k):
            opt.zero_grad()
            loss = model.loss(k)
            loss.backward()
            return loss

        opt.step(closure)  # 每个优化器都接受 closure；LBFGS 必须有
        if isinstance(sched, ls.ReduceLROnPlateau):
            sched.step(METRICS[k])
        else:
            sched.step()
        trace.append(groups(opt))
        if swa is not None:
            swa.update_parameters(model)
            snapshots.append([p.detach().clone() for p in model.parameters()])
    return model, opt, trace, swa, snapshots


def same(a, b):
    """递归比较：张量逐位（torch.equal，且 dtype 相同），其余用 ==。"""
    if torch.is_tensor(a) or torch.is_tensor(b):
        return torch.is_tensor(a) and torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def assert_params_bitwise(ours, theirs, what):
    for (n, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert torch.isfinite(b).all(), f"{what}：对照实验发散了"
        assert torch.equal(a, b), f"{what}：参数 {n} 与 torch.optim 不逐位一致，最大差 {(a - b).abs().max():.3e}"


CASES = [
    pytest.param(sched, name, id=f"{sched}-{name}") for sched in SCHEDULERS for name in optimlab.OPTIMIZERS
]


# 任何 UserWarning（例如“lr_scheduler.step() 在 optimizer.step() 之前调用”）都算失败；
# 只有 torch 第一次构造稀疏张量时的提示例外
@pytest.mark.filterwarnings("error::UserWarning", "ignore:Sparse invariant checks:UserWarning")
@pytest.mark.parametrize("sched_name,name", CASES)
def test_scheduler_drives_optimlab_like_torch(sched_name, name):
    ours_cls, torch_cls = getattr(optimlab, name), getattr(torch.optim, name)
    what = f"{sched_name} × {name}"

    # 是否允许由 torch 决定：在 torch.optim 的类上构造调度器，看它是否抛出异常
    expected = outcome(lambda: SCHEDULERS[sched_name](build(torch_cls, name)[1]))
    got = outcome(lambda: SCHEDULERS[sched_name](build(ours_cls, name)[1]))
    assert got == expected, what
    if expected[0] != "ok":  # 只有循环动量的调度器遇到没有动量的优化器时才会被拒绝
        assert sched_name in CYCLES_MOMENTUM and name in NO_MOMENTUM, expected
        return

    average = sched_name == "SWALR"
    make = SCHEDULERS[sched_name]
    m_ours, o_ours, t_ours, swa_ours, _ = run(ours_cls, name, make, average)
    m_theirs, o_theirs, t_theirs, swa_theirs, snaps = run(torch_cls, name, make, average)

    # 每一步之后的参数组（lr、momentum / betas 以及调度器写入的 initial_lr、max_lr ……）完全相同
    for k, (a, b) in enumerate(zip(t_ours, t_theirs, strict=True)):
        assert a == b, f"{what}：第 {k} 次 scheduler.step() 之后参数组不同"
    # 调度器确实改变了学习率（否则比较的只是常数学习率）
    assert len({tuple(g["lr"] for g in step) for step in t_theirs}) > 1, what
    assert_params_bitwise(m_ours, m_theirs, what)
    assert same(o_ours.state_dict()["state"], o_theirs.state_dict()["state"]), f"{what}：优化器状态不同"

    if average:
        # AveragedModel 的平均：两边逐位相同，并且等于快照的算术平均（闭式）
        assert int(swa_ours.n_averaged) == int(swa_theirs.n_averaged) == STEPS
        assert_params_bitwise(swa_ours.module, swa_theirs.module, f"{what} AveragedModel")
        for i, p in enumerate(swa_ours.module.parameters()):
            mean = torch.stack([s[i] for s in snaps]).mean(0)
            torch.testing.assert_close(p.detach(), mean, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("sched_name", sorted(CYCLES_MOMENTUM))
def test_momentum_cycling_is_refused_exactly_where_torch_refuses(sched_name):
    """循环动量的调度器：torch 拒绝的正是 defaults 里既没有 momentum 也没有 betas 的 6 个优化器。"""
    refused = set()
    for name in optimlab.OPTIMIZERS:
        kind, message = outcome(lambda: SCHEDULERS[sched_name](build(getattr(torch.optim, name), name)[1]))
        if kind != "ok":
            assert kind is ValueError
            assert message == "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
            refused.add(name)
    assert refused == NO_MOMENTUM


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Muon", "Adam", "NAdam", "SparseAdam"])
def test_one_cycle_actually_cycles_momentum(name):
    """OneCycleLR 写入的动量（或 betas[0]）确实被 optimlab 读取：换成不循环动量时参数不同。"""
    cls = getattr(optimlab, name)
    cycled = run(cls, name, SCHEDULERS["OneCycleLR"])[0]
    # 同样的学习率曲线，但动量保持构造时的值
    def lr_only(o):
        return ls.OneCycleLR(o, max_lr=lrs(o, 2.0), total_steps=STEPS, cycle_momentum=False)

    fixed = run(cls, name, lr_only)[0]
    assert any(not torch.equal(a, b) for a, b in zip(cycled.parameters(), fixed.parameters()))
