"""trajectory.run_many 与唯一的发散判据 trajectory.diverged。"""

import math

import numpy as np
import pytest
import torch

import optimlab
from optimlab import problems, trajectory
from optimlab.trajectory import DIVERGENCE_LIMIT, diverged, run_many


def test_diverged_by_hand():
    values = torch.tensor([1.0, math.nan, 1.0, 1.0, 1.0, math.inf])
    points = torch.tensor([[0.0, 1.0], [0.0, 0.0], [math.nan, 0.0], [DIVERGENCE_LIMIT, 0.0],
                           [0.0, -DIVERGENCE_LIMIT * (1 - 1e-12)], [0.0, 0.0]], dtype=torch.float64)
    assert diverged(values, points).tolist() == [False, True, True, True, False, True]
    assert not bool(diverged(2.0, torch.tensor([3.0, 4.0])))  # 标量函数值、一个点


def test_run_many_rows_equal_torch_runs_one_by_one():
    # 独立的参照：torch.optim 的优化器，一次只跑一个点（trajectory.run 之外的手写循环）
    surf = problems.rosenbrock()
    specs = [(optimlab.Adam, {"lr": 0.05}), (optimlab.SGD, {"lr": 1e-3, "momentum": 0.9}),
             (optimlab.SGD, {"lr": 1.0, "momentum": 0.9})]  # 最后一个发散
    got = run_many(surf, specs, 100)
    for (cls, hp), traj in zip(specs, got):
        xy = torch.tensor(surf.x0, dtype=torch.float64, requires_grad=True)
        opt = getattr(torch.optim, cls.__name__)([xy], **hp)
        for k in range(1, 101):
            opt.zero_grad()
            surf(xy).backward()
            opt.step()
            value = surf(xy.detach())
            if not (torch.isfinite(value) and xy.detach().abs().max() < DIVERGENCE_LIMIT):
                assert traj.diverged_at == k and np.isnan(traj.loss[k:]).all()
                break
            assert traj.loss[k] == float(value) and (traj.path[k] == xy.detach().numpy()).all()
        else:
            assert traj.diverged_at is None
    assert got[2].diverged_at is not None


def test_shared_optimizer_is_bitwise_the_same_and_validates_each_setting():
    surf = problems.quadratic(100.0)
    specs = [(optimlab.RAdam, {"lr": lr}) for lr in (1e-3, 0.02, 0.1, 10.0)]
    sep = run_many(surf, specs, 200)
    one = run_many(surf, specs, 200, shared=True)
    for a, b in zip(sep, one):
        np.testing.assert_array_equal(a.loss, b.loss)
        assert a.diverged_at == b.diverged_at
    with pytest.raises(ValueError, match="Invalid learning rate"):
        run_many(surf, [(optimlab.Adam, {"lr": 0.1}), (optimlab.Adam, {"lr": -1.0})], 5, shared=True)
    with pytest.raises(ValueError, match="同一个优化器类"):
        run_many(surf, [(optimlab.Adam, {}), (optimlab.SGD, {"lr": 0.1})], 5, shared=True)


def test_errors_are_returned_only_when_asked():
    surf = problems.beale()
    bad = (optimlab.SGD, {"lr": 0.1, "nesterov": True})  # Nesterov 要求动量 > 0
    with pytest.raises(ValueError):
        run_many(surf, [bad], 5)
    (err,) = run_many(surf, [bad], 5, errors=(ValueError,))
    assert isinstance(err, ValueError)
    with pytest.raises(TypeError):  # LBFGS 要闭包：不在 errors 里的异常照常抛出
        run_many(surf, [(optimlab.LBFGS, {})], 5, errors=(ValueError,))


def test_stop_at_hold_by_hand():
    # SGD 在 f = x²/2 + 50 y²（κ = 100）上，η = 0.01：x 每步乘 0.99，y 每步乘 0
    surf = problems.quadratic(100.0)
    (traj,) = run_many(surf, [(optimlab.SGD, {"lr": 0.01})], 400, x0=(1.0, 0.0), stop_at=0.1, hold=3)
    f = 0.5 * 0.99 ** (2 * np.arange(401))  # 闭式解
    first = int(np.nonzero(f <= 0.1)[0][0])
    np.testing.assert_allclose(traj.loss[: first + 3], f[: first + 3], rtol=1e-12)
    assert np.isnan(traj.loss[first + 3:]).all() and traj.diverged_at is None
    assert traj.loss[first + 2] <= 0.1 < traj.loss[first - 1]


def test_run_is_one_setting_of_run_many():
    surf = problems.beale()
    a = trajectory.run(surf, optimlab.NAdam, 80, lr=0.05, label="x")
    (b,) = run_many(surf, [(optimlab.NAdam, {"lr": 0.05})], 80, labels=["x"])
    np.testing.assert_array_equal(a.path, b.path)
    assert a.label == b.label == "x"
