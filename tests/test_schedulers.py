"""学习率调度器下的逐位对照：StepLR、CosineAnnealingLR、ReduceLROnPlateau、OneCycleLR。

调度器只改写参数组里的 ``lr``（OneCycleLR 还改写 ``momentum`` 或 ``betas[0]``），
优化器每一步都必须从参数组里重新读取这些值，才能与 torch.optim 逐位一致。
"""

import pytest
import torch
from torch.optim import lr_scheduler

from oracle import NAMES, assert_bitwise, assert_same_state, make_params, pair, train

STEPS = 40

# 每个优化器一组有代表性的选项：打开会读取被调度超参数的分支（动量、解耦衰减、AMSGrad……）。
OPTIONS = {
    "SGD": {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "Adam": {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
    "AdamW": {"lr": 0.01, "weight_decay": 0.1},
    "NAdam": {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.01},
}


def step_lr(opt):
    return lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)


def cosine(opt):
    return lr_scheduler.CosineAnnealingLR(opt, T_max=15, eta_min=1e-4)


def plateau(opt):
    # threshold 很大：几乎每一步都算"没有改善"，保证 40 步内学习率确实被降低了好几次
    return lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, threshold=0.5, cooldown=1)


def one_cycle(cycle_momentum):
    def make(opt):
        # max_lr 用列表：两个参数组的峰值不同；总步数等于训练步数（超过会报错）
        max_lr = [g["lr"] * 4 for g in opt.param_groups]
        return lr_scheduler.OneCycleLR(
            opt, max_lr=max_lr, total_steps=STEPS, pct_start=0.3, cycle_momentum=cycle_momentum
        )

    return make


SCHEDULERS = {"StepLR": step_lr, "CosineAnnealingLR": cosine, "ReduceLROnPlateau": plateau}

CASES = [
    pytest.param(name, sched, id=f"{name}-{sched}") for name in NAMES for sched in SCHEDULERS
]


def run_both(name, kwargs, scheduler, dtype):
    ours_cls, torch_cls = pair(name)
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, s_ours = train(ours_cls, kwargs, params=p_ours, steps=STEPS, groups=True, scheduler=scheduler)
    theirs, s_theirs = train(torch_cls, kwargs, params=p_torch, steps=STEPS, groups=True, scheduler=scheduler)
    assert_bitwise(p_ours, p_torch, name)
    assert_same_state(ours, theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]
    return ours, theirs


def lrs(opt):
    return [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,sched", CASES)
def test_lr_schedule_bitwise(name, sched, dtype):
    kwargs = OPTIONS[name]
    ours, _ = run_both(name, kwargs, SCHEDULERS[sched], dtype)
    # 调度器真的起了作用：最后的学习率已经不是初始值
    assert lrs(ours) != [kwargs["lr"], kwargs["lr"] * 0.5]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", NAMES)
def test_one_cycle_lr_only_bitwise(name, dtype):
    """OneCycleLR 只调学习率（cycle_momentum=False）：对所有优化器都适用，包括没有动量的 Adagrad。"""
    run_both(name, OPTIONS[name], one_cycle(False), dtype)


MOMENTUM_NAMES = ["SGD", "RMSprop"]  # OneCycleLR 改写 group["momentum"]
BETAS_NAMES = ["Adam", "AdamW", "NAdam"]  # OneCycleLR 改写 group["betas"][0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", MOMENTUM_NAMES + BETAS_NAMES)
def test_one_cycle_cycles_momentum_or_beta1_bitwise(name, dtype):
    ours, theirs = run_both(name, OPTIONS[name], one_cycle(True), dtype)
    key = "momentum" if name in MOMENTUM_NAMES else "betas"
    assert key in ours.defaults
    # OneCycleLR 从 max_momentum=0.95 降到 0.85 再升回去；最后一步停在两者之间，说明它确实循环过
    for group in ours.param_groups:
        first = group[key] if key == "momentum" else group[key][0]
        assert 0.85 < first < 0.95
        assert group["max_momentum"] == 0.95 and group["base_momentum"] == 0.85


def test_one_cycle_momentum_is_read_every_step():
    """反证：若优化器缓存了构造时的动量，OneCycleLR 的循环就不起作用。

    这里比较两次 optimlab 训练（循环动量 vs 不循环），参数必须不同，说明上面的逐位一致不是偶然。
    """
    ours_cls, _ = pair("SGD")
    p_cycle, p_fixed = make_params(), make_params()
    train(ours_cls, OPTIONS["SGD"], params=p_cycle, steps=STEPS, scheduler=one_cycle(True))
    train(ours_cls, OPTIONS["SGD"], params=p_fixed, steps=STEPS, scheduler=one_cycle(False))
    assert not torch.equal(p_cycle[0], p_fixed[0])


@pytest.mark.parametrize("name", NAMES)
def test_tensor_lr_under_step_lr(name):
    """张量学习率：调度器原地 fill_ 这个张量，optimlab 每步读取它的当前值。"""
    ours_cls, torch_cls = pair(name)
    p_ours, p_torch = make_params(), make_params()
    kw_ours = dict(OPTIONS[name], lr=torch.tensor(OPTIONS[name]["lr"]))
    kw_torch = dict(OPTIONS[name], lr=torch.tensor(OPTIONS[name]["lr"]))
    ours, _ = train(ours_cls, kw_ours, params=p_ours, steps=STEPS, scheduler=step_lr)
    theirs, _ = train(torch_cls, kw_torch, params=p_torch, steps=STEPS, scheduler=step_lr)
    assert_bitwise(p_ours, p_torch, name)
    assert_same_state(ours, theirs)
    assert torch.is_tensor(ours.param_groups[0]["lr"])
    assert ours.param_groups[0]["lr"].item() == theirs.param_groups[0]["lr"].item() < OPTIONS[name]["lr"]


def test_plateau_actually_reduced():
    """ReduceLROnPlateau 在这个问题上确实降低了学习率（否则上面的 plateau 用例只测了常数学习率）。"""
    ours_cls, _ = pair("Adam")
    opt, sched = train(ours_cls, OPTIONS["Adam"], params=make_params(), steps=STEPS, scheduler=plateau)
    assert opt.param_groups[0]["lr"] <= OPTIONS["Adam"]["lr"] * 0.5**3
