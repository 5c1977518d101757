"""optimlab.measure：状态内存、曲面上的学习率扫描、敏感度宽度。"""

import math

import numpy as np
import pytest
import torch
from torch import nn

import optimlab
from optimlab import measure, problems, training, trajectory


@pytest.mark.parametrize(
    "cls, hparams, per_param, keys",
    [
        (optimlab.SGD, {"lr": 0.1}, 0.0, []),
        (optimlab.SGD, {"lr": 0.1, "momentum": 0.9}, 4.0, ["momentum_buffer"]),
        (optimlab.RMSprop, {}, 4.0, ["square_avg"]),
        (optimlab.RMSprop, {"centered": True, "momentum": 0.9}, 12.0, ["square_avg", "momentum_buffer", "grad_avg"]),
        (optimlab.Adam, {}, 8.0, ["exp_avg", "exp_avg_sq"]),
        (optimlab.Adam, {"amsgrad": True}, 12.0, ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]),
        (optimlab.AdamW, {}, 8.0, ["exp_avg", "exp_avg_sq"]),
        (optimlab.NAdam, {}, 8.0, ["exp_avg", "exp_avg_sq"]),
        (optimlab.Adagrad, {}, 4.0, ["sum"]),
    ],
)
def test_measure_state_bytes_per_param(cls, hparams, per_param, keys):
    m = measure.measure_state(cls, **hparams)
    assert m.per_param == per_param
    assert sorted(m.by_key) == sorted(keys)
    assert m.n_params == 64 * 32 + 32 + 32 * 10 + 10


def test_scalar_state_counted_separately():
    # mlp 有 4 个参数张量：每个一个 float32 的 step；NAdam 另有 mu_product
    assert measure.measure_state(optimlab.Adam).scalar_bytes == 4 * 4
    assert measure.measure_state(optimlab.NAdam).scalar_bytes == 4 * 8
    assert measure.measure_state(optimlab.SGD, momentum=0.9).scalar_bytes == 0


def test_float64_doubles_state():
    assert measure.measure_state(optimlab.Adam, dtype=torch.float64).per_param == 16.0
    assert measure.measure_state(optimlab.SGD, dtype=torch.float64, momentum=0.5).per_param == 8.0


def test_state_nbytes_matches_torch_optim_and_is_empty_before_step():
    model = nn.Linear(5, 3)
    opt = torch.optim.Adam(model.parameters())
    assert measure.state_nbytes(opt).per_param == 0.0  # 状态在第一次 step 时才创建
    model(torch.ones(2, 5)).sum().backward()
    opt.step()
    m = measure.state_nbytes(opt)
    assert m.per_param == 8.0 and m.n_params == 18 and m.by_key == {"exp_avg": 4.0, "exp_avg_sq": 4.0}


@pytest.mark.parametrize(
    "surface, cls, hparams",
    [
        (problems.rosenbrock(), optimlab.Adam, {}),
        (problems.rosenbrock(), optimlab.SGD, {"momentum": 0.9}),
        (problems.beale(), optimlab.RMSprop, {}),
        (problems.quadratic(30.0), optimlab.NAdam, {}),
    ],
)
def test_sweep_surface_rows_equal_trajectory_run(surface, cls, hparams):
    lrs = [1e-3, 3e-2, 0.3, 3.0]
    losses = measure.sweep_surface(surface, cls, lrs, steps=60, **hparams)
    assert losses.shape == (4, 61)
    for row, lr in zip(losses, lrs):
        ref = trajectory.run(surface, cls, 60, lr=lr, **hparams).loss
        np.testing.assert_array_equal(row, ref)


def test_sweep_surface_divergence_is_nan_like_run():
    s = problems.rosenbrock()
    losses = measure.sweep_surface(s, optimlab.SGD, [1e-3, 0.1], steps=30)
    ref = trajectory.run(s, optimlab.SGD, 30, lr=0.1)
    assert ref.diverged_at is not None
    assert np.isnan(losses[1, ref.diverged_at:]).all()
    np.testing.assert_array_equal(losses[1], ref.loss)
    assert np.isfinite(losses[0]).all()


def test_stop_at_freezes_rows_without_changing_steps_to():
    s = problems.beale()
    lrs = np.logspace(-3, 0, 7)
    full = measure.sweep_surface(s, optimlab.Adam, lrs, 300)
    early = measure.sweep_surface(s, optimlab.Adam, lrs, 300, stop_at=1e-4, hold=5)
    assert measure.steps_to(full, 1e-4, hold=5) == measure.steps_to(early, 1e-4, hold=5)
    reached = [k for k in measure.steps_to(full, 1e-4, hold=5) if k is not None]
    assert reached  # 至少一个学习率达到目标，否则这个测试没有意义
    for row, k in zip(early, measure.steps_to(early, 1e-4, hold=5)):
        if k is not None:
            assert np.isnan(row[k + 5:]).all() and np.isfinite(row[: k + 5]).all()


def test_steps_to_with_hold():
    losses = np.array([[5.0, 0.5, 2.0, 0.5, 0.4, 0.3, 0.2], [5.0, 4.0, 3.0, 2.0, np.nan, np.nan, np.nan]])
    assert measure.steps_to(losses, 1.0) == [1, None]
    assert measure.steps_to(losses, 1.0, hold=3) == [3, None]
    assert measure.steps_to(losses, 1.0, hold=5) == [None, None]


def test_best_by_steps():
    lrs = [0.01, 0.1, 1.0]
    losses = np.array([[9.0, 8.0, 7.0, 0.5], [9.0, 0.5, 0.4, 0.3], [9.0, 0.9, 0.1, 0.1]])
    assert measure.best_by_steps(lrs, losses, 1.0) == (0.1, 1)  # 1 和 1 并列时取较小的学习率
    none_reached = np.array([[9.0, 8.0], [9.0, np.nan], [9.0, 3.0]])
    assert measure.best_by_steps(lrs, none_reached, 1.0) == (1.0, None)


def test_width_and_sensitivity():
    lrs = np.logspace(-3, 0, 7)  # 间隔 0.5 个数量级
    assert measure.width_decades(lrs, [False, True, True, False, True, True, True], 2) == pytest.approx(0.5)
    assert measure.width_decades(lrs, [False, True, True, False, True, True, True], 5) == pytest.approx(1.0)
    assert measure.width_decades(lrs, [True] * 7, 0) == pytest.approx(3.0)
    assert measure.width_decades(lrs, [False] * 7, 3) == 0.0
    losses = [2.0, 0.5, 0.11, 0.1, 0.15, 0.3, float("inf")]
    assert measure.sensitivity_width(lrs, losses, factor=2.0) == pytest.approx(1.0)
    assert measure.sensitivity_width(lrs, losses, factor=3.5) == pytest.approx(1.5)
    assert measure.sensitivity_width(lrs, [float("nan"), 1.0, 100.0, 1.5, 0.0 + 1.2, 9.0, 9.0], 2.0) == 0.0


def test_epochs_to_and_fit_timed():
    X, y, _ = problems.linear_regression(n=64)
    h1 = training.fit(training.linear_model(2), X.float(), y.float().unsqueeze(1), optimlab.Adam, epochs=30, lr=0.1)
    h2, seconds = measure.fit_timed(training.linear_model(2), X.float(), y.float().unsqueeze(1), optimlab.Adam,
                                    epochs=30, lr=0.1)
    assert h1.epoch_loss == h2.epoch_loss and isinstance(seconds, float)
    k = measure.epochs_to(h1, 1.0)
    assert k is not None and h1.epoch_loss[k] <= 1.0 and all(v > 1.0 for v in h1.epoch_loss[:k])
    assert measure.epochs_to(h1, -1.0) is None


def test_markdown_table():
    assert measure.markdown_table(["a", "b"], [[1, "x"], [2.5, None]]) == (
        "| a | b |\n|---|---|\n| 1 | x |\n| 2.5 | None |"
    )


def test_median_losses_by_hand():
    from optimlab.training import History

    runs = [
        History(epoch_loss=[3.0, 1.0, 0.5]),
        History(epoch_loss=[3.0, 2.0, 0.1]),
        History(epoch_loss=[3.0, float("nan")], diverged_at=4),  # 第 1 轮发散：此后记为 inf
    ]
    assert measure.median_losses(runs).tolist() == [3.0, 2.0, 0.5]
    assert measure.median_losses(runs[2:]).tolist() == [3.0, float("inf")]
    assert measure.epochs_to([3.0, 2.0, 0.5], 1.0) == 2


def test_is_chaotic_by_hand():
    from optimlab.training import History

    def h(final, diverged=False):
        return History(epoch_loss=[1.0, float("nan") if diverged else final], diverged_at=3 if diverged else None)

    assert not measure.is_chaotic(h(0.100), h(0.1019))  # 1.9 % < 2 %
    assert measure.is_chaotic(h(0.100), h(0.1030))  # 2.9 %
    assert measure.is_chaotic(h(0.1), h(0, diverged=True))  # 只有一次发散
    assert not measure.is_chaotic(h(0, diverged=True), h(0, diverged=True))  # 两次都发散：结果确定


def test_fit_twins_differ_only_by_the_jitter():
    X, y, _ = problems.linear_regression(n=64)
    X, y = X.float(), y.float().unsqueeze(1)
    a, b, seconds = measure.fit_twins(lambda: training.linear_model(2), X, y, optimlab.SGD, epochs=5, lr=0.05)
    plain = training.fit(training.linear_model(2), X, y, optimlab.SGD, epochs=5, lr=0.05)
    assert a.epoch_loss == plain.epoch_loss and seconds > 0  # 第一次就是普通的训练
    assert a.epoch_loss != b.epoch_loss  # 第二次的初始权重确实被扰动了
    assert max(abs(u - v) / u for u, v in zip(a.epoch_loss, b.epoch_loss)) < 1e-4
    assert not measure.is_chaotic(a, b)  # 凸问题、小学习率：扰动不会长大
