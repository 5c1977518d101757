"""optimlab.optim.LBFGS 与 torch.optim.LBFGS 的逐位对照，以及 Rosenbrock、最小二乘的已知极小点。"""

import io

import pytest
import torch

from oracle import loss_fn, make_params, outcome

from optimlab.optim.lbfgs import LBFGS

DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
LINE_SEARCH = [None, "strong_wolfe"]

# (选项, 问题, step 次数)：每个构造参数都取到默认值以外的值，且选在让它确实改变轨迹的问题上
# （例如 tolerance_grad 在最小二乘上让第三个 step 一开始就返回）；最后一组同时改变所有参数。
# 除第一组（torch 的全部默认值）外 max_iter 取小值，让测试保持在几秒之内。
NON_DEFAULT = [
    ({}, "rosen2", 2),
    ({"max_iter": 1}, "rosen6", 4),
    ({"max_iter": 5, "history_size": 2}, "rosen6", 2),
    ({"max_iter": 5, "max_eval": 1}, "batch", 2),
    ({"max_iter": 5, "max_eval": 4}, "rosen2", 2),
    ({"max_iter": 5, "lr": 0.1}, "batch", 2),
    ({"max_iter": 5, "tolerance_grad": 1e-3}, "lstsq", 3),
    ({"max_iter": 5, "tolerance_change": 1e-4}, "lstsq", 2),
    ({"lr": 0.5, "max_iter": 6, "max_eval": 9, "tolerance_grad": 1e-3, "tolerance_change": 1e-4, "history_size": 2},
     "batch", 2),
    # 以下几组让线搜索与停止条件的每个分支都真正走到（否则改动这些分支的代码不会让测试失败）：
    ({"max_iter": 5}, "flat", 2),  # yᵀs ≤ 1e-10：曲率对被丢弃
    ({"max_iter": 10, "lr": 0.8}, "washboard", 2),  # 外推第二个点函数值回升但已满足强 Wolfe
    ({"max_iter": 10}, "eggcrate", 2),  # 缩小阶段插值点贴近端点（insuf_progress）
    ({"max_iter": 10, "tolerance_change": 0.1}, "eggcrate", 2),  # 缩小阶段区间太小（写死的 1e-9）
    ({"max_iter": 10, "lr": 0.1, "tolerance_change": 0.1}, "eggcrate", 2),  # ‖t d‖∞ ≤ ε_f
]
GRID = [
    pytest.param({**kw, "line_search_fn": ls}, name, steps,
                 id=f"{ls}-{name}-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "default"))
    for ls in LINE_SEARCH
    for kw, name, steps in NON_DEFAULT
]
# torch 的 LBFGS 在每个参数的状态里保存的键（写死，防止两边一起"丢键"）；状态只挂在第一个参数上。
STATE_KEYS = {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad",
              "prev_loss", "al"}


def rosenbrock(x):
    """n 维 Rosenbrock 函数 :math:`\\sum_i 100(x_{i+1} - x_i^2)^2 + (1 - x_i)^2`，极小点是全 1 向量。"""
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def _lstsq_data(dtype):
    gen = torch.Generator().manual_seed(7)
    return torch.randn(10, 4, generator=gen, dtype=dtype), torch.randn(10, 2, generator=gen, dtype=dtype)


def problem(name, dtype):
    """(参数列表, objective(k))：第 k 个 step 内 closure 求值的函数（同一个 step 内批量固定）。"""
    if name == "rosen2":  # 经典起点 (−1.2, 1)
        params = [torch.tensor([-1.2, 1.0], dtype=dtype, requires_grad=True)]
        return params, lambda k: rosenbrock(params[0])
    if name == "rosen6":  # 6 维，拆成两个参数，检验展平与切回
        x = torch.tensor([-1.2, 1.0, -0.5, 0.8, 0.3, 1.5], dtype=dtype)
        params = [x[:2].clone().requires_grad_(), x[2:].reshape(2, 2).clone().requires_grad_()]
        return params, lambda k: rosenbrock(torch.cat([params[0], params[1].reshape(-1)]))
    if name == "batch":  # oracle.loss_fn，第 k 个 step 用第 k 个小批量
        params = make_params(dtype)
        return params, lambda k: loss_fn(params, k)
    if name == "flat":  # 曲率只有 1e-4 的二次函数：yᵀs 小于 1e-10
        params = [torch.tensor([-1.0, 0.0, 1.0, 2.0], dtype=dtype, requires_grad=True)]
        return params, lambda k: 5e-5 * (params[0] ** 2).sum()
    if name == "washboard":  # 倾斜的搓衣板：沿直线方向函数值起伏
        params = [torch.tensor([-1.5], dtype=dtype, requires_grad=True)]
        return params, lambda k: (0.05 * params[0] ** 2 - params[0] + 0.3 * torch.cos(params[0])).sum()
    if name == "eggcrate":  # 碗上叠加高频起伏：线搜索需要多次缩小区间
        params = [torch.tensor([-1.7, 0.7], dtype=dtype, requires_grad=True)]
        return params, lambda k: (params[0] ** 2 + 0.1 * torch.cos(30 * params[0])).sum()
    if name == "lstsq":  # ½‖AX − B‖²
        a, b = _lstsq_data(dtype)
        params = [torch.zeros(4, 2, dtype=dtype, requires_grad=True)]
        return params, lambda k: 0.5 * ((a @ params[0] - b) ** 2).sum()
    raise KeyError(name)


def run(cls, kwargs, name, dtype, steps=2, none_grad=False):
    """构造优化器，调用 steps 次 step(closure)，返回 (参数, 优化器, 每次 step 返回的损失)。"""
    params, objective = problem(name, dtype)
    opt = cls(params, **kwargs)
    losses = [opt.step(make_closure(opt, params, objective, k, none_grad)) for k in range(steps)]
    return params, opt, losses


def make_closure(opt, params, objective, k, none_grad=False):
    def closure():
        opt.zero_grad()
        loss = objective(k)
        loss.backward()
        if none_grad and k % 2 == 1:
            params[1].grad = None  # 这一参数的梯度按 0 计入展平的梯度
        return loss

    return closure


def assert_same(a, b, where="state"):
    """逐位比较（递归进入 dict / list）：张量比较 dtype、形状、设备与数值，其余比较类型与值。"""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if torch.is_tensor(b):
        assert (a.dtype, a.shape, a.device) == (b.dtype, b.shape, b.device), where
        assert torch.isfinite(b).all(), f"{where}: 对照实验发散了，比较没有意义"
        assert torch.equal(a, b), f"{where}: 与 torch.optim 不逐位一致，最大差 {(a - b).abs().max().item():.3e}"
    elif isinstance(b, dict):
        assert list(a) == list(b), f"{where}: 键（及其顺序）不同"
        for key in b:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a} != {b}"


def assert_same_run(ours, theirs):
    (p_ours, opt_ours, l_ours), (p_torch, opt_torch, l_torch) = ours, theirs
    assert_same(p_ours, p_torch, "params")
    assert_same(l_ours, l_torch, "losses")
    assert_same(opt_ours.state_dict(), opt_torch.state_dict())


@DTYPES
@pytest.mark.parametrize("kwargs,name,steps", GRID)
def test_bitwise_equal_to_torch(kwargs, name, steps, dtype):
    """参数、每次 step 返回的损失、全部状态（计数器、历史、al）都与 torch 逐位一致。

    小批量问题（batch）每个 step 换一个批量，并在奇数 step 里让第二个参数的 .grad 为 None。
    """
    none_grad = name == "batch"
    ours = run(LBFGS, kwargs, name, dtype, steps=steps, none_grad=none_grad)
    theirs = run(torch.optim.LBFGS, kwargs, name, dtype, steps=steps, none_grad=none_grad)
    assert_same_run(ours, theirs)
    assert ours[1].state_dict()["param_groups"] == theirs[1].state_dict()["param_groups"]


def test_defaults_match_torch():
    p = [torch.zeros(2, requires_grad=True)]
    assert LBFGS(p).defaults == torch.optim.LBFGS(p).defaults
    assert LBFGS(p, max_iter=7).defaults["max_eval"] == 8  # max_iter * 5 // 4


@pytest.mark.parametrize("ls", LINE_SEARCH)
def test_tensor_lr(ls):
    kw = {"lr": torch.tensor([0.5]), "max_iter": 5, "line_search_fn": ls}
    assert_same_run(run(LBFGS, kw, "rosen6", torch.float32), run(torch.optim.LBFGS, kw, "rosen6", torch.float32))


@pytest.mark.parametrize("ls", LINE_SEARCH)
def test_complex_and_sparse_params(ls):
    """复数参数按实部、虚部展开；稀疏梯度先转成稠密：两者都与 torch 逐位一致。"""
    results = []
    for cls in (LBFGS, torch.optim.LBFGS):
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(3, dtype=torch.complex64, generator=gen).requires_grad_()
        w = torch.randn(4, generator=gen).requires_grad_()
        opt = cls([z, w], max_iter=5, line_search_fn=ls)

        def closure():
            opt.zero_grad()
            loss = (z * z.conj()).real.sum() + 0.3 * (z.real**3).sum() + ((w - 1) ** 2).sum()
            loss.backward()
            w.grad = w.grad.to_sparse()
            return loss

        results.append(([z, w], opt, [opt.step(closure) for _ in range(2)]))
    assert_same_run(*results)


@DTYPES
@pytest.mark.parametrize("ls", LINE_SEARCH)
def test_state_dict_interop(ls, dtype):
    """torch 的状态字典载入 optimlab 后继续 3 个 step，与 torch 自己继续逐位一致；反过来也一样。"""
    kw = {"max_iter": 4, "history_size": 3, "line_search_fn": ls}
    for first, second in ((torch.optim.LBFGS, LBFGS), (LBFGS, torch.optim.LBFGS)):
        params, objective = problem("rosen6", dtype)
        opt = first(params, **kw)
        for k in range(2):
            opt.step(make_closure(opt, params, objective, k))
        buf = io.BytesIO()
        torch.save(opt.state_dict(), buf)  # 经由磁盘格式，两边不共享任何张量
        buf.seek(0)
        saved = torch.load(buf)
        state = saved["state"]
        assert list(state) == [0] and set(state[0]) == STATE_KEYS  # 全局状态只挂在第一个参数上
        assert state[0]["d"].dtype == state[0]["prev_flat_grad"].dtype == dtype
        assert len(state[0]["old_dirs"]) == len(state[0]["old_stps"]) == len(state[0]["ro"]) <= 3

        p2, objective2 = problem("rosen6", dtype)
        with torch.no_grad():
            for q, q_ref in zip(p2, params):
                q.copy_(q_ref)
        opt2 = second(p2, **kw)
        opt2.load_state_dict(saved)
        assert_same(opt2.state_dict(), opt.state_dict())
        reference = (params, opt, [opt.step(make_closure(opt, params, objective, k)) for k in range(2, 5)])
        resumed = (p2, opt2, [opt2.step(make_closure(opt2, p2, objective2, k)) for k in range(2, 5)])
        assert_same_run(resumed, reference)


def test_state_layout_after_first_step():
    """第一次 step 只迭代一次时还没有 al（第二次迭代才创建），与 torch 同；键的插入顺序也同。"""
    ours = run(LBFGS, {"max_iter": 1}, "rosen2", torch.float32, steps=1)
    theirs = run(torch.optim.LBFGS, {"max_iter": 1}, "rosen2", torch.float32, steps=1)
    assert_same_run(ours, theirs)
    assert list(ours[1].state_dict()["state"][0]) == [
        "func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss"]
    assert ours[1].state_dict()["state"][0]["H_diag"] == 1


def _both(make):
    """对 optimlab 与 torch 分别调用 make(cls)，返回两边的 outcome。"""
    return outcome(lambda: make(LBFGS)), outcome(lambda: make(torch.optim.LBFGS))


def _step_with(cls, **kw):
    p = torch.tensor([-1.2, 1.0], requires_grad=True)
    opt = cls([p], **kw)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(p)
        loss.backward()
        return loss

    return opt, closure


def _two_groups_then_step(cls):
    opt, closure = _step_with(cls)
    opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)]})
    opt.step(closure)


INVALID = {
    "negative lr": lambda cls: cls([torch.zeros(2, requires_grad=True)], lr=-0.1),
    "2-element tensor lr": lambda cls: cls([torch.zeros(2, requires_grad=True)], lr=torch.tensor([0.1, 0.2])),
    "two param groups": lambda cls: cls([{"params": [torch.zeros(2)]}, {"params": [torch.zeros(1)], "lr": 0.1}]),
    "empty params": lambda cls: cls([]),
    "tensor as params": lambda cls: cls(torch.zeros(2, requires_grad=True)),
    "step without closure": lambda cls: _step_with(cls)[0].step(),
    "step(None)": lambda cls: _step_with(cls)[0].step(None),
    "unknown line_search_fn": lambda cls: (lambda o, c: o.step(c))(*_step_with(cls, line_search_fn="wolfe")),
    "param group added later": _two_groups_then_step,
}


@pytest.mark.parametrize("make", list(INVALID.values()), ids=list(INVALID))
def test_invalid_input_same_error(make):
    ours, theirs = _both(make)
    assert theirs[0] != "ok" and ours == theirs


def test_unknown_line_search_fn_leaves_same_state():
    """未知的 line_search_fn 在第一次迭代算出方向之后才报错（同 torch）：此时已计一次求值、一次迭代。"""
    states = []
    for cls in (LBFGS, torch.optim.LBFGS):
        opt, closure = _step_with(cls, line_search_fn="wolfe")
        with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
            opt.step(closure)
        states.append(opt.state_dict())
    assert_same(*states)
    assert states[1]["state"][0] == {"func_evals": 1, "n_iter": 1}


@pytest.mark.parametrize("dim", [2, 5])
def test_reaches_rosenbrock_minimum(dim):
    """Rosenbrock 的极小点是闭式的 x* = (1, …, 1)，f(x*) = 0；带强 Wolfe 线搜索的 L-BFGS 能到达它。"""
    x = torch.tensor([-1.2, 1.0] * (dim // 2) + [-1.2] * (dim % 2), dtype=torch.float64, requires_grad=True)
    opt = LBFGS([x], max_iter=200, history_size=10, tolerance_grad=1e-12, tolerance_change=1e-15,
                line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    opt.step(closure)
    assert torch.allclose(x.detach(), torch.ones(dim, dtype=torch.float64), rtol=0, atol=1e-6)
    assert rosenbrock(x.detach()).item() < 1e-12


@pytest.mark.parametrize("ls", LINE_SEARCH)
def test_reaches_least_squares_solution(ls):
    """½‖AX − B‖² 的极小点是正规方程的解 X* = (AᵀA)⁻¹AᵀB。"""
    a, b = _lstsq_data(torch.float64)
    params, objective = problem("lstsq", torch.float64)
    opt = LBFGS(params, max_iter=100, tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn=ls)
    opt.step(make_closure(opt, params, objective, 0))
    expected = torch.linalg.solve(a.T @ a, a.T @ b)
    # 8 个未知数的二次函数；停止于 |Δf| < 1e-15（f ≈ 5 时已是 float64 的分辨率），误差约 1e-8
    assert torch.allclose(params[0].detach(), expected, rtol=0, atol=1e-6)
    assert opt.state[params[0]]["n_iter"] <= 20
