"""optimlab.online：Reddi 反例上的投影优化与遗憾。"""

import math

import numpy as np
import pytest
import torch

import optimlab
from optimlab.online import (
    OnlineRun,
    reddi_best_loss,
    reddi_critical_beta2,
    reddi_drift,
    reddi_paper,
    run_reddi,
    run_reddi_groups,
)

C = 3.0
BETAS = (0.0, 1.0 / (1.0 + C * C))


def test_best_loss_is_at_minus_one():
    best = reddi_best_loss(7, C)
    # f_t(-1) = -C (t mod 3 = 1) 或 +1
    assert best.tolist() == [-3.0, -2.0, -1.0, -4.0, -3.0, -2.0, -5.0]


def test_regret_definition_on_constant_point():
    # lr = 0：x 一直停在 +1，每 3 步遗憾增加 2(C - 2)
    run = run_reddi(optimlab.Adam, 6, C, lr=0.0, betas=BETAS)
    assert np.all(run.x == 1.0)
    assert run.loss.tolist() == [3.0, -1.0, -1.0, 3.0, -1.0, -1.0]
    assert run.regret.tolist() == [6.0, 4.0, 2.0, 8.0, 6.0, 4.0]
    assert run.avg_regret[-1] == pytest.approx(4.0 / 6.0)


def test_first_steps_by_hand():
    # β₁ = 0：第 1 步 v̂_1 = C²，更新 -η·C/C = -η；之后截断在 [-1, 1]
    run = run_reddi(optimlab.Adam, 2, C, lr=0.5, betas=BETAS)
    assert run.x[1] == pytest.approx(0.5, abs=1e-8)
    v2 = BETAS[1] * (1 - BETAS[1]) * C * C + (1 - BETAS[1])
    step2 = 0.5 / math.sqrt(2) * (-1.0) / (math.sqrt(v2 / (1 - BETAS[1] ** 2)) + 1e-8)
    assert run.x[2] == pytest.approx(run.x[1] - step2, rel=1e-12)


def test_projection_keeps_iterates_in_interval():
    run = run_reddi(torch.optim.SGD, 60, C, lr=5.0, sqrt_decay=False, x0=0.0)
    assert run.x.min() >= -1.0 and run.x.max() <= 1.0
    assert -1.0 in run.x


def test_adam_fails_amsgrad_converges():
    adam = run_reddi(optimlab.Adam, 1500, C, lr=0.5, betas=BETAS)
    ams = run_reddi(optimlab.Adam, 1500, C, lr=0.5, betas=BETAS, amsgrad=True)
    assert adam.x[-1] == 1.0
    assert adam.avg_regret[-1] > 0.6  # 极限 2(C-2)/3 = 2/3
    assert ams.x[-1] < -0.99
    assert ams.avg_regret[-1] < 0.06


def test_paper_algorithm_matches_torch_after_first_step():
    # 论文算法无偏差校正：只有第 1 步不同（β₂ᵗ 很快变成 0），之后的差别不超过第 1 步的差
    for amsgrad in (False, True):
        ours = run_reddi(optimlab.Adam, 300, C, lr=0.5, betas=BETAS, amsgrad=amsgrad)
        paper = reddi_paper(300, C, alpha=0.5, amsgrad=amsgrad)
        assert paper.x[1] == pytest.approx(1 - 0.5 * C / math.sqrt((1 - BETAS[1]) * C * C))
        first = abs(ours.x[1] - paper.x[1])
        assert np.abs(ours.x - paper.x).max() == pytest.approx(first, rel=1e-6)
    assert paper.x[-1] < -0.9


def test_run_with_torch_optim_equals_optimlab():
    a = run_reddi(optimlab.Adam, 100, C, lr=0.5, betas=BETAS, amsgrad=True)
    b = run_reddi(torch.optim.Adam, 100, C, lr=0.5, betas=BETAS, amsgrad=True)
    assert isinstance(a, OnlineRun)
    assert np.array_equal(a.x, b.x)


def test_grouped_runs_equal_single_runs():
    # 每个参数组的计算与单独运行相同：x 逐位一致，遗憾只差求和顺序的舍入
    groups = [{"betas": BETAS}, {"betas": BETAS, "amsgrad": True}, {}]
    grouped = run_reddi_groups(optimlab.Adam, groups, 200, C, lr=0.5)
    for g, ours in zip(groups, grouped):
        single = run_reddi(optimlab.Adam, 200, C, lr=0.5, **g)
        assert np.array_equal(ours.x, single.x)
        assert np.array_equal(ours.loss, single.loss)
        assert np.allclose(ours.regret, single.regret, rtol=0, atol=1e-12)
    assert grouped[1].label == f"betas={BETAS}, amsgrad=True"


def test_drift_of_theorem_one_setting_by_hand():
    # β₁ = 0、β₂ = 0.1 的稳态：v₁ = (C² + β₂ + β₂²)/(1 + β₂ + β₂²) = 8.207…（书中逐步打印的周期）
    b2 = 0.1
    v1 = (C * C + b2 + b2 * b2) / (1 + b2 + b2 * b2)
    v2 = b2 * v1 + 1 - b2
    v3 = b2 * v2 + 1 - b2
    assert v1 == pytest.approx(8.2072, abs=1e-4)
    expected = -C / math.sqrt(v1) + 1 / math.sqrt(v2) + 1 / math.sqrt(v3)
    assert float(reddi_drift(0.0, b2, C)) == pytest.approx(expected, rel=1e-12)
    ams = float(reddi_drift(0.0, b2, C, amsgrad=True))
    assert ams == pytest.approx(-(C - 2) / math.sqrt(v1))


def test_drift_broadcasts_over_arrays():
    b1 = np.array([[0.0], [0.5]])
    b2 = np.array([0.1, 0.9])
    grid = reddi_drift(b1, b2, C)
    assert grid.shape == (2, 2)
    assert grid[0, 1] == pytest.approx(float(reddi_drift(0.0, 0.9, C)))


def test_critical_beta2_requires_a_sign_change():
    with pytest.raises(ValueError, match="不变号"):
        reddi_critical_beta2(C, beta1=0.9)  # β₁ = 0.9：对任何 β₂ 都收敛
