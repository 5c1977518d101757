"""第 3、4 章正文中的数值结论：以 torch.optim 或闭式解为参照。

* AMSGrad：torch 先取未校正 v_t 的最大值再校正；对校正后的 v̂_t 取最大值的写法与它的差别
  可以是永久的（梯度 1 之后全为 0 时趋于 1/√(1−β₂) ≈ 31.6 倍），也可以从一开始就没有（常数梯度）。
* NAdam：torch（与 Keras）用常数 β₁ 更新 m_t，除以 1−Π_{t+1} 去不掉它的偏差；
  Dozat（2016）用 μ_t 更新 m_t，偏差被除掉。
* 偏差校正是学习率调度（Laing & Orvieto 2025）：无校正的 Adam（ε = 0）等于
  torch.optim.Adam(eps=0) 配 LambdaLR，因子 1/ρ(t) = (1−β₁ᵗ)/√(1−β₂ᵗ)。
* Reddi 问题上的 (β₁, β₂) 相变（Zhang et al. 2022）：β₁ = 0 时小 β₂ 停在最差点 +1，
  大 β₂ 收敛到 −1；AMSGrad 在小 β₂ 时也收敛。
"""

import math

import numpy as np
import pytest
import torch

import optimlab
from optimlab.exercises.bias_correction import AdamNoBiasCorrection
from optimlab.online import (
    reddi_critical_beta2,
    reddi_drift,
    run_reddi,
    run_reddi_groups,
)

# ---------------------------------------------------------------- AMSGrad


CHECK = (1, 2, 10, 100, 200, 1000, 5000)  # 记录的步数


def _amsgrad_denominators(opt_cls, grads, beta2=0.999):
    """grads 形状 (T, n)：n 个互不相干的坐标各跑一条梯度序列。

    返回 {t: 形状 (n, 2) 的数组}，t 取 CHECK 中不超过 T 的步数：第 t 步的 torch 分母
    √(v^max/(1−β₂ᵗ)) 与对 v̂ 取最大值的分母 max_{s≤t} √v̂_s。
    """
    p = torch.zeros(grads.shape[1], dtype=torch.float64)
    opt = opt_cls([p], lr=1e-3, betas=(0.9, beta2), amsgrad=True)
    best = torch.zeros_like(p)
    out = {}
    for t, g in enumerate(grads, start=1):
        p.grad = g.clone()
        opt.step()
        state = opt.state[p]
        torch.maximum(best, state["exp_avg_sq"] / (1 - beta2**t), out=best)
        if t in CHECK:
            torch_den = (state["max_exp_avg_sq"] / (1 - beta2**t)).sqrt()
            out[t] = torch.stack([torch_den, best.sqrt()], -1).numpy()
    return out


def _amsgrad_cases(T=5000):
    """三列梯度：1 之后全为 0（本书的例子）；常数 2；平稳噪声 N(0, 1)（torch 种子 0）。"""
    grads = torch.zeros(T, 3, dtype=torch.float64)
    grads[0, 0] = 1.0
    grads[:, 1] = 2.0
    gen = torch.Generator().manual_seed(0)
    grads[:, 2] = torch.randn(T, generator=gen, dtype=torch.float64)
    return grads


@pytest.fixture(scope="module")
def amsgrad_torch():
    return _amsgrad_denominators(torch.optim.Adam, _amsgrad_cases())


def test_amsgrad_gap_is_permanent_after_one_large_gradient(amsgrad_torch):
    # 闭式解：v^max 停在 v_1 = 1 − β₂ = 0.001，torch 的分母 √(0.001/(1 − 0.999ᵗ))
    for t, expected in ((1, 1.0), (2, 0.70728), (1000, 0.039768), (5000, 0.031730)):
        torch_den, max_den = amsgrad_torch[t][0]
        assert torch_den == pytest.approx(math.sqrt(0.001 / (1 - 0.999**t)), rel=1e-12)
        assert torch_den == pytest.approx(expected, abs=5e-6)
        assert max_den == pytest.approx(1.0, rel=1e-12)  # max_s √v̂_s = √v̂_1 = 1
    torch_den, max_den = amsgrad_torch[5000][0]
    assert max_den / torch_den == pytest.approx(31.52, abs=0.01)
    assert 1 / math.sqrt(0.001) == pytest.approx(31.62, abs=0.01)  # t → ∞ 的比值


def test_amsgrad_gap_never_opens_for_constant_gradient(amsgrad_torch):
    # v_t 单调增，v̂_t = g² = 4：两种写法每一步都是 2
    for t in CHECK:
        assert np.allclose(amsgrad_torch[t][1], 2.0, rtol=1e-12, atol=0)


def test_amsgrad_gap_is_locked_by_early_noise(amsgrad_torch):
    # 这个种子下 max_s v̂_s 就是第 1 步的 g_1²，之后再没有被超过；torch 的分母最终小 2.2 倍
    first = amsgrad_torch[1][2, 1]
    for t in CHECK:
        torch_den, max_den = amsgrad_torch[t][2]
        assert max_den == first
        assert max_den >= torch_den
    torch_den, max_den = amsgrad_torch[5000][2]
    assert max_den / torch_den == pytest.approx(2.233, abs=1e-3)


def test_amsgrad_optimlab_state_equals_torch(amsgrad_torch):
    ours = _amsgrad_denominators(optimlab.Adam, _amsgrad_cases()[:200])
    assert ours.keys() == {1, 2, 10, 100, 200}
    for t, value in ours.items():
        assert np.array_equal(value, amsgrad_torch[t])


# ---------------------------------------------------------------- NAdam


def _nadam_steps(opt_cls, steps=30, beta1=0.9, psi=4e-3):
    p = torch.zeros(1, dtype=torch.float64)
    opt = opt_cls([p], lr=1.0, betas=(beta1, 0.999), momentum_decay=psi)
    moves, prev = [], 0.0
    for _ in range(steps):
        p.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
        moves.append(prev - float(p))
        prev = float(p)
    return np.array(moves)


def _mu(t, beta1=0.9, psi=4e-3):
    return beta1 * (1 - 0.5 * 0.96 ** (t * psi))


def test_nadam_constant_gradient_update_is_biased_in_torch():
    moves = _nadam_steps(torch.optim.NAdam)
    ts = np.arange(1, 31)
    mu, mu_next = _mu(ts), _mu(ts + 1)
    prod = np.cumprod(mu)
    # 常数梯度 1：m_t = 1 − β₁ᵗ，v̂_t = 1；
    # 更新 / η = (1−μ_t)/(1−Π_t) + μ_{t+1}(1−β₁ᵗ)/(1−Π_{t+1})
    closed = (1 - mu) / (1 - prod) + mu_next * (1 - 0.9**ts) / (1 - prod * mu_next)
    assert np.allclose(moves, closed / (1 + 1e-8), rtol=1e-6)
    hand = {1: 1.056, 2: 0.784, 3: 0.732, 5: 0.746, 10: 0.843, 30: 0.981}
    for t, value in hand.items():
        assert moves[t - 1] == pytest.approx(value, abs=6e-4)
    # optimlab 与 torch 一致
    assert np.allclose(_nadam_steps(optimlab.NAdam), moves, rtol=1e-12, atol=0)


def test_nadam_dozat_momentum_update_removes_the_bias():
    # Dozat（2016）：m_t = μ_t m_{t−1} + (1 − μ_t) g_t，常数梯度时 m_t = 1 − Π_t
    m, prod, moves = 0.0, 1.0, []
    for t in range(1, 31):
        mu, mu_next = _mu(t), _mu(t + 1)
        prod *= mu
        m = mu * m + (1 - mu) * 1.0
        moves.append((1 - mu) / (1 - prod) + mu_next * m / (1 - prod * mu_next))
    moves = np.array(moves)
    assert np.all(np.abs(moves[4:] - 1) < 0.01)  # t ≥ 5
    torch_moves = _nadam_steps(torch.optim.NAdam)
    assert np.all(np.abs(torch_moves[1:10] - 1) > 0.15)  # torch：t = 2..10 偏小 15% 以上


# ---------------------------------------------------------------- 偏差校正 = 学习率调度


def rho(t, beta1, beta2):
    return math.sqrt(1 - beta2**t) / (1 - beta1**t)


def _no_bc_adam_by_hand(grad_fn, theta0, steps, lr, beta1, beta2):
    """不做偏差校正、ε = 0 的 Adam：θ_t = θ_{t−1} − η m_t/√v_t。"""
    theta = theta0.clone()
    m = torch.zeros_like(theta)
    v = torch.zeros_like(theta)
    path = [theta.clone()]
    for t in range(1, steps + 1):
        g = grad_fn(theta, t)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        theta = theta - lr * m / v.sqrt()
        path.append(theta.clone())
    return torch.stack(path)


def _run(opt_factory, grad_fn, theta0, steps, schedule=None):
    p = theta0.clone()
    opt = opt_factory([p])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule) if schedule else None
    path = [p.detach().clone()]
    for t in range(1, steps + 1):
        p.grad = grad_fn(p.detach(), t)
        opt.step()
        if sched:
            sched.step()
        path.append(p.detach().clone())
    return torch.stack(path)


def _rel(path, ref):
    """每个坐标的最大差除以该坐标参照轨迹的尺度 max_t |θ_t|，再取最大。"""
    return ((path - ref).abs().amax(0) / ref.abs().amax(0)).max().item()


def _noisy_quadratic_grad():
    scales = torch.tensor([1.0, 20.0, 0.1], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(400, 3, generator=gen, dtype=torch.float64)
    return lambda theta, t: scales * theta + 0.3 * noise[t - 1]


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.95, 0.95)])
def test_no_bias_correction_is_adam_under_lambdalr(betas):
    beta1, beta2 = betas
    grad_fn, steps, lr = _noisy_quadratic_grad(), 300, 0.01
    theta0 = torch.tensor([1.0, -1.5, 2.0], dtype=torch.float64)
    hand = _no_bc_adam_by_hand(grad_fn, theta0, steps, lr, beta1, beta2)

    # LambdaLR 的第 k 个值（k = 0, 1, ...）用于第 t = k + 1 步：因子 1/ρ(t)
    def factor(k):
        return 1 / rho(k + 1, beta1, beta2)

    def adam(ps):
        return torch.optim.Adam(ps, lr=lr, betas=betas, eps=0.0)

    scheduled = _run(adam, grad_fn, theta0, steps, factor)
    assert _rel(scheduled, hand) < 1e-13  # 本机：约 1e-16，即一个舍入单位
    # 对照：不加调度的 Adam(eps=0) 明显不同（这个测试能失败）
    plain = _run(adam, grad_fn, theta0, steps)
    assert _rel(plain, hand) > 1e-2
    # optimlab 中的 AdamNoBiasCorrection(eps=0) 就是这个手写的算法
    def no_bc(ps):
        return AdamNoBiasCorrection(ps, lr=lr, betas=betas, eps=0.0)

    ours = _run(no_bc, grad_fn, theta0, steps)
    assert _rel(ours, hand) < 1e-13


def test_rho_values():
    assert rho(1, 0.9, 0.999) == pytest.approx(math.sqrt(0.001) / 0.1)  # 0.316：隐式热身
    ts = range(1, 20001)
    values = [rho(t, 0.9, 0.999) for t in ts]
    k = int(np.argmin(values))
    assert k + 1 == 12 and values[k] == pytest.approx(0.1522, abs=1e-4)
    assert rho(1, 0.95, 0.95) == pytest.approx(1 / math.sqrt(0.05))  # 4.47：从大到小
    assert all(rho(t, 0.95, 0.95) > 1 for t in range(1, 200))
    assert rho(200, 0.95, 0.95) == pytest.approx(1.0, abs=1e-4)


# ---------------------------------------------------------------- Reddi 问题上的相变


def _drift_by_iteration(beta1, beta2, C=3.0, amsgrad=False, periods=400):
    """直接迭代 m_t、v_t 许多个周期，取最后一个周期的位移（不用稳态公式）。"""
    m = v = v_max = 0.0
    moves = []
    for t in range(1, 3 * periods + 1):
        g = C if t % 3 == 1 else -1.0
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)
        moves.append(-m / math.sqrt(v_max if amsgrad else v))
    return sum(moves[-3:])


@pytest.mark.parametrize("beta1", [0.0, 0.3, 0.9])
@pytest.mark.parametrize("beta2", [0.1, 0.5, 0.9])
def test_drift_formula_matches_iteration(beta1, beta2):
    for amsgrad in (False, True):
        expected = _drift_by_iteration(beta1, beta2, amsgrad=amsgrad)
        drift = float(reddi_drift(beta1, beta2, amsgrad=amsgrad))
        assert drift == pytest.approx(expected, rel=1e-9)


def test_critical_beta2_for_C3():
    b = reddi_critical_beta2(3.0)
    assert 0.4723 < b < 0.4724
    assert _drift_by_iteration(0.0, 0.4720) > 0 > _drift_by_iteration(0.0, 0.4726)
    # β₂ → 1：(2 − C)/√((C² + 2)/3)
    limit = -1 / math.sqrt(11 / 3)
    assert float(reddi_drift(0.0, 1 - 1e-9)) == pytest.approx(limit, rel=1e-6)


def test_phase_transition_endpoints():
    groups = [
        {"betas": (0.0, 0.1)},
        {"betas": (0.0, 0.9)},
        {"betas": (0.0, 0.999)},
        {"betas": (0.0, 0.1), "amsgrad": True},
    ]
    # T 取 3 的倍数：最后一步是一个周期的末尾，停在 +1 的迭代点此时恰好被截断在 +1
    small, large, larger, ams = run_reddi_groups(optimlab.Adam, groups, 1500)
    assert small.x[-1] == 1.0  # 最差点
    assert small.avg_regret[-1] > 0.6  # 极限 2(C − 2)/3
    for run in (large, larger, ams):
        assert run.x[-1] < -0.98
        assert run.avg_regret[-1] < 0.06


def test_grouped_runs_equal_torch_single_runs():
    groups = [{"betas": (0.0, 0.3)}, {"betas": (0.5, 0.9), "amsgrad": True}]
    grouped = run_reddi_groups(optimlab.Adam, groups, 300)
    for g, ours in zip(groups, grouped):
        ref = run_reddi(torch.optim.Adam, 300, 3.0, lr=0.5, **g)
        assert np.array_equal(ours.x, ref.x)
        assert np.allclose(ours.regret, ref.regret, rtol=0, atol=1e-12)
