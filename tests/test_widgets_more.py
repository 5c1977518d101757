"""第 8–10 章的探索器：每个可选优化器 × 每个曲面都能画出来，轨迹与 torch.optim 的独立运行逐位相同，
极端学习率显示"发散"，菜单之外的三个优化器确实不能这样运行。"""

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from optimlab import problems, trajectory  # noqa: E402
from optimlab import widgets_more as wm  # noqa: E402
from optimlab.widgets import base  # noqa: E402
from optimlab.widgets.base import fmt  # noqa: E402

STEPS = 60
SURFACES = [("quadratic", 10), ("quadratic", 100), ("rosenbrock", 10), ("beale", 10)]


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


def surface_of(name, kappa):
    return problems.quadratic(kappa) if name == "quadratic" else problems.surface(name)


def same_traj(line, traj):
    """图中轨迹线的数据等于参考轨迹的有限部分。"""
    ok = np.isfinite(traj.path).all(axis=1)
    np.testing.assert_array_equal(line.get_xdata(), traj.path[ok, 0])
    np.testing.assert_array_equal(line.get_ydata(), traj.path[ok, 1])


def expected_message(name, traj, f_min):
    if traj.diverged_at is not None:
        return f"{name}：发散（第 {traj.diverged_at} 步）"
    return f"{name}：第 {STEPS} 步 f − f* = {fmt(traj.loss[-1] - f_min)}"


def test_menu_is_the_runnable_new_optimizers_plus_adam():
    new = {"RAdam", "Adamax", "Adadelta", "ASGD", "Rprop", "LBFGS", "SparseAdam", "Adafactor", "Muon"}
    assert set(wm.CHOICES) == (new - set(wm.EXCLUDED)) | {"Adam"}
    assert set(wm.EXCLUDED) == {"LBFGS", "SparseAdam", "Muon"}
    for name in wm.CHOICES:  # 每个可选优化器都是 torch.optim 中同名的类
        assert isinstance(getattr(torch.optim, name), type)


@pytest.mark.parametrize("surface,kappa", SURFACES, ids=[f"{s}-{k}" for s, k in SURFACES])
def test_every_choice_renders_and_equals_torch(surface, kappa):
    ex = wm.more_optimizers_explorer(surface, steps=STEPS)
    ex.set(kappa=kappa)
    surf = surface_of(surface, kappa)
    baseline = trajectory.run(surf, torch.optim.Adam, STEPS, lr=ex.baseline_lr())
    previous = ex.selected()
    for name in wm.CHOICES:
        before = ex.png
        ex.set(optimizer=name, lr=ex.suggested_lr(name, surface))
        lr = ex.value("lr")
        ref = trajectory.run(surf, getattr(torch.optim, name), STEPS, lr=lr)  # 独立的参考：torch.optim
        same_traj(ex.lines[name], ref)
        same_traj(ex.lines[wm.BASELINE], baseline)
        status = ex.status.get_text()
        assert expected_message(name, ref, surf.f_min) in status, (name, status)
        assert expected_message(wm.BASELINE, baseline, surf.f_min) in status
        assert f"η = {fmt(lr)}" in ex.caption.value and name in ex.caption.value
        legend = [t.get_text() for t in ex.ax_loss.get_legend().get_texts()]
        assert legend == [wm.CHOICES[name], wm.BASELINE]
        for other in wm.CHOICES:  # 没选中的优化器不留下旧的轨迹
            if other != name:
                assert len(ex.lines[other].get_xdata()) == 0
        assert ex.png.startswith(b"\x89PNG")
        assert ex.png != before or name == previous  # 换了优化器，图就变了
        previous = name


def test_extreme_lr_shows_divergence():
    ex = wm.more_optimizers_explorer("rosenbrock", steps=STEPS)
    surf = problems.rosenbrock()
    top = 10.0 ** wm.MORE_DEF.controls["lr"].hi
    diverged = []
    for name in wm.CHOICES:
        ex.set(optimizer=name, lr=top)
        ref = trajectory.run(surf, getattr(torch.optim, name), STEPS, lr=ex.value("lr"))
        assert expected_message(name, ref, surf.f_min) in ex.status.get_text()
        same_traj(ex.lines[name], ref)
        if ref.diverged_at is not None:
            diverged.append(name)
            assert ex.status.get_color() == "#c0392b"  # 红色
    # 步长正比于梯度的两个：ASGD（就是 SGD）与 RAdam（前 5 步是动量 SGD）
    assert {"ASGD", "RAdam"} <= set(diverged)


def test_controls_reset_lr_and_prefetch_path_still_equals_torch():
    ex = wm.more_optimizers_explorer("rosenbrock", steps=STEPS)
    assert ex.value("lr") == pytest.approx(ex.suggested_lr("RAdam", "rosenbrock"), rel=1e-9)
    ex.controls["optimizer"].value = "ASGD"  # 换优化器：学习率跳到建议值，旧的轨迹清空
    assert ex.value("lr") == pytest.approx(ex.suggested_lr("ASGD", "rosenbrock"), rel=1e-9)
    assert len(ex.lines["RAdam"].get_xdata()) == 0
    ex.controls["surface"].value = "beale"  # 换曲面：同样跳到建议值
    assert ex.value("lr") == pytest.approx(ex.suggested_lr("ASGD", "beale"), rel=1e-9)
    ex.controls["optimizer"].value = "Adam"
    ex.controls["lr"].value = 10.0 ** -0.5  # 拖动滑块：Adam 走批量预取（optimlab.sweep）的路径
    ref = trajectory.run(problems.beale(), torch.optim.Adam, STEPS, lr=ex.value("lr"))
    same_traj(ex.lines["Adam"], ref)
    assert expected_message("Adam", ref, problems.beale().f_min) in ex.status.get_text()


def test_note_explains_the_three_excluded_optimizers_and_they_fail_here():
    ex = wm.more_optimizers_explorer("quadratic", steps=5)
    for name in ("LBFGS", "SparseAdam", "Muon"):
        assert name in ex.note.value
        assert name not in [v for _, v in ex.controls["optimizer"].options]
    surf = problems.quadratic(10)
    with pytest.raises(TypeError, match="closure"):
        trajectory.run(surf, torch.optim.LBFGS, 1)
    with pytest.raises(RuntimeError, match="does not support dense gradients"):
        trajectory.run(surf, torch.optim.SparseAdam, 1)
    with pytest.raises(ValueError, match="only supports 2D parameters"):
        trajectory.run(surf, torch.optim.Muon, 1)


def test_unknown_optimizer_is_an_error_not_a_message():
    with pytest.raises(ValueError, match="unknown optimizer 'LBFGS'"):
        wm.more_optimizers_explorer(optimizer="LBFGS")


def test_display_bundle_is_fixed_text():
    ex = wm.more_optimizers_explorer("quadratic", steps=5)
    data = ex._repr_mimebundle_()
    assert data["text/plain"] == "交互探索器 MoreOptimizersExplorer（需要运行中的 Jupyter 内核）"
    assert "application/vnd.jupyter.widget-view+json" in data
