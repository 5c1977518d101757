"""《优化器选择》一章的说法，用独立的参照（torch.optim 本身、按状态键手数的字节数）检查。

每个测试都只用小问题，整份文件几秒钟跑完。
"""

import inspect
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import optimlab
from optimlab import measure, problems, training

# ---------------------------------------------------------------------------------------------
# 状态内存：按 torch 文档中的状态键手数，并与 torch.optim 自己走一步之后的状态比较
# ---------------------------------------------------------------------------------------------


def torch_state_bytes(opt):
    """直接数 torch 优化器状态中至少一维的张量（含列表里的）的字节数，不经过 optimlab.measure。"""
    total = 0
    for state in opt.state.values():
        for value in state.values():
            values = value if isinstance(value, list) else [value]
            total += sum(v.numel() * v.element_size() for v in values
                         if isinstance(v, torch.Tensor) and v.dim() > 0)
    return total


def one_step(opt, model, x):
    def closure():
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        return loss

    opt.step(closure)


# (名称, 超参数, 每个参数张量保存几个与它同形状的 float32 张量)：torch 文档中各算法的状态键
ELEMENTWISE = [
    ("SGD", {"lr": 0.1}, 0),  # 无动量：不存 momentum_buffer
    ("SGD", {"lr": 0.1, "momentum": 0.9}, 1),  # momentum_buffer
    ("Adam", {}, 2),  # exp_avg, exp_avg_sq
    ("Adam", {"amsgrad": True}, 3),  # + max_exp_avg_sq
    ("AdamW", {}, 2),
    ("NAdam", {}, 2),
    ("RMSprop", {}, 1),  # square_avg
    ("RMSprop", {"momentum": 0.9, "centered": True}, 3),  # + momentum_buffer, grad_avg
    ("Adagrad", {}, 1),  # sum
    ("RAdam", {}, 2),  # exp_avg, exp_avg_sq
    ("Adamax", {}, 2),  # exp_avg, exp_inf
    ("Adadelta", {}, 2),  # square_avg, acc_delta
    ("ASGD", {}, 1),  # ax（eta、mu、step 是 0 维）
    ("Rprop", {}, 2),  # prev, step_size
]


@pytest.mark.parametrize("name, hparams, tensors", ELEMENTWISE, ids=[f"{n}-{i}" for i, (n, _, _) in
                                                                     enumerate(ELEMENTWISE)])
def test_elementwise_state_bytes_by_hand_and_by_torch(name, hparams, tensors):
    expected = 4.0 * tensors  # float32
    m = measure.measure_state(getattr(optimlab, name), **hparams)
    assert m.per_param == expected and m.array_per_param == expected
    model = training.mlp(64, 32, 10)
    opt = getattr(torch.optim, name)(model.parameters(), **hparams)
    one_step(opt, model, torch.randn(8, 64, generator=torch.Generator().manual_seed(0)))
    assert torch_state_bytes(opt) == expected * 2410


def test_adafactor_factored_state_by_hand_and_by_torch():
    # mlp(64, 32, 10)：32×64 与 10×32 的矩阵各存 行数 + 列数 个因子，两个偏置存完整的 v
    floats = (32 + 64) + 32 + (10 + 32) + 10
    m = measure.measure_state(optimlab.Adafactor)
    assert m.n_params == 2410
    assert m.array_per_param == 4 * floats / 2410
    assert sorted(m.array_by_key) == ["col_var", "row_var", "variance"]
    model = training.mlp(64, 32, 10)
    opt = torch.optim.Adafactor(model.parameters())
    one_step(opt, model, torch.randn(8, 64))
    assert torch_state_bytes(opt) == 4 * floats


@pytest.mark.parametrize("history_size", [3, 100])
def test_lbfgs_state_is_2m_plus_2_flat_vectors(history_size):
    # 历史存满之后：m 对 (s, y)，再加方向 d 与上一次的梯度，都是展平的 n 维向量（n = 36）
    steps = 2 if history_size == 3 else 6  # 每次 step 最多 20 次迭代；lr 很小，历史不会因收敛而停止增长
    m = measure.measure_state(optimlab.LBFGS, nn.Linear(8, 4), steps=steps, lr=1e-3,
                              history_size=history_size)
    assert m.n_params == 36 and m.array_per_param == 4.0 * (2 * history_size + 2)
    model = nn.Linear(8, 4)
    opt = torch.optim.LBFGS(model.parameters(), lr=1e-3, history_size=history_size)
    x = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    for _ in range(steps):
        one_step(opt, model, x)
    assert len(opt.state[model.weight]["old_dirs"]) == history_size
    assert torch_state_bytes(opt) == 4 * (2 * history_size + 2) * 36


def test_muon_and_sparse_adam_state():
    # Muon 只存 momentum_buffer；书中在 mlp 上只把隐藏层的 32×64 矩阵交给它，其余 362 个参数给 AdamW
    m = measure.measure_state(measure.hidden_muon)
    assert m.array_per_param == (4 * 2048 + 8 * 362) / 2410
    matrices = nn.Sequential(nn.Linear(64, 32, bias=False), nn.ReLU(), nn.Linear(32, 10, bias=False))
    assert measure.measure_state(optimlab.Muon, matrices).array_per_param == 4.0
    opt = torch.optim.Muon(matrices.parameters())
    one_step(opt, matrices, torch.randn(8, 64))
    assert torch_state_bytes(opt) == 4 * (2048 + 320)
    # SparseAdam 的 exp_avg、exp_avg_sq 与嵌入表一样大（稠密），和 Adam 一样 8 字节/参数
    emb = nn.Embedding(100, 16, sparse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch 关于稀疏张量不变量检查的提示
        m = measure.measure_state(optimlab.SparseAdam, emb, inputs=torch.arange(8))
    assert m.array_per_param == 8.0 and m.by_key == {"exp_avg": 4.0, "exp_avg_sq": 4.0}


def test_hidden_muon_splits_parameters_as_described():
    model = training.mlp(64, 32, 10)
    opt = measure.hidden_muon(model.parameters(), lr=0.01)
    muon, adamw = opt.optimizers
    assert isinstance(muon, optimlab.Muon) and isinstance(adamw, optimlab.AdamW)
    assert [tuple(p.shape) for g in muon.param_groups for p in g["params"]] == [(32, 64)]
    assert [tuple(p.shape) for g in adamw.param_groups for p in g["params"]] == [(32,), (10, 32), (10,)]
    assert muon.param_groups[0]["adjust_lr_fn"] == "match_rms_adamw"
    assert muon.param_groups[0]["lr"] == adamw.param_groups[0]["lr"] == 0.01


# ---------------------------------------------------------------------------------------------
# 表中"不适用"的理由：torch 本身拒绝这些输入
# ---------------------------------------------------------------------------------------------


def test_muon_rejects_vectors_and_sparse_adam_rejects_dense_gradients():
    with pytest.raises(ValueError):
        torch.optim.Muon([torch.zeros(2, requires_grad=True)])  # 曲面的参数 θ ∈ R² 是向量
    p = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SparseAdam([p])
    p.grad = torch.ones(2)
    with pytest.raises(RuntimeError, match="dense gradients"):
        opt.step()


def test_rmsprop_has_momentum_and_centered():
    # 笔记说 RMSProp "无动量"：torch 的 RMSprop 有 momentum（默认 0）与 centered 两个选项
    params = inspect.signature(torch.optim.RMSprop).parameters
    assert params["momentum"].default == 0 and params["centered"].default is False
    p = torch.ones(3, requires_grad=True)
    opt = torch.optim.RMSprop([p], momentum=0.9, centered=True)
    p.sum().backward()
    opt.step()
    assert {"momentum_buffer", "grad_avg", "square_avg"} <= set(opt.state[p])


# ---------------------------------------------------------------------------------------------
# 学习率的上限：Rprop 的 lr 只是初始步长（截断到 step_sizes），Adafactor 的 lr 只是相对步长的上限
# ---------------------------------------------------------------------------------------------


def run_torch(cls, lr, steps=30, **hparams):
    surface = problems.beale()
    xy = torch.tensor(surface.x0, dtype=torch.float64, requires_grad=True)
    opt = cls([xy], lr=lr, **hparams)
    for _ in range(steps):
        opt.zero_grad()
        surface(xy).backward()
        opt.step()
    return xy.detach()


def test_rprop_lr_above_max_step_and_adafactor_lr_above_one_change_nothing():
    assert torch.equal(run_torch(torch.optim.Rprop, 50.0), run_torch(torch.optim.Rprop, 1e4))
    assert not torch.equal(run_torch(torch.optim.Rprop, 1.0), run_torch(torch.optim.Rprop, 50.0))
    assert torch.equal(run_torch(torch.optim.Adafactor, 1.0), run_torch(torch.optim.Adafactor, 1e4))
    assert not torch.equal(run_torch(torch.optim.Adafactor, 0.1), run_torch(torch.optim.Adafactor, 1.0))


# ---------------------------------------------------------------------------------------------
# LBFGS：按求值次数计步
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line_search_fn, iterations", [("strong_wolfe", 12), (None, 15)])
def test_lbfgs_evaluation_count_matches_one_torch_step(line_search_fn, iterations):
    """max_iter=1 的逐次调用与 torch 一次 step 做 K 次迭代走到同一点，求值次数也与 torch 的 func_evals 相同。"""
    surface = problems.rosenbrock()
    lr = 1.0 if line_search_fn else 1e-3
    xy = torch.tensor(surface.x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([xy], lr=lr, max_iter=iterations, max_eval=10**6,
                            tolerance_grad=0.0, tolerance_change=0.0, line_search_fn=line_search_fn)

    def closure():
        opt.zero_grad()
        value = surface(xy)
        value.backward()
        return value

    opt.step(closure)
    evals = opt.state[xy]["func_evals"]
    if line_search_fn is None:
        assert evals == iterations  # 没有线搜索：最后一次迭代之后不再求值，K 次迭代恰好 K 次求值
    assert opt.state[xy]["n_iter"] == iterations
    expected = float(surface(xy.detach()))
    losses = measure.lbfgs_surface(surface, [lr], evals + 5, tolerance_grad=0.0, tolerance_change=0.0,
                                   line_search_fn=line_search_fn)[0]
    assert losses[evals] == expected  # 用掉 torch 的 func_evals 次求值时，恰好到达 torch 的终点
    assert losses[evals - 1] != expected


def test_lbfgs_surface_counts_evaluations_not_steps():
    # 线搜索至少要一次求值：到达目标所用的求值次数 >= 迭代次数
    s = problems.quadratic(100.0)
    losses = measure.lbfgs_surface(s, [1.0], 200, line_search_fn="strong_wolfe")[0]
    assert losses[0] == float(s(torch.tensor(s.x0, dtype=torch.float64)))
    k = measure.steps_to(losses[None], 1e-6)[0]
    assert k is not None and np.all(np.diff(losses[np.isfinite(losses)]) <= 0)  # 强 Wolfe：单调下降


# ---------------------------------------------------------------------------------------------
# 学习率网格：调好的学习率不在网格边缘
# ---------------------------------------------------------------------------------------------

SURFACES = {"quadratic": (problems.quadratic(100.0), 1e-6), "rosenbrock": (problems.rosenbrock(), 1e-3),
            "beale": (problems.beale(), 1e-4)}
OLD_GRID = np.logspace(-4, 1, 16)
NEW_GRID = np.logspace(-4, 6, 31)  # 书中曲面上的网格


@pytest.mark.parametrize("name, s_name", [("RMSprop", "quadratic"), ("NAdam", "rosenbrock")])
def test_widened_grid_has_no_optimum_at_an_edge(name, s_name):
    """旧网格（1e-4 到 10）上这几个最好的学习率落在上端；加宽到 1e6 之后落在网格内部。"""
    surface, target = SURFACES[s_name]
    loss = measure.sweep_surface(surface, getattr(optimlab, name), NEW_GRID, 500, stop_at=target, hold=20)
    lr, steps = measure.best_by_steps(NEW_GRID, loss, target, 20)
    assert steps is not None and NEW_GRID[0] < lr < NEW_GRID[-1]
    assert lr >= OLD_GRID[-1] * (1 - 1e-9)  # 旧网格容不下：最好的点在旧网格的上端或更远
    old = loss[: len(OLD_GRID)]  # 新网格的前 16 个点就是旧网格
    np.testing.assert_allclose(NEW_GRID[: len(OLD_GRID)], OLD_GRID, rtol=1e-12)
    assert measure.best_by_steps(OLD_GRID, old, target, 20)[0] == pytest.approx(OLD_GRID[-1])


def test_scan_lrs_widens_until_the_best_is_inside():
    grid = np.logspace(-4, 2, 13)
    calls = []

    def evaluate(lr):
        calls.append(lr)
        return (math.log10(lr) - 1.0) ** 2  # 最好的点在 lr = 10（下标 10）

    res = measure.scan_lrs(evaluate, grid, 2, score=lambda v: v, ok=lambda v: v <= 1.0)
    best = min(res, key=res.get)
    assert best == 10 and min(res) < best < max(res)
    # 合格区间（|log lr − 1| ≤ 1，下标 8…12）碰到了网格上端，两侧的扫描也都停在不合格点或网格尽头
    assert max(res) == 12 and not res[min(res)] <= 1.0
    assert sorted(res) == list(range(min(res), 13)) and len(calls) == len(res)
    w, at_edge = measure.usable_width(grid, [i in res and res[i] <= 1.0 for i in range(13)], best)
    assert w == pytest.approx(2.0) and at_edge


def test_digits_split_sizes():
    X, y, Xt, yt = problems.digits()
    assert (len(X), len(Xt)) == (1348, 449) and X.shape[1] == 64
    assert set(y.tolist()) == set(range(10)) == set(yt.tolist())


def test_agreed_round_and_median_range_by_hand():
    # 两次训练在第二位有效数字上不同时只保留一位（书中 Muon 的一个种子：0.0396 与 0.0394）
    assert measure.agreed_round(0.03964, 0.03971) == 0.04
    assert measure.agreed_round(0.03943, 0.03967) == 0.04
    assert measure.agreed_round(0.008219, 0.00823) == 0.0082
    assert measure.agreed_round(0.0149, 0.0251) == 0.01  # 一位也不一致：仍按第一个数舍入到一位
    assert measure.median_range([4, 3, None], "{:g}".format) == "4（3–未达到）"
    assert measure.median_range([0.02, 0.026, 0.019]) == "0.02（0.019–0.026）"
    assert measure.median_range([5, 5, 5], "{:g}".format) == "5"
