"""书用到的工具层：测试问题、轨迹、训练循环、绘图与练习检查。"""

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import optimlab  # noqa: E402
from optimlab import plotting, problems, training, trajectory  # noqa: E402
from optimlab.exercises import call_user, compare, summarize  # noqa: E402


@pytest.mark.parametrize("name", sorted(problems.SURFACES))
def test_surface_minimizer_is_stationary_with_zero_value(name):
    s = problems.surface(name)
    xy = torch.tensor(s.minimizer, dtype=torch.float64, requires_grad=True)
    s(xy).backward()
    assert s.f_min == pytest.approx(0.0, abs=1e-12)
    assert torch.allclose(xy.grad, torch.zeros(2, dtype=torch.float64), atol=1e-12)


def test_surfaces_are_batched():
    s = problems.rosenbrock()
    pts = torch.randn(3, 4, 2, dtype=torch.float64)
    z = s(pts)
    assert z.shape == (3, 4)
    assert torch.equal(z[1, 2], s(pts[1, 2]))
    assert float(s(torch.tensor([0.0, 0.0]))) == 1.0  # (1-0)² + 100·0²


def test_unknown_surface_and_bad_condition_number():
    with pytest.raises(ValueError, match="unknown surface 'himmelblau'"):
        problems.surface("himmelblau")
    with pytest.raises(ValueError, match="cond must be >= 1"):
        problems.quadratic(cond=0.5)


def test_reddi_average_gradient_is_positive():
    x = torch.tensor(0.2, requires_grad=True)
    grads = []
    for t in (1, 2, 3):
        x.grad = None
        problems.reddi_loss(x, t).backward()
        grads.append(float(x.grad))
    assert grads == [3.0, -1.0, -1.0]
    assert sum(grads) / 3 == pytest.approx(1 / 3)


def test_linear_regression_least_squares_recovers_truth():
    X, y, w = problems.linear_regression(n=2000, noise=0.1)
    w_hat = torch.linalg.lstsq(X, y[:, None]).solution.squeeze()
    assert torch.allclose(w_hat, w, atol=0.02)


def test_digits_split_and_standardized():
    Xtr, ytr, Xte, yte = problems.digits()
    assert Xtr.shape[1] == 64 and len(Xtr) + len(Xte) == 1797 and len(Xte) == 449
    assert set(ytr.tolist()) == set(range(10))
    nonconstant = Xtr.std(0) > 0.5
    assert torch.allclose(Xtr.mean(0), torch.zeros(64), atol=1e-5)
    assert torch.allclose(Xtr.std(0)[nonconstant], torch.ones(int(nonconstant.sum())), atol=1e-4)
    # 训练集中恒定的像素在测试集里也不会被放大成巨大的数
    assert float(Xte.abs().max()) < 100


def test_run_matches_closed_form_gradient_descent():
    # f = ½(x² + y²)：梯度下降 x_k = (1 − η)^k x_0
    s = problems.quadratic(cond=1.0)
    traj = trajectory.run(s, optimlab.SGD, steps=20, x0=(2.0, -1.0), lr=0.1)
    k = np.arange(21)[:, None]
    assert np.allclose(traj.path, np.array([2.0, -1.0]) * 0.9**k, rtol=1e-12)
    assert traj.diverged_at is None
    # f_k = 2.5·0.81^k ≤ 0.1 ⇔ k ≥ 15.3
    assert traj.steps_to(0.1) == 16
    assert traj.steps_to(1e-3) is None


def test_run_reports_divergence_step():
    # κ = 10、η = 0.21 > 2/κ：y_k = 1.5·(1 − 2.1)^k，|y_k| 在第 141 步首次超过 1e6
    s = problems.quadratic(cond=10.0)
    traj = trajectory.run(s, optimlab.SGD, steps=300, lr=0.21)
    expected = math.ceil(math.log(trajectory.DIVERGENCE_LIMIT / 1.5) / math.log(1.1))
    assert traj.diverged_at == expected == 141
    assert np.isnan(traj.path[expected:]).all() and np.isfinite(traj.path[:expected]).all()
    assert traj.final_loss == float("inf")


def test_fit_counts_updates_per_batch_size():
    X, y, _ = problems.linear_regression(n=100)
    X, y = X[:, :1].float(), y[:, None].float()
    for bs, updates in ((None, 3), (1, 300), (32, 12)):
        hist = training.fit(training.linear_model(1), X, y, optimlab.SGD, batch_size=bs, epochs=3, lr=0.01)
        assert len(hist.step_loss) == updates
        assert len(hist.epoch_loss) == 4
        assert hist.epoch_loss[-1] < hist.epoch_loss[0]


def test_fit_bgd_equals_manual_loop():
    X, y, _ = problems.linear_regression(n=50)
    X, y = X[:, :1].float(), y[:, None].float()
    model = training.linear_model(1, seed=3)
    hist = training.fit(model, X, y, optimlab.SGD, epochs=5, lr=0.05, momentum=0.9)
    ref = training.linear_model(1, seed=3)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.mse_loss(ref(X), y).backward()
        opt.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), ref.parameters()))
    assert len(hist.lr) == 5


def test_fit_scheduler_and_divergence():
    X, y, _ = problems.linear_regression(n=64)
    X, y = X[:, :1].float(), y[:, None].float()
    hist = training.fit(training.linear_model(1), X, y, optimlab.Adam, epochs=6, lr=0.1,
                        scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5))
    assert hist.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    hist = training.fit(training.linear_model(1), X, y, optimlab.SGD, batch_size=8, epochs=50, lr=10.0)
    assert hist.diverged_at is not None and hist.final_loss == float("inf")


def test_cjk_font_renders_without_missing_glyphs():
    assert plotting.setup_cjk_font() == "Noto Sans CJK SC"
    fig, ax = plt.subplots()
    s = problems.quadratic(cond=10)
    plotting.plot_contour(s, ax=ax)
    traj = trajectory.run(s, optimlab.SGD, steps=200, lr=0.21, label="SGD")
    plotting.plot_path(traj, ax=ax)
    ax.legend()
    ax.set_title("β₁ = 0.9，η₀ = 10⁻³（下标与上标由 DejaVu Sans 补上）")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "SGD：发散（第 141 步）" in labels
    plt.close(fig)


def test_exercise_compare_messages():
    expected = torch.tensor([1.0, 2.0, 3.0])
    assert compare("θ", [1.0, 2.0, 3.0], expected).ok
    r = compare("θ", [1.0, 2.5, 3.0], expected)
    assert not r.ok and "θ[1]" in r.message and "2.5" in r.message and "应为 2" in r.message
    assert "形状" in compare("θ", [1.0, 2.0], expected).message
    assert "None" in compare("θ", None, expected).message


def test_call_user_never_raises():
    def stub():
        raise NotImplementedError

    def broken():
        return 1 / 0

    assert "还没有实现" in call_user(stub)[1].message
    assert "ZeroDivisionError" in call_user(broken)[1].message
    assert call_user(lambda: 3)[0] == 3
    ok, bad = compare("a", [1.0], torch.tensor([1.0])), compare("b", [0.0], torch.tensor([1.0]))
    assert summarize([ok, ok]).ok and summarize([ok, bad]) is bad
