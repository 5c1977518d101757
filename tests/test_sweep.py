"""批量扫描：K 组超参数一次运行的结果与 K 次单独运行（trajectory.run + optimlab 优化器）逐位相同。"""

import inspect
import re

import numpy as np
import pytest
import torch

import optimlab
from optimlab import problems, sweep as sweep_module
from optimlab.sweep import SweepResult, sweep, sweep_grid
from optimlab.trajectory import run
from oracle import outcome

ROSENBROCK = problems.rosenbrock()
BEALE = problems.beale()
QUADRATIC = problems.quadratic(100.0)

# (优化器, 曲面, 起点, 超参数)。数组的第 i 个元素属于第 i 组设置；标记 * 的行会发散。
CASES = [
    # SGD：动量、阻尼、L2；lr ≥ 5e-3 在 Rosenbrock 上第 5 步发散*
    ("SGD", ROSENBROCK, None, dict(lr=[1e-4, 1e-3, 2e-3, 5e-3, 1e-2], momentum=[0.0, 0.9, 0.5, 0.0, 0.99],
                                    dampening=[0.0, 0.1, 0.0, 0.5, 0.2], weight_decay=[0.0, 0.1, 0.0, 0.01, 0.0])),
    ("SGD", ROSENBROCK, None, dict(lr=[1e-4, 1e-3, 2e-3], momentum=[0.9, 0.5, 0.8], nesterov=True)),
    # 二次函数 κ = 100：lr > 2/κ 时振荡放大，几十步后才越界*
    ("SGD", QUADRATIC, None, dict(lr=[0.005, 0.019, 0.021, 0.025])),
    ("SGD", BEALE, None, dict(lr=1e-3, momentum=[0.0, 0.5, 0.9, 0.95], dampening=0.1)),
    ("SGD", QUADRATIC, None, dict(lr=[1e-3, 1e-2], maximize=True)),  # 上升：第二行越界*
    # Adam：β₁、β₂、ε、L2；lr = 1e7 第 1 步越界*
    ("Adam", ROSENBROCK, None, dict(lr=[1e-3, 1e-2, 0.1, 1.0, 1e7], beta1=[0.9, 0.0, 0.5, 0.99, 0.9],
                                     beta2=[0.999, 0.9, 0.99, 0.5, 0.999], weight_decay=[0.0, 0.1, 0.0, 0.01, 0.0])),
    ("Adam", BEALE, None, dict(lr=[1e-3, 1e-2, 0.1, 1.0], eps=[1e-8, 1e-3, 0.0, 1.0], amsgrad=True,
                                beta1=0.9, beta2=[0.999, 0.5, 0.1, 0.9])),
    # 从最小点出发、ε = 0：0/0 得到 NaN，第 1 步发散*；ε > 0 的行停在原地
    ("Adam", ROSENBROCK, (1.0, 1.0), dict(lr=0.1, eps=[0.0, 1e-8])),
    ("Adam", QUADRATIC, None, dict(lr=[0.1, 1e5], weight_decay=[0.0, 0.5], decoupled_weight_decay=True)),
    ("Adam", QUADRATIC, None, dict(lr=[1e-2, 1e5], maximize=True)),  # 上升*
    ("AdamW", ROSENBROCK, None, dict(lr=[1e-3, 1e-2, 0.1, 1.0, 1e7], weight_decay=[0.0, 0.1, 0.5, 0.01, 1e-2],
                                      amsgrad=False)),
    ("AdamW", BEALE, None, dict(lr=[1e-2, 0.1], beta1=[0.8, 0.95], beta2=[0.9, 0.999], amsgrad=True)),
    # NAdam：ψ、L2、解耦
    ("NAdam", ROSENBROCK, None, dict(lr=[1e-3, 1e-2, 0.1, 1.0, 1e7], momentum_decay=[0.0, 4e-3, 0.1, 1.0, 4e-3],
                                      weight_decay=[0.0, 0.1, 0.0, 0.01, 0.0])),
    ("NAdam", BEALE, None, dict(lr=[1e-2, 0.1], beta1=[0.0, 0.99], beta2=[0.5, 0.999], eps=[1e-8, 0.1],
                                 weight_decay=0.05, decoupled_weight_decay=True)),
    # RMSprop：α、动量、centered、L2
    ("RMSprop", ROSENBROCK, None, dict(lr=[1e-3, 1e-2, 0.1, 1.0, 1e7], momentum=[0.0, 0.9, 0.0, 0.5, 0.0],
                                        alpha=[0.99, 0.9, 0.5, 0.0, 0.99], weight_decay=[0.0, 0.1, 0.0, 0.01, 0.0])),
    ("RMSprop", BEALE, None, dict(lr=[1e-3, 1e-2, 0.1, 1e7], momentum=[0.0, 0.9, 0.5, 0.9], centered=True)),
    # Adagrad：δ、s₀、ε、L2
    ("Adagrad", ROSENBROCK, None, dict(lr=[1e-3, 1e-2, 0.1, 1.0, 1e7], lr_decay=[0.0, 0.1, 0.01, 0.0, 0.0],
                                        initial_accumulator_value=[0.0, 0.1, 1.0, 0.0, 0.0],
                                        weight_decay=[0.0, 0.1, 0.0, 0.01, 0.0], eps=[1e-10, 1e-10, 1e-3, 0.5, 1e-10])),
    ("Adagrad", QUADRATIC, None, dict(lr=[0.5, 1e8], maximize=True)),
    # maximize：每个优化器都覆盖（上升，大学习率的行越界*）
    ("AdamW", QUADRATIC, None, dict(lr=[1e-2, 1e5], weight_decay=[0.0, 0.1], maximize=True)),
    ("NAdam", BEALE, None, dict(lr=[1e-3, 1e5], maximize=True)),
    ("RMSprop", QUADRATIC, None, dict(lr=[1e-3, 1e5], momentum=[0.0, 0.9], maximize=True)),
    # L2 项与梯度同量级时，逐行的 g + λθ 必须与单张量代码的舍入（可能是一次 FMA）完全一致
    *[(name, QUADRATIC, None, dict(lr=[0.003, 0.01, 0.05], weight_decay=[0.7, 3.3, 0.37]))
      for name in ["SGD", "Adam", "NAdam", "RMSprop", "Adagrad"]],
]

# 每个优化器再加 12 组随机设置（固定种子），覆盖不"整齐"的取值
_rng = np.random.default_rng(0)


def _log_uniform(lo, hi, n=12):
    return (10 ** _rng.uniform(np.log10(lo), np.log10(hi), n)).round(12).tolist()


def _uniform(lo, hi, n=12):
    return _rng.uniform(lo, hi, n).round(12).tolist()


CASES += [
    ("SGD", ROSENBROCK, None, dict(lr=_log_uniform(1e-5, 1e-2), momentum=_uniform(0, 0.99), dampening=_uniform(0, 0.5),
                                    weight_decay=_log_uniform(1e-3, 1))),
    ("Adam", BEALE, None, dict(lr=_log_uniform(1e-4, 1), beta1=_uniform(0, 0.99), beta2=_uniform(0.5, 0.9999),
                                eps=_log_uniform(1e-10, 1e-2), weight_decay=_log_uniform(1e-3, 1))),
    ("AdamW", ROSENBROCK, None, dict(lr=_log_uniform(1e-4, 1), beta1=_uniform(0, 0.99), beta2=_uniform(0.5, 0.9999),
                                      weight_decay=_log_uniform(1e-3, 1), amsgrad=True)),
    ("NAdam", ROSENBROCK, None, dict(lr=_log_uniform(1e-4, 1), beta1=_uniform(0, 0.99), beta2=_uniform(0.5, 0.9999),
                                      momentum_decay=_log_uniform(1e-4, 1), weight_decay=_log_uniform(1e-3, 1))),
    ("RMSprop", BEALE, None, dict(lr=_log_uniform(1e-4, 1), alpha=_uniform(0, 0.999), momentum=_uniform(0, 0.9),
                                   eps=_log_uniform(1e-10, 1e-2), weight_decay=_log_uniform(1e-3, 1), centered=True)),
    ("Adagrad", BEALE, None, dict(lr=_log_uniform(1e-3, 1), lr_decay=_log_uniform(1e-4, 1),
                                   initial_accumulator_value=_uniform(0, 1), weight_decay=_log_uniform(1e-3, 1))),
]
STEPS = 120


def constructor_kwargs(hparams, i):
    """第 i 组设置的构造参数（beta1、beta2 合成 betas；只传用户给出的超参数，其余用构造函数的默认值）。"""
    kwargs = {k: (v[i] if np.ndim(v) else v) for k, v in hparams.items()}
    if "beta1" in kwargs or "beta2" in kwargs:
        defaults = inspect.signature(optimlab.Adam).parameters["betas"].default
        kwargs["betas"] = (float(kwargs.pop("beta1", defaults[0])), float(kwargs.pop("beta2", defaults[1])))
    return kwargs


def length(hparams):
    return max((len(v) for v in hparams.values() if np.ndim(v)), default=1)


def assert_same_as_runs(res, name, surface, x0, hparams, steps, index=lambda i: (i,)):
    cls = getattr(optimlab, name)
    for i in range(length(hparams)):
        single = run(surface, cls, steps=steps, x0=x0, **constructor_kwargs(hparams, i))
        j = index(i)
        # 逐位相同（NaN 的位置也相同）
        assert np.array_equal(res.path[j], single.path, equal_nan=True), (name, i)
        assert np.array_equal(res.loss[j], single.loss, equal_nan=True), (name, i)
        assert res.diverged_at[j] == (-1 if single.diverged_at is None else single.diverged_at), (name, i)
        assert res.final_loss[j] == single.final_loss, (name, i)


@pytest.mark.parametrize("name, surface, x0, hparams", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_equals_separate_runs(name, surface, x0, hparams):
    res = sweep(surface, name, steps=STEPS, x0=x0, **hparams)
    assert_same_as_runs(res, name, surface, x0, hparams, STEPS)


def test_cases_cover_divergence_for_every_optimizer():
    """每个优化器都有发散的设置和不发散的设置，且发散的步数各不相同（first step 1 与更晚的都有）。"""
    seen = {}
    for name, surface, x0, hparams in CASES:
        res = sweep(surface, name, steps=STEPS, x0=x0, **hparams)
        seen.setdefault(name, []).extend(res.diverged_at.tolist())
    for name, diverged_at in seen.items():
        assert -1 in diverged_at and max(diverged_at) >= 1, name
    assert 1 in seen["Adam"] and max(seen["SGD"]) > 20


def tags(source):
    """源代码注释中 (k) 编号的序列，按出现的顺序。

    if/else 的两个分支常常是同一行公式的两种写法（各带同一个编号），所以相邻的相同编号合并成一个；
    以“稀疏：”开头的注释属于稀疏梯度的分支，批量内核没有这个分支，不计入。
    """
    seq = []
    for line in source.splitlines():
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        if comment.startswith("稀疏："):
            continue
        for t in re.findall(r"\((\d+)\)", comment):
            if not seq or seq[-1] != t:
                seq.append(t)
    return seq


@pytest.mark.parametrize("name", sweep_module.OPTIMIZERS)
def test_kernel_mirrors_update_line_tags(name):
    """批量内核与优化器 _update 的 (k) 编号按顺序一一对应：改了一边的某一行，另一边也要跟着对上。"""
    _, kernel = sweep_module._KERNELS[name]
    expected = tags(inspect.getsource(getattr(optimlab, name)._update))
    assert tags(inspect.getsource(kernel)) == expected
    assert expected  # 确实找到了编号


def test_shapes_defaults_and_settings():
    res = sweep(ROSENBROCK, "Adam", steps=7, lr=[0.1, 0.01, 0.001], beta1=0.5)
    assert isinstance(res, SweepResult) and res.optimizer == "Adam"
    assert res.path.shape == (3, 8, 2) and res.path.dtype == np.float64
    assert res.loss.shape == (3, 8) and res.diverged_at.shape == (3,) and res.final_loss.shape == (3,)
    assert res.diverged_at.dtype.kind == "i" and res.shape == (3,)
    assert np.array_equal(res.path[:, 0], np.tile(ROSENBROCK.x0, (3, 1)))
    assert res.settings["lr"].tolist() == [0.1, 0.01, 0.001]
    assert res.settings["beta1"].tolist() == [0.5] * 3
    # 没给的取 optimlab.Adam 的默认值
    assert res.settings["beta2"].tolist() == [0.999] * 3 and res.settings["eps"].tolist() == [1e-8] * 3
    assert res.settings["weight_decay"].tolist() == [0.0] * 3 and res.settings["amsgrad"].tolist() == [False] * 3
    assert sorted(res.settings) == ["amsgrad", "beta1", "beta2", "decoupled_weight_decay", "eps", "lr", "maximize",
                                    "weight_decay"]
    assert sweep(ROSENBROCK, "AdamW", steps=1).settings["weight_decay"].tolist() == [1e-2]
    assert sweep(ROSENBROCK, "NAdam", steps=1).settings["lr"].tolist() == [2e-3]

    one = sweep(ROSENBROCK, "SGD", steps=5, lr=0.01)  # 全是标量：K = 1
    assert one.path.shape == (1, 6, 2)
    assert np.array_equal(one.path[0], run(ROSENBROCK, optimlab.SGD, steps=5, lr=0.01).path, equal_nan=True)


def test_final_loss_and_trajectory():
    hparams = dict(lr=[1e-3, 1e-2])
    res = sweep(ROSENBROCK, "SGD", steps=30, **hparams)
    assert res.diverged_at.tolist() == [-1, 5]
    assert res.final_loss[0] == res.loss[0, -1] and res.final_loss[1] == np.inf
    assert np.isnan(res.path[1, 5:]).all() and np.isfinite(res.path[1, :5]).all()
    tr = res.trajectory(1, label="lr=1e-2")
    single = run(ROSENBROCK, optimlab.SGD, steps=30, lr=1e-2)
    assert tr.diverged_at == 5 and tr.label == "lr=1e-2"
    assert np.array_equal(tr.path, single.path, equal_nan=True)
    assert res.trajectory(0).diverged_at is None


def test_x0_and_thread_count_restored():
    threads = torch.get_num_threads()
    res = sweep(BEALE, "RMSprop", steps=10, x0=(2.0, -1.0), lr=[0.01, 0.02])
    assert torch.get_num_threads() == threads
    assert res.path[0, 0].tolist() == [2.0, -1.0]
    assert np.array_equal(res.path[1], run(BEALE, optimlab.RMSprop, steps=10, x0=(2.0, -1.0), lr=0.02).path)


def test_grid_reshape_in_kwarg_order():
    lrs, moms = [1e-4, 1e-3, 2e-3, 1e-2], [0.0, 0.5, 0.9]
    g = sweep_grid(ROSENBROCK, "SGD", steps=40, lr=lrs, momentum=moms, dampening=0.1)
    assert g.shape == (4, 3) and g.path.shape == (4, 3, 41, 2) and g.loss.shape == (4, 3, 41)
    assert g.final_loss.shape == (4, 3)
    assert np.array_equal(g.settings["lr"], np.repeat(np.array(lrs)[:, None], 3, axis=1))
    assert np.array_equal(g.settings["momentum"], np.repeat(np.array(moms)[None, :], 4, axis=0))
    assert g.settings["dampening"].shape == (4, 3)
    assert (g.diverged_at[-1] > 0).all() and (g.diverged_at[0] == -1).all()  # lr = 1e-2 发散
    flat = dict(lr=np.repeat(lrs, 3), momentum=np.tile(moms, 4), dampening=0.1)
    assert_same_as_runs(g, "SGD", ROSENBROCK, None, flat, 40, index=lambda i: divmod(i, 3))

    swapped = sweep_grid(ROSENBROCK, "SGD", steps=40, momentum=moms, lr=lrs, dampening=0.1)
    assert swapped.shape == (3, 4)
    assert np.array_equal(swapped.loss, g.loss.transpose(1, 0, 2), equal_nan=True)
    assert np.array_equal(swapped.diverged_at, g.diverged_at.T)


def test_grid_three_axes():
    g = sweep_grid(QUADRATIC, "Adam", steps=5, lr=[0.1, 0.2], beta1=[0.5, 0.9, 0.99], beta2=[0.9, 0.999])
    assert g.shape == (2, 3, 2)
    assert g.settings["beta1"][1, 2, 0] == 0.99 and g.settings["beta2"][1, 2, 1] == 0.999
    single = run(QUADRATIC, optimlab.Adam, steps=5, lr=0.2, betas=(0.99, 0.999))
    assert np.array_equal(g.path[1, 2, 1], single.path)


# (优化器, sweep 的超参数, 非法那一组的构造参数)：sweep 抛出与构造函数完全相同的异常
INVALID = [
    ("SGD", dict(lr=[0.1, -0.1]), dict(lr=-0.1)),
    ("SGD", dict(lr=0.1, momentum=[0.9, -0.5]), dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=[-1e-2]), dict(lr=0.1, weight_decay=-1e-2)),
    ("SGD", dict(lr=0.1, momentum=[0.9, 0.0], nesterov=True), dict(lr=0.1, momentum=0.0, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=[0.0, 0.1], nesterov=True),
     dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=[0.1, 0.2], beta1=[0.9, 1.0]), dict(lr=0.2, betas=(1.0, 0.999))),
    ("Adam", dict(beta2=[-0.1]), dict(betas=(0.9, -0.1))),
    ("Adam", dict(eps=[1e-8, -1e-8]), dict(eps=-1e-8)),
    ("AdamW", dict(lr=[0.1, float("nan")]), dict(lr=float("nan"))),
    ("AdamW", dict(weight_decay=[-1.0]), dict(weight_decay=-1.0)),
    ("NAdam", dict(momentum_decay=[4e-3, -1.0]), dict(momentum_decay=-1.0)),
    ("NAdam", dict(beta1=[0.9, 1.5]), dict(betas=(1.5, 0.999))),
    ("RMSprop", dict(alpha=[0.99, -0.5]), dict(alpha=-0.5)),
    ("RMSprop", dict(momentum=[-0.9]), dict(momentum=-0.9)),
    ("Adagrad", dict(lr_decay=[-0.1]), dict(lr_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=[0.0, -1.0]), dict(initial_accumulator_value=-1.0)),
    ("Adagrad", dict(eps=[-1.0]), dict(eps=-1.0)),
]


@pytest.mark.parametrize("name, hparams, single", INVALID)
def test_invalid_values_raise_like_the_constructor(name, hparams, single):
    cls = getattr(optimlab, name)
    expected = outcome(lambda: cls([torch.zeros(2, requires_grad=True)], **single))
    assert expected[0] is ValueError
    assert outcome(lambda: sweep(ROSENBROCK, name, steps=3, **hparams)) == expected


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: sweep(ROSENBROCK, "Adamax", lr=0.1), ValueError,
         "unknown optimizer 'Adamax'; choose from ['SGD', 'Adam', 'AdamW', 'NAdam', 'RMSprop', 'Adagrad']"),
        (lambda: sweep(ROSENBROCK, "SGD", betas=(0.9, 0.99)), TypeError,
         "SGD has no hyperparameter 'betas'; choose from ['lr', 'momentum', 'dampening', 'weight_decay', "
         "'nesterov', 'maximize']"),
        (lambda: sweep(ROSENBROCK, "AdamW", decoupled_weight_decay=False), TypeError,
         "AdamW has no hyperparameter 'decoupled_weight_decay'; choose from ['lr', 'beta1', 'beta2', 'eps', "
         "'weight_decay', 'amsgrad', 'maximize']"),
        (lambda: sweep(ROSENBROCK, "SGD", lr=[0.1, 0.2], momentum=[0.1, 0.2, 0.3]), ValueError,
         "all hyperparameter arrays must have the same length, got {'lr': 2, 'momentum': 3}"),
        (lambda: sweep(ROSENBROCK, "SGD", lr=[[0.1, 0.2]]), ValueError,
         "lr must be a scalar or a 1-D array, got shape (1, 2)"),
        (lambda: sweep(ROSENBROCK, "SGD", lr=[]), ValueError, "lr must not be empty"),
        (lambda: sweep(ROSENBROCK, "SGD", momentum=0.9, nesterov=[True, False]), ValueError,
         "nesterov must be a single bool, got [True, False]"),
        (lambda: sweep(ROSENBROCK, "RMSprop", centered=1), ValueError, "centered must be a single bool, got 1"),
        (lambda: sweep_grid(ROSENBROCK, "SGD", lr=0.1), ValueError,
         "sweep_grid needs at least one 1-D hyperparameter array"),
        (lambda: sweep_grid(ROSENBROCK, "SGD", lr=[[0.1]]), ValueError,
         "lr must be a scalar or a 1-D array, got shape (1, 1)"),
    ],
)
def test_input_errors(call, error, message):
    assert outcome(call) == (error, message)


def test_tag_sequence_sees_order_and_each_update_points_to_its_kernel():
    assert tags("a  # (2)\nb  # (1)") == ["2", "1"] != tags("a  # (1)\nb  # (2)")
    assert tags("if x:\n    a  # (3)\nelse:\n    b  # (3) 另一种写法\nc  # 稀疏：(4)") == ["3"]
    for name in sweep_module.OPTIMIZERS:
        _, kernel = sweep_module._KERNELS[name]
        source = inspect.getsource(getattr(optimlab, name)._update)
        assert f"optimlab.sweep.{kernel.__name__}" in source, name
