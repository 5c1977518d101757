"""第 1 章的断言：动量在二次函数上的稳定区域与收缩率，以及全批量训练的稳定性边缘。

期望值来自独立的来源：2×2 迭代矩阵的特征值（numpy.linalg.eigvals）、完整 Hessian 的
torch.linalg.eigvalsh、torch.optim.Adam 的一步更新、论文给出的阈值 2/η 与 38/η。
"""

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

import optimlab
from optimlab import curvature, problems


# ---------------------------------------------------------------- 动量的稳定区域

def iteration_matrix(h, mu):
    # 特征坐标上的一步：(x_t, η b_t) = A (x_{t-1}, η b_{t-1})，h = ηλ（书中的推导）
    return np.array([[1 - h, -mu], [h, mu]])


def closed_form_rho(h, mu):
    # 书中的闭式：判别式 < 0 时 √μ，否则 (|1+μ−h| + √Δ)/2
    a = 1 + mu - h
    disc = a * a - 4 * mu
    return np.sqrt(mu) if disc < 0 else (abs(a) + np.sqrt(disc)) / 2


def heavy_ball_norms(h, mu, steps, lam=2.5):
    """optimlab.SGD 在 f(x) = λx²/2 上（lr = h/λ）每一步之后的 ‖(x_t, η b_t)‖。"""
    x = torch.ones(1, dtype=torch.float64, requires_grad=True)
    lr = h / lam
    opt = optimlab.SGD([x], lr=lr, momentum=mu)
    norms = [1.0]
    for _ in range(steps):
        x.grad = lam * x.detach()
        opt.step()
        buf = opt.state[x]["momentum_buffer"] if mu else torch.zeros(1, dtype=torch.float64)
        norms.append(float(torch.hypot(x.detach(), lr * buf)[0]))
    return np.array(norms)


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9])
def test_momentum_boundary_is_2_plus_2mu(mu):
    delta = 0.02
    inside = heavy_ball_norms((2 + 2 * mu) * (1 - delta), mu, 1000)
    outside = heavy_ball_norms((2 + 2 * mu) * (1 + delta), mu, 1000)
    assert inside[-1] < 1e-8
    assert outside[-1] > 1e8
    # 旧的（不带动量的）上限 ηλ < 2 对 μ > 0 不是边界：略高于 2 仍收敛
    if mu > 0:
        assert heavy_ball_norms(2.2, mu, 1000)[-1] < 1e-8


@pytest.mark.parametrize(
    "h, mu",
    [(1.0, 0.5), (2.94, 0.5), (3.06, 0.5), (0.1, 0.9), (3.724, 0.9), (3.876, 0.9),
     (1.96, 0.0), (2.04, 0.0), (0.5, 0.1), (3.0, 0.2)],
)
def test_spectral_radius_formula_matches_run(h, mu):
    expected = max(abs(np.linalg.eigvals(iteration_matrix(h, mu))))
    assert closed_form_rho(h, mu) == pytest.approx(expected, rel=1e-12)
    # 实测收缩率：后半程 log‖(x_t, ηb_t)‖ 对 t 的最小二乘斜率
    steps = 300
    norms = heavy_ball_norms(h, mu, steps)
    t = np.arange(steps // 2, steps + 1)
    slope = np.polyfit(t, np.log(norms[steps // 2:]), 1)[0]
    assert np.exp(slope) == pytest.approx(expected, rel=1e-3)


def test_optimal_heavy_ball_rate_on_quadratic():
    # Polyak 的参数：η* = 4/(√λmax + √λmin)²，μ* = ((√κ − 1)/(√κ + 1))²，每步收缩 √μ*
    kappa = 20.0
    eta = 4 / (np.sqrt(kappa) + 1) ** 2
    mu = ((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2
    for lam in (1.0, kappa):
        rho = max(abs(np.linalg.eigvals(iteration_matrix(eta * lam, mu))))
        assert rho == pytest.approx(np.sqrt(mu), rel=1e-6)
    # 穷举 (η, μ) 网格：没有哪一组让两个特征值上的最大收缩率低于 √μ*
    etas = np.linspace(0.001, 0.2, 200)
    mus = np.linspace(0.0, 0.99, 100)
    best = min(max(closed_form_rho(e * lam, m) for lam in (1.0, kappa)) for e in etas for m in mus)
    assert best >= np.sqrt(mu) - 1e-3
    # 不带动量（μ = 0）时最好的是 η = 2/(1+κ)，收缩率 (κ−1)/(κ+1)，慢得多
    gd = min(max(abs(1 - e * lam) for lam in (1.0, kappa)) for e in etas)
    assert gd == pytest.approx((kappa - 1) / (kappa + 1), abs=2e-3)
    assert np.log(1e-6) / np.log(np.sqrt(mu)) < 0.25 * np.log(1e-6) / np.log(gd)


# ---------------------------------------------------------------- 曲率代码对完整 Hessian

def tiny_problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    Y = torch.randn(20, 2, generator=gen, dtype=torch.float64)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2)).double()

    def loss_fn():
        return 0.5 * ((model(X) - Y) ** 2).sum(1).mean()

    def loss_of_flat(w):
        named, i = {}, 0
        for name, p in model.named_parameters():
            named[name] = w[i:i + p.numel()].view_as(p)
            i += p.numel()
        return 0.5 * ((functional_call(model, named, (X,)) - Y) ** 2).sum(1).mean()

    flat = curvature.flatten([p.detach() for p in model.parameters()])
    hessian = torch.autograd.functional.hessian(loss_of_flat, flat)
    return model, loss_fn, hessian


def test_hvp_matches_full_hessian():
    model, loss_fn, H = tiny_problem()
    hvp = curvature.hvp_operator(loss_fn(), list(model.parameters()))
    v = torch.randn(H.shape[0], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(hvp(v), H @ v, rtol=1e-10, atol=1e-12)


def test_sharpness_matches_eigvalsh():
    model, loss_fn, H = tiny_problem()
    evals, evecs = torch.linalg.eigvalsh(H), torch.linalg.eigh(H).eigenvectors
    assert evals[-1] > abs(evals[0])  # 最大特征值的模最大：幂迭代的前提
    value, vec = curvature.sharpness(loss_fn, list(model.parameters()), iters=5000, tol=1e-12)
    assert value == pytest.approx(float(evals[-1]), rel=1e-8)
    assert abs(float(vec @ evecs[:, -1])) > 1 - 1e-6


def test_preconditioned_sharpness_matches_eigvals():
    model, loss_fn, H = tiny_problem()
    gen = torch.Generator().manual_seed(2)
    P = torch.rand(H.shape[0], generator=gen, dtype=torch.float64) * 2 + 0.1
    # 独立的参照：非对称矩阵 P⁻¹H 的特征值（一般特征值求解器）
    expected = torch.linalg.eigvals(H / P[:, None]).real.max()
    value, _ = curvature.preconditioned_sharpness(loss_fn, list(model.parameters()), P,
                                                  iters=5000, tol=1e-12)
    assert value == pytest.approx(float(expected), rel=1e-7)


def test_adam_preconditioner_reproduces_torch_adam_step():
    # Cohen 等人 (2022)：Adam 的一步是 θ_t = θ_{t−1} − η P_t⁻¹ m_t，P_t = (1−β₁ᵗ)(√v̂_t + ε)
    model, loss_fn, _ = tiny_problem()
    params = list(model.parameters())
    lr = 0.01
    opt = torch.optim.Adam(params, lr=lr, betas=(0.8, 0.95), eps=1e-3)
    for _ in range(4):
        opt.zero_grad()
        loss_fn().backward()
        before = curvature.flatten([p.detach().clone() for p in params])
        opt.step()
    after = curvature.flatten([p.detach() for p in params])
    m = curvature.flatten([opt.state[p]["exp_avg"] for p in params])
    P = curvature.adam_preconditioner(opt)
    torch.testing.assert_close(after - before, -lr * m / P, rtol=1e-9, atol=1e-15)


# ---------------------------------------------------------------- 稳定性边缘

def digits_mlp():
    X_train, y_train, _, _ = problems.digits()
    X = X_train[:200].double()
    Y = nn.functional.one_hot(y_train[:200], 10).double()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)).double()

    def loss_fn():
        return 0.5 * ((model(X) - Y) ** 2).sum(1).mean()

    return model, loss_fn


def test_gradient_descent_sharpness_rises_to_2_over_lr_and_stays():
    model, loss_fn = digits_mlp()
    lr = 0.35
    opt = optimlab.SGD(model.parameters(), lr=lr)
    trace = curvature.track_sharpness(loss_fn, opt, steps=500, every=50, tol=1e-4)
    ratio = trace.sharpness * lr / 2
    assert ratio[0] < 0.8  # 起初远低于 2/η
    late = ratio[trace.steps >= 300]
    assert 0.9 <= np.median(late) <= 1.1
    assert np.all(np.isfinite(trace.loss)) and trace.loss[-1] < 0.1 * trace.loss[0]


def test_adam_preconditioned_sharpness_hovers_at_38_over_lr():
    model, loss_fn = digits_mlp()
    lr = 0.03
    opt = optimlab.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    trace = curvature.track_sharpness(loss_fn, opt, steps=400, every=25, preconditioned=True,
                                      tol=1e-4)
    ratio = trace.sharpness * lr / 38  # 38 = (2 + 2β₁)/(1 − β₁)
    assert ratio[0] < 0.5
    late = ratio[trace.steps >= 200]
    assert 0.85 <= np.median(late) <= 1.15
    assert np.all(np.isfinite(trace.loss))
