"""第 5 章正文中的数值结论：以闭式解或 torch 自己的调度器为参照。

* 预热与 WSD：用 torch 的 LinearLR、ConstantLR、CosineAnnealingLR 经 SequentialLR 拼成的调度，
  驱动 optimlab.Adam 时参数组里的学习率，逐步等于手写的闭式。
* 预热的实验：digits 上两层 ReLU 网络（float64），η = 0.05。不预热的 Adam 在最初几步就让第二个隐藏层
  （输入是 ReLU 的输出，全部 ≥ 0）的许多单元“死掉”；预热 50 步时少得多；同样学习率的 SGD + 动量几乎没有。
  第一个隐藏层（输入是有正有负的标准化像素）一个也不死。Adam 的第一步每个坐标都走 η。
* 调度器探索器：图例写出调度器的名字；余弦的 T_max 小于轮数时说明回升；OneCycle 的峰值学习率
  超过全批量稳定上限时说明损失中途暴涨。
* plot_losses 不在 1e-16 截断：画出的值等于 f(θ_t) − f*，0 画在 float64 最小的正规数处。
"""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.optim.lr_scheduler import (  # noqa: E402
    ConstantLR,
    CosineAnnealingLR,
    LinearLR,
    SequentialLR,
)

import optimlab  # noqa: E402
from optimlab import problems, trajectory  # noqa: E402
from optimlab.plotting import GAP_LABEL, TINY, plot_losses  # noqa: E402

# ---------------------------------------------------------------- 预热与 WSD 的学习率

ETA, F0, W, S, T = 1e-3, 0.01, 10, 80, 100  # 峰值、起始因子、预热步数、衰减起点、总步数


def _lrs(make, steps=T):
    """用 optimlab.Adam 驱动调度器，记录第 0..steps−1 步所用的学习率（与书中的 schedule 相同）。"""
    p = torch.zeros(1, requires_grad=True)
    opt = optimlab.Adam([p], lr=ETA)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def warm(k):  # 线性预热：从 F0·η 线性升到 η，第 W 步起为 η
    return ETA * (F0 + (1 - F0) * min(k, W) / W)


CLOSED = {
    "预热 + 常数": (
        lambda o: LinearLR(o, start_factor=F0, total_iters=W),
        warm),
    "预热 + 余弦": (
        lambda o: SequentialLR(o, [LinearLR(o, start_factor=F0, total_iters=W),
                                   CosineAnnealingLR(o, T_max=T - W)], milestones=[W]),
        lambda k: warm(k) if k < W else ETA * (1 + math.cos(math.pi * (k - W) / (T - W))) / 2),
    "WSD": (
        lambda o: SequentialLR(o, [LinearLR(o, start_factor=F0, total_iters=W),
                                   ConstantLR(o, factor=1.0, total_iters=S - W),
                                   LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=T - S)],
                               milestones=[W, S]),
        lambda k: warm(k) if k < S else ETA * (1 - (k - S) / (T - S))),
}


@pytest.mark.parametrize("name", list(CLOSED))
def test_warmup_schedules_equal_closed_form(name):
    make, closed = CLOSED[name]
    np.testing.assert_allclose(_lrs(make), [closed(k) for k in range(T)], rtol=1e-12, atol=1e-18)


def test_warmup_schedule_hand_values():
    """几个手算的值：第 0 步 0.01η，第 5 步 0.505η，第 W 步起 η；WSD 第 90 步 0.5η，第 99 步 0.05η。"""
    lr = {name: _lrs(make) / ETA for name, (make, _) in CLOSED.items()}
    for name in CLOSED:
        assert lr[name][0] == pytest.approx(0.01, rel=1e-12)
        assert lr[name][5] == pytest.approx(0.505, rel=1e-12)
        assert lr[name][W] == pytest.approx(1.0, rel=1e-12)
    assert lr["预热 + 常数"][99] == pytest.approx(1.0, rel=1e-12)
    assert lr["WSD"][79] == pytest.approx(1.0, rel=1e-12)
    assert lr["WSD"][90] == pytest.approx(0.5, rel=1e-12)
    assert lr["WSD"][99] == pytest.approx(0.05, rel=1e-12)
    assert lr["预热 + 余弦"][55] == pytest.approx(0.5, rel=1e-12)  # 余弦段的中点


# ---------------------------------------------------------------- 预热的实验

LR, WARMUP, SEEDS = 0.05, 50, range(8)


def _mlp2(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 10)).double()


@pytest.fixture(scope="module")
def digits64():
    X, y, _, _ = problems.digits()
    return X.double(), y


def _dead(model, X):
    """(第一层, 第二层) 中对全部训练样本都输出 0 的单元数。"""
    with torch.no_grad():
        h1 = model[:2](X)
        h2 = model[2:4](h1)
    return int((h1.amax(0) == 0).sum()), int((h2.amax(0) == 0).sum())


def _early(make_opt, seed, X, y, warmup=0, checkpoints=(10, 50, 100)):
    """与书中相同的训练（每步从训练集有放回地抽 64 个样本），返回 {步数: (第一层, 第二层) 的死亡单元数}。"""
    model = _mlp2(seed)
    opt = make_opt(model.parameters())
    sched = LinearLR(opt, start_factor=0.01, total_iters=warmup) if warmup else None
    gen = torch.Generator().manual_seed(seed)
    ce = nn.CrossEntropyLoss()
    out = {0: _dead(model, X)}
    for t in range(1, max(checkpoints) + 1):
        idx = torch.randint(len(X), (64,), generator=gen)
        opt.zero_grad()
        ce(model(X[idx]), y[idx]).backward()
        opt.step()
        if sched is not None:
            sched.step()
        if t in checkpoints:
            out[t] = _dead(model, X)
    return out


@pytest.fixture(scope="module")
def dead_counts(digits64):
    """三种做法在 8 个种子上的死亡单元总数：{做法: {步数: (第一层, 第二层)}}（各层共 8 × 32 = 256 个）。"""
    X, y = digits64
    configs = {
        "Adam": (lambda ps: optimlab.Adam(ps, lr=LR), 0),
        "Adam + 预热": (lambda ps: optimlab.Adam(ps, lr=LR), WARMUP),
        "SGD + 动量": (lambda ps: optimlab.SGD(ps, lr=LR, momentum=0.9), 0),
    }
    out = {}
    for name, (make, warmup) in configs.items():
        runs = [_early(make, s, X, y, warmup) for s in SEEDS]
        out[name] = {t: tuple(sum(r[t][i] for r in runs) for i in range(2)) for t in runs[0]}
    return out


def test_warmup_experiment_dead_units(dead_counts):
    adam, warm_, sgd = dead_counts["Adam"], dead_counts["Adam + 预热"], dead_counts["SGD + 动量"]
    for counts in dead_counts.values():  # 起点一个也没死；第一层始终一个也不死
        assert counts[0] == (0, 0)
        assert all(first == 0 for first, _ in counts.values())
    # 不预热：前 10 步就死掉 10% 以上（本机 32/256），之后基本不变（第 100 步 36/256）
    assert 26 <= adam[10][1] <= 40
    assert adam[100][1] - adam[10][1] <= 8
    # 预热 50 步：第 10 步几乎没有（本机 2），第 50 步（7）、第 100 步（11）都不到不预热时的三分之一上下
    assert warm_[10][1] <= 4
    assert 3 * warm_[50][1] < adam[50][1]
    assert 2 * warm_[100][1] < adam[100][1]
    # 同样 η 的 SGD + 动量：一个也没有
    assert sgd[100][1] <= 2


def test_adam_first_step_moves_every_coordinate_by_lr(digits64):
    """Adam 第一步 |Δθ| = η|g|/(|g| + ε) ≈ η（梯度不为 0 的坐标）；SGD 第一步是 η|g|，小得多。"""
    X, y = digits64
    moves = {}
    for name, make in [("Adam", lambda ps: optimlab.Adam(ps, lr=LR)),
                       ("SGD", lambda ps: optimlab.SGD(ps, lr=LR, momentum=0.9))]:
        model = _mlp2(0)
        before = torch.cat([p.detach().flatten() for p in model.parameters()])
        opt = make(model.parameters())
        nn.CrossEntropyLoss()(model(X[:64]), y[:64]).backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        opt.step()
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        moves[name] = ((after - before).abs() / LR).numpy()
        nonzero = (grads != 0).numpy()
        if name == "Adam":
            g = grads.abs().numpy()[nonzero]
            np.testing.assert_allclose(moves[name][nonzero], g / (g + 1e-8), rtol=1e-12)
            assert np.all(moves[name][~nonzero] == 0)
    assert np.median(moves["Adam"]) > 0.999
    assert np.median(moves["SGD"]) < 0.01


# ---------------------------------------------------------------- 调度器探索器


def test_scheduler_explorer_names_and_explains():
    from optimlab import widgets as w

    ex = w.scheduler_explorer("step")
    labels = [t.get_text() for t in ex.ax_lr.get_legend().get_texts()]
    assert labels == ["StepLR", "常数 $\\eta_0$（对照）"]
    ex.set(kind="cosine", T_max=10)
    assert [t.get_text() for t in ex.ax_lr.get_legend().get_texts()][0] == "CosineAnnealingLR（余弦）"
    assert "第 10 轮后" in ex.status.get_text() and "周期 2·T_max = 20 轮" in ex.status.get_text()
    # torch 的余弦在 T_max 之后沿余弦回升：第 20 轮回到 η₀（每轮 10 次更新）
    lr = ex.lines["lr"].get_ydata()
    eta0 = ex.settings()["lr"]
    assert lr[10 * 20] == pytest.approx(eta0, rel=1e-9)
    assert lr[10 * 10] < 1e-11  # 第 10 轮：η_min = 0（画图时下限 1e-12）
    ex.set(kind="onecycle", max_lr=0.5, pct_start=0.3)
    assert [t.get_text() for t in ex.ax_lr.get_legend().get_texts()][0] == "OneCycleLR"
    text = ex.status.get_text()
    assert "超过" in text and "曾升到" in text
    # 全批量梯度下降的稳定上限：2/λ_max，λ_max 是 (2/n)AᵀA 的最大特征值（numpy 独立计算）
    X, _, _ = problems.linear_regression()
    A = np.c_[X[:, 0].numpy(), np.ones(len(X))]
    limit = 2 / np.linalg.eigvalsh(2 * A.T @ A / len(A)).max()
    assert w.regression_lr_limit() == pytest.approx(limit, rel=1e-12)
    assert 0.3 < limit < 0.5 < 0.5 + 1e-9
    ex.set(kind="onecycle", max_lr=0.1)
    assert "超过" not in ex.status.get_text() and "曾升到" not in ex.status.get_text()
    ex.set(kind="constant")
    assert [t.get_text() for t in ex.ax_lr.get_legend().get_texts()] == ["常数 η₀（不调度）"]
    assert not ex.lines["lr_base"].get_visible()


# ---------------------------------------------------------------- plot_losses


def test_plot_losses_does_not_clip_at_1e16_and_labels_the_gap():
    steep = problems.quadratic(cond=1000)
    rms = trajectory.run(steep, optimlab.RMSprop, steps=200, lr=0.1, label="RMSprop")
    fig, ax = plt.subplots()
    plot_losses([rms], ax)
    y = ax.get_lines()[0].get_ydata()
    np.testing.assert_array_equal(y, np.maximum(rms.loss, TINY))
    assert y[-1] == rms.loss[-1] < 1e-50  # 正文打印 7.71e-53，图上也是
    assert ax.get_ylabel() == GAP_LABEL == "$f(\\theta_t) - f^*$"
    plt.close(fig)
    zero = trajectory.Trajectory(np.zeros((3, 2)), np.array([1.0, 0.0, -1e-17]), None, "零")
    fig, ax = plt.subplots()
    plot_losses([zero], ax, ylabel="损失")
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [1.0, TINY, TINY])
    assert ax.get_ylabel() == "损失"
    plt.close(fig)
