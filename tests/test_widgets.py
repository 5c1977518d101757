"""交互式探索器与静态动画：无界面构造、移动每个控件、检查图中显示的内容与数值。"""

import json
import math
import re
import warnings

import matplotlib

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from optimlab import SGD, Adam, AdamW, NAdam, RMSprop, online, problems, trajectory  # noqa: E402
from optimlab import widgets as w  # noqa: E402
from optimlab.widgets import base  # noqa: E402


@pytest.fixture(autouse=True)
def no_warnings():
    """构造与更新探索器时不得有任何警告（如缺字形、弃用）。"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    """严格模式：探索器只把优化器的非法超参数变成消息，计算中的其他异常让测试失败。"""
    monkeypatch.setattr(base, "STRICT", True)


def same_traj(line, traj):
    """图中轨迹线的数据等于 trajectory.run 的有限部分。"""
    ok = np.isfinite(traj.path).all(axis=1)
    np.testing.assert_array_equal(line.get_xdata(), traj.path[ok, 0])
    np.testing.assert_array_equal(line.get_ydata(), traj.path[ok, 1])


# ----------------------------------------------------------------------------- run_lockstep

LOCKSTEP_SPECS = [
    (SGD, {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    (SGD, {"lr": 0.5}),  # 在 Rosenbrock、Beale 上发散
    (Adam, {"lr": 0.05, "betas": (0.8, 0.99)}),
    (AdamW, {"lr": 0.05, "weight_decay": 0.1}),
    (RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-12}),
    (NAdam, {"lr": 0.05}),
]


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "beale"])
def test_run_lockstep_equals_separate_runs(name):
    surf = problems.surface(name)
    got = w.run_lockstep(surf, LOCKSTEP_SPECS, steps=120)
    for (cls, hp), res in zip(LOCKSTEP_SPECS, got):
        ref = trajectory.run(surf, cls, 120, **hp)
        np.testing.assert_array_equal(res.path, ref.path)
        np.testing.assert_array_equal(res.loss, ref.loss)
        assert res.diverged_at == ref.diverged_at
    assert got[1].diverged_at is not None or name == "quadratic"


def test_run_lockstep_returns_invalid_hparams_as_exception():
    good, bad = w.run_lockstep(problems.rosenbrock(), [(SGD, {"lr": 1e-3}), (SGD, {"lr": 1e-3, "nesterov": True})], 5)
    assert isinstance(bad, ValueError)
    assert str(bad) == "Nesterov momentum requires a momentum and zero dampening"
    np.testing.assert_array_equal(good.path, trajectory.run(problems.rosenbrock(), SGD, 5, lr=1e-3).path)


class BrokenSGD(SGD):
    """step() 抛出不属于优化器文档化错误的异常（模拟程序错误）。"""

    def step(self, closure=None):
        raise RuntimeError("broken step")


def test_run_lockstep_lets_other_errors_through():
    assert w.OPTIMIZER_ERRORS == (ValueError,)
    with pytest.raises(RuntimeError, match="broken step"):
        w.run_lockstep(problems.rosenbrock(), [(BrokenSGD, {"lr": 1e-3})], 5)


# ----------------------------------------------------------------------------- failures

def test_failure_in_compute_is_drawn_or_raised(monkeypatch):
    """计算中的意外异常：严格模式下抛出；否则清空曲线，状态文字用红色写出原因，图随之改变。"""
    ex = w.sgd_explorer("quadratic")
    monkeypatch.setattr(ex, "_specs", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        ex.controls["lr"].value = 0.1
    monkeypatch.setattr(base, "STRICT", False)
    before = ex.png
    ex.controls["lr"].value = 0.01
    assert ex.status.get_text() == "无法运行：division by zero"
    assert ex.status.get_color() == w.RED
    assert len(ex.lines["SGD"].get_xdata()) == 0 and len(ex.loss_lines["SGD"].get_xdata()) == 0
    assert ex.png != before


SMALL = {"bias_correction": {"max_steps": 20}, "reddi": {"steps": 20}, "scheduler": {"epochs": 3},
         "sensitivity": {"resolution": 3, "steps": 10, "precompute": False}}


@pytest.mark.parametrize("name", list(SMALL))
def test_every_explorer_draws_its_failure(name, monkeypatch):
    monkeypatch.setattr(base, "STRICT", False)
    ex = w.EXPLORERS[name](**SMALL[name])
    monkeypatch.setattr(ex, "_compute", lambda: (_ for _ in ()).throw(KeyError("k")))
    ex.update()
    assert ex.status.get_text() == "无法运行：'k'" and ex.status.get_color() == w.RED
    assert "无法运行：'k'" in ex.texts()


# ----------------------------------------------------------------------------- definitions

DEFINITIONS = json.loads(w.definitions_json())


def check_controls_follow_definition(name, ex):
    """JSON 中的定义（另一个前端读取的数据）与探索器的控件一一对应：顺序、标签、范围、选项。"""
    d = DEFINITIONS[name]
    assert list(ex.controls) == list(d["controls"])
    for cname, ctrl in ex.controls.items():
        c = d["controls"][cname]
        assert ctrl.description == c["label"], cname
        if c["kind"] in ("log", "float"):
            assert (ctrl.min, ctrl.max, ctrl.step) == (c["lo"], c["hi"], c["step"]), cname
        if c["kind"] in ("dropdown", "choice"):
            assert [list(o) if isinstance(o, tuple) else o for o in ctrl.options] == c["options"], cname


def test_definitions_are_plain_data():
    assert set(DEFINITIONS) == set(w.EXPLORERS) | {"more_optimizers"}
    sgd = DEFINITIONS["sgd"]
    assert sgd["problem"] == "surface" and sgd["surface_defaults"]["lr"]["quadratic"] == 0.05
    assert DEFINITIONS["adam"]["controls"]["eps"] == {"kind": "log", "label": "ε", "default": 1e-8, "lo": -12,
                                                      "hi": 0, "step": 1.0, "fmt": ".3g", "options": [], "n": None,
                                                      "width": ""}


# ----------------------------------------------------------------------------- every control

def new_value(ctrl):
    """一个与当前值不同的取值（取范围的另一端）。"""
    if isinstance(ctrl, W.Checkbox):
        return not ctrl.value
    if isinstance(ctrl, (W.Dropdown, W.SelectionSlider)):
        opts = [o[1] if isinstance(o, tuple) else o for o in ctrl.options]
        return opts[-1] if ctrl.value != opts[-1] else opts[0]
    if isinstance(ctrl, W.FloatLogSlider):
        hi, lo = 10.0**ctrl.max, 10.0**ctrl.min
        return hi if ctrl.value != hi else lo
    return ctrl.max if ctrl.value != ctrl.max else ctrl.min


SCHEDULER_OF = {"step_size": "step", "gamma": "step", "T_max": "cosine", "max_lr": "onecycle", "pct_start": "onecycle",
                "lr": "step", "factor": "plateau", "patience": "plateau", "cycle_momentum": "onecycle"}
OPTIMIZER_OF = {"momentum": "sgd", "beta1": "adam"}


def build(name):
    if name == "sensitivity":
        return w.sensitivity_explorer(resolution=5, steps=40, precompute=False)
    return w.EXPLORERS[name]()


@pytest.mark.parametrize("name", list(w.EXPLORERS))
def test_every_control_changes_picture_and_never_raises(name):
    ex = build(name)
    check_controls_follow_definition(name, ex)
    for cname, ctrl in ex.controls.items():
        if name in ("sgd", "adam", "nadam") and cname == "kappa":
            ex.controls["surface"].value = "quadratic"  # κ 只对二次函数起作用
        if name == "scheduler" and cname in SCHEDULER_OF:
            ex.controls["kind"].value = SCHEDULER_OF[cname]  # 只有所选调度器的参数起作用
        if name == "scheduler" and cname in OPTIMIZER_OF:
            ex.controls["optimizer"].value = OPTIMIZER_OF[cname]  # 只有所选优化器的动量起作用
        before_png, before_text, before_caption = ex.png, ex.texts(), ex.caption.value
        ctrl.value = new_value(ctrl)
        # 图（或图上方的超参数标题）变了；非法组合下可能只有标题变化
        assert ex.png != before_png or ex.caption.value != before_caption, cname
        if name != "sensitivity" or cname not in ("surface",):
            assert ex.texts() != before_text, cname
    for cname, ctrl in ex.controls.items():  # 各控件都在另一端：仍然不抛出
        ctrl.value = new_value(ctrl)
    assert ex.png.startswith(b"\x89PNG")


# ----------------------------------------------------------------------------- SGD

def test_sgd_explorer_shows_new_hyperparameters():
    ex = w.sgd_explorer("quadratic", kappa=10)
    assert ex.controls["lr"].value == 10 ** -1.25  # 二次函数上的默认值 0.05，对齐到滑块刻度
    ex.set(lr=0.02, momentum=0.5, dampening=0.1, weight_decay=0.2)
    assert "η = 0.02" in ex.title.get_text()
    assert "η = 0.02" in ex.caption.value  # 实时界面中标题显示在图上方
    assert "μ = 0.5" in ex.title.get_text()
    assert "τ = 0.1" in ex.title.get_text()
    assert "λ = 0.2" in ex.title.get_text()
    ref = trajectory.run(problems.quadratic(10), SGD, 200, lr=0.02, momentum=0.5, dampening=0.1, weight_decay=0.2)
    same_traj(ex.lines["SGD"], ref)
    np.testing.assert_array_equal(ex.loss_lines["SGD"].get_ydata(), np.maximum(ref.loss, w.LOSS_FLOOR))
    ex.controls["kappa"].value = 100
    assert "κ=100" in ex.ax.get_title()
    same_traj(ex.lines["SGD"], trajectory.run(problems.quadratic(100), SGD, 200, lr=0.02, momentum=0.5,
                                              dampening=0.1, weight_decay=0.2))


def test_sgd_explorer_divergence_is_shown():
    ex = w.sgd_explorer("rosenbrock")
    ex.controls["lr"].value = 1.0  # 学习率取最大值
    ref = trajectory.run(problems.rosenbrock(), SGD, 200, lr=1.0, momentum=0.9)
    assert ref.diverged_at is not None
    assert f"发散（第 {ref.diverged_at} 步）" in ex.status.get_text()
    same_traj(ex.lines["SGD"], ref)


def test_sgd_explorer_invalid_combination_is_a_message():
    ex = w.sgd_explorer("rosenbrock")
    ex.set(dampening=0.5, nesterov=True)
    assert "无法运行：Nesterov 动量要求 μ > 0 且 τ = 0" in ex.status.get_text()
    assert len(ex.lines["SGD"].get_xdata()) == 0
    ex.controls["dampening"].value = 0.0  # 改回合法组合，轨迹恢复
    same_traj(ex.lines["SGD"], trajectory.run(problems.rosenbrock(), SGD, 200, lr=1e-3, momentum=0.9, nesterov=True))


# ----------------------------------------------------------------------------- Adam

def test_adam_explorer_matches_three_runs_at_extremes():
    ex = w.adam_explorer("beale")
    ex.set(lr=1.0, beta1=0.999, beta2=0.9999, eps=1e-12, sgd_lr=1e-5)
    title = ex.title.get_text()
    assert "η = 1" in title and "ε = 1e-12" in title and "0.9999" in title
    surf = problems.beale()
    same_traj(ex.lines["Adam"], trajectory.run(surf, Adam, 200, lr=1.0, betas=(0.999, 0.9999), eps=1e-12))
    same_traj(ex.lines["SGD"], trajectory.run(surf, SGD, 200, lr=1e-5, momentum=0.999))
    same_traj(ex.lines["RMSprop"], trajectory.run(surf, RMSprop, 200, lr=1.0, alpha=0.9999, eps=1e-12))


def test_adam_explorer_divergence_message_names_the_optimizer():
    ex = w.adam_explorer("rosenbrock")
    ex.controls["sgd_lr"].value = 1.0
    k = trajectory.run(problems.rosenbrock(), SGD, 200, lr=1.0, momentum=0.9).diverged_at
    assert f"SGD：发散（第 {k} 步）" in ex.status.get_text()
    assert ex.status.get_color() == w.RED


# ----------------------------------------------------------------------------- 偏差校正

def test_bias_correction_matches_recursion():
    ex = w.bias_correction_explorer(max_steps=120)
    ex.set(beta1=0.5, beta2=0.99, sigma=1.0, t=40)
    g = w.noisy_gradients(120, 1.0)
    m = v = 0.0
    ms, vs = [], []
    for gt in g:
        m = 0.5 * m + 0.5 * gt
        v = 0.99 * v + 0.01 * gt * gt
        ms.append(m)
        vs.append(v)
    t = np.arange(1, 41)
    np.testing.assert_allclose(ex.lines["m"].get_ydata(), ms[:40], rtol=1e-12)
    np.testing.assert_allclose(ex.lines["v"].get_ydata(), vs[:40], rtol=1e-12)
    np.testing.assert_allclose(ex.lines["m_hat"].get_ydata(), np.array(ms[:40]) / (1 - 0.5**t), rtol=1e-12)
    np.testing.assert_allclose(ex.lines["v_hat"].get_ydata(), np.array(vs[:40]) / (1 - 0.99**t), rtol=1e-12)
    assert "β₂ = 0.99" in ex.title.get_text() and "t = 40" in ex.title.get_text()
    assert f"v̂ = {vs[39] / (1 - 0.99**40):.3f}" in ex.readout.get_text()
    assert list(ex.lines["cursor_m"].get_xdata()) == [40, 40]


def test_bias_correction_first_step_is_exact():
    """第 1 步：校正后 m̂₁ = g₁、v̂₁ = g₁²，与 β 无关；未校正的 v₁ = (1 − β₂) g₁²。"""
    ex = w.bias_correction_explorer(max_steps=50)
    ex.set(beta1=0.999, beta2=0.9999, t=1)
    g1 = w.noisy_gradients(50, ex.controls["sigma"].value)[0]
    assert ex.lines["m_hat"].get_ydata()[0] == pytest.approx(g1, rel=1e-12)
    assert ex.lines["v_hat"].get_ydata()[0] == pytest.approx(g1 * g1, rel=1e-9)
    assert ex.lines["v"].get_ydata()[0] == pytest.approx(1e-4 * g1 * g1, rel=1e-9)


# ----------------------------------------------------------------------------- 变体

def test_reddi_adam_goes_to_worst_point_amsgrad_to_optimum():
    ex = w.reddi_explorer(steps=300)
    assert ex.result["Adam"].x[-1] == 1.0
    assert ex.result["AMSGrad"].x[-1] < -0.9
    assert "Adam：x = +1.000" in ex.status.get_text()
    np.testing.assert_array_equal(ex.lines["Adam"].get_ydata(), ex.result["Adam"].x)


def test_reddi_explorer_matches_a_plain_loop():
    """探索器从 x₀ = 0 出发（online.run_reddi 默认从 +1 出发）；与手写的投影 Adam 循环逐位相同，
    平均遗憾与手算的 Σ f_t(x_{t-1}) − Σ f_t(−1) 相同。"""
    ex = w.reddi_explorer(steps=30)
    ex.set(C=4.0, lr=10 ** -0.5, beta1=0.5, beta2=0.2)
    lr = ex.controls["lr"].value
    for name, ams in (("Adam", False), ("AMSGrad", True)):
        x = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
        opt = Adam([x], lr=lr, betas=(0.5, 0.2), amsgrad=ams)
        xs, regret = [0.0], 0.0
        for t in range(1, 31):
            g = 4.0 if t % 3 == 1 else -1.0
            regret += g * xs[-1] - g * -1.0
            opt.param_groups[0]["lr"] = lr / math.sqrt(t)
            opt.zero_grad()
            problems.reddi_loss(x, t, 4.0).sum().backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(-1, 1)
            xs.append(float(x.detach()))
            assert ex.lines[name + "_regret"].get_ydata()[t - 1] == pytest.approx(regret / t, rel=1e-12, abs=1e-12)
        np.testing.assert_array_equal(ex.lines[name].get_ydata(), xs)
    assert online.run_reddi(Adam, 3, 4.0).x[0] == 1.0 and ex.result["Adam"].x[0] == 0.0


def test_reddi_extremes_are_messages_or_numbers():
    ex = w.reddi_explorer(steps=60)
    ex.set(beta2=0.999, beta1=0.99, lr=1.0, C=10.0, decay=False)
    assert "C = 10" in ex.title.get_text()
    assert np.isfinite(ex.result["Adam"].x).all() and np.abs(ex.result["Adam"].x).max() <= 1


def test_adamw_path_does_not_depend_on_gradient_scale_but_l2_does():
    ex = w.adamw_explorer()
    ex.controls["scale"].value = 0.01
    lr, wd = ex.value("lr"), ex.value("weight_decay")
    adamw_small, l2_small = ex.lines["AdamW"].get_xydata().copy(), ex.lines["Adam + L2"].get_xydata().copy()
    same_traj(ex.lines["AdamW"], trajectory.run(w.scaled_quadratic(0.01), AdamW, 200, lr=lr, weight_decay=wd))
    same_traj(ex.lines["Adam + L2"], trajectory.run(w.scaled_quadratic(0.01), Adam, 200, lr=lr, weight_decay=wd))
    ex.controls["scale"].value = 100.0
    assert "s = 100" in ex.title.get_text()
    np.testing.assert_allclose(ex.lines["AdamW"].get_xydata(), adamw_small, atol=1e-5)
    assert np.abs(ex.lines["Adam + L2"].get_xydata() - l2_small).max() > 0.5
    # L2 正则目标的最小点：θ_i = s h_i θ*_i / (s h_i + λ)
    assert ex.l2_point.get_xdata()[0] == pytest.approx(100 * 2.0 / (100 + 0.1))


def test_nadam_explorer_matches_runs():
    ex = w.nadam_explorer("quadratic")
    ex.set(lr=0.3, beta1=0.0, momentum_decay=1.0)
    surf = problems.quadratic(10)
    same_traj(ex.lines["Adam"], trajectory.run(surf, Adam, 200, lr=0.3, betas=(0.0, 0.999)))
    same_traj(ex.lines["NAdam"], trajectory.run(surf, NAdam, 200, lr=0.3, betas=(0.0, 0.999), momentum_decay=1.0))
    assert "ψ = 1" in ex.title.get_text()


def test_variants_explorer_has_three_tabs():
    tabs = w.variants_explorer()
    assert [tabs.widget.get_title(i) for i in range(3)] == ["AMSGrad 与 Adam", "AdamW 与 L2", "NAdam 与 Adam"]


# ----------------------------------------------------------------------------- 调度器

def test_scheduler_explorer_steplr_shape_and_training():
    ex = w.scheduler_explorer("step")
    ex.set(lr=0.05, step_size=5, gamma=0.5)
    assert "step_size = 5" in ex.title.get_text() and "gamma = 0.5" in ex.title.get_text()
    lr = ex.lines["lr"].get_ydata()
    per_epoch = 10  # 200 个样本，批量 20
    expected = [0.05 * 0.5 ** ((k // per_epoch) // 5) for k in range(300)]
    np.testing.assert_allclose(lr, expected, rtol=1e-12)
    ref = torch_steplr_epoch_losses(lr=0.05, step_size=5, gamma=0.5)
    np.testing.assert_allclose(ex.lines["loss"].get_ydata(),
                               np.maximum(ref - w.regression_optimum(), 1e-12), rtol=1e-5)
    assert w.regression_optimum() == pytest.approx(0.2, abs=0.1)  # 噪声 σ = 0.5 → 约 σ² = 0.25
    X, y, _ = problems.linear_regression()  # 噪声下限的闭式：numpy 的最小二乘
    A = np.c_[X[:, 0].numpy(), np.ones(len(X))]
    coef = np.linalg.lstsq(A, y.numpy(), rcond=None)[0]
    assert w.regression_optimum() == pytest.approx(np.mean((A @ coef - y.numpy()) ** 2), rel=1e-10)


def torch_steplr_epoch_losses(lr, step_size, gamma, epochs=30, batch_size=20):
    """独立的参照：torch.optim.SGD 加 torch 的 StepLR，手写训练循环（每轮用种子 0 的生成器打乱，
    批量 20，每轮末调用一次 ``scheduler.step()``），返回每轮开始前与结束后的全数据均方误差。"""
    X, y, _ = problems.linear_regression()
    X, y = X[:, :1].float(), y[:, None].float()
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    gen = torch.Generator().manual_seed(0)
    mse = torch.nn.MSELoss()
    with torch.no_grad():
        losses = [float(mse(model(X), y))]
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            mse(model(X[idx]), y[idx]).backward()
            opt.step()
        with torch.no_grad():
            losses.append(float(mse(model(X), y)))
        sched.step()
    return np.array(losses)


def torch_lrs(make, lr, n_updates=300, per_epoch=10, per_step=False):
    """独立的参照：torch 自己的调度器作用在 torch.optim.SGD 上，逐次更新记下的学习率。"""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make(opt)
    out = []
    for k in range(n_updates):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if per_step or (k + 1) % per_epoch == 0:
            sched.step()
    return np.array(out)


def test_scheduler_explorer_onecycle_and_cosine_shapes():
    S = torch.optim.lr_scheduler
    ex = w.scheduler_explorer("onecycle")
    ex.set(max_lr=0.2, pct_start=0.5)
    lr = ex.lines["lr"].get_ydata()
    ref = torch_lrs(lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=300, pct_start=0.5, cycle_momentum=False),
                    0.03, per_step=True)
    np.testing.assert_allclose(lr, np.maximum(ref, 1e-12), rtol=1e-12)
    assert lr.max() == pytest.approx(0.2, rel=1e-3) and int(np.argmax(lr)) in (149, 150)
    assert ex.controls["step_size"].disabled and not ex.controls["max_lr"].disabled
    ex.set(kind="cosine", T_max=30, lr=0.1)
    lr = ex.lines["lr"].get_ydata()
    np.testing.assert_allclose(lr, np.maximum(torch_lrs(lambda o: S.CosineAnnealingLR(o, T_max=30), 0.1), 1e-12),
                               rtol=1e-12)
    assert lr[0] == 0.1 and lr[-1] == pytest.approx(0.1 * (1 + math.cos(math.pi * 29 / 30)) / 2)


def test_scheduler_explorer_divergence_is_shown():
    ex = w.scheduler_explorer("constant")
    ex.controls["lr"].value = 1.0
    assert re.search(r"发散（第 \d+ 步）", ex.status.get_text())


def test_scheduler_explorer_plateau_and_cycled_momentum():
    S = torch.optim.lr_scheduler
    ex = w.scheduler_explorer("plateau")
    ex.set(lr=0.05, factor=0.5, patience=2)
    # 独立的参照：torch.optim.SGD 的手写训练循环，每轮末以全数据损失调用 ReduceLROnPlateau.step
    X, y, _ = problems.linear_regression()
    X, y = X[:, :1].float(), y[:, None].float()
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    gen, mse, cuts = torch.Generator().manual_seed(0), torch.nn.MSELoss(), []
    for epoch in range(1, 31):
        order = torch.randperm(200, generator=gen)
        for start in range(0, 200, 20):
            opt.zero_grad()
            mse(model(X[order[start:start + 20]]), y[order[start:start + 20]]).backward()
            opt.step()
        before = opt.param_groups[0]["lr"]
        with torch.no_grad():
            sched.step(float(mse(model(X), y)))
        cuts += [epoch] if opt.param_groups[0]["lr"] < before else []
    assert len(cuts) >= 3
    assert f"第 {'、'.join(map(str, cuts[:6]))}" in ex.status.get_text() and "学习率 ×0.5" in ex.status.get_text()
    assert "factor = 0.5，patience = 2" in ex.title.get_text()
    ex.set(kind="onecycle", max_lr=0.1, pct_start=0.3, optimizer="adam", cycle_momentum=True)
    ref = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = S.OneCycleLR(ref, max_lr=0.1, total_steps=300, pct_start=0.3)
    beta1 = []
    for _ in range(300):
        beta1.append(ref.param_groups[0]["betas"][0])
        ref.step()
        sched.step()
    np.testing.assert_array_equal(ex.lines["momentum"].get_ydata(), beta1)
    assert min(beta1) == pytest.approx(0.85) and beta1[0] == pytest.approx(0.95)
    assert ex.controls["beta1"].disabled and "β₁ 在 0.95 与 0.85 间循环" in ex.title.get_text()
    ex.set(cycle_momentum=False, optimizer="sgd", momentum=0.0)
    assert len(ex.lines["momentum"].get_ydata()) == 0  # SGD 没有动量时不画动量曲线


# ----------------------------------------------------------------------------- 敏感度图

def test_sensitivity_explorer_image_is_the_sweep():
    ex = w.sensitivity_explorer("quadratic", "SGD", resolution=6, steps=40, precompute=False)
    surf = problems.quadratic()
    g = w.sensitivity_grid(surf, "SGD", ex.lrs, ex.seconds, 40)
    for i in (0, 3, 5):
        for j in (0, 2, 5):
            ref = trajectory.run(surf, SGD, 40, lr=ex.lrs[i], momentum=ex.seconds[j])
            assert g.final_loss[i, j] == ref.final_loss
    img = np.ma.filled(ex.image_artist.get_array(), np.nan)
    fin = np.isfinite(g.final_loss.T)
    np.testing.assert_allclose(img[fin], np.maximum(g.final_loss.T[fin] - surf.f_min, 1e-8))
    assert (~fin).any() and np.isnan(img[~fin]).all()  # 发散的格子被遮住（画成灰色）
    ex.set(lr=5, second=0)
    assert "η = 1，动量 μ = 0.000" in ex.title.get_text()
    ref = trajectory.run(surf, SGD, 40, lr=1.0, momentum=0.0)
    same_traj(ex.path_line, ref)
    before = img.copy()
    ex.controls["optimizer"].value = "Adam"
    assert ex.ax_map.get_ylabel() == "$\\beta_1$"
    assert not np.array_equal(np.ma.filled(ex.image_artist.get_array(), np.nan), before)


def test_prefetched_neighbours_equal_separate_runs():
    """移动滑块时两侧的取值由一次批量扫描预先算好；下一格直接取缓存，结果与 trajectory.run 逐位相同。"""
    ex = w.adam_explorer("rosenbrock")
    ex.controls["beta1"].value = 0.5
    lr = ex.value("lr")
    key = ex.cache.key(("rosenbrock",), Adam, {"lr": lr, "betas": (0.503, 0.999), "eps": 1e-8}, 200)
    assert key in ex.cache  # 右边第 3 格已经算好
    ex.controls["beta1"].value = 0.503
    surf = problems.rosenbrock()
    same_traj(ex.lines["Adam"], trajectory.run(surf, Adam, 200, lr=lr, betas=(0.503, 0.999)))
    same_traj(ex.lines["SGD"], trajectory.run(surf, SGD, 200, lr=1e-3, momentum=0.503))
    ex.controls["lr"].value = 10 ** -0.75  # 预取沿学习率进行，包括发散的设置
    ex.controls["lr"].value = 1.0
    same_traj(ex.lines["RMSprop"], trajectory.run(surf, RMSprop, 200, lr=1.0, alpha=0.999))


def test_displayed_frame_is_a_compact_palette_png():
    """笔记本里保存的那一帧是调色板 PNG（更小），画面尺寸不变。"""
    import io

    from PIL import Image

    ex = w.sgd_explorer("quadratic")
    before = ex.image.value
    bundle = ex._repr_mimebundle_()
    after = ex.image.value
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert len(after) < len(before) / 2
    old, new = Image.open(io.BytesIO(before)), Image.open(io.BytesIO(after))
    assert new.mode == "P" and new.size == old.size
