"""第 2 章（book/02_adam.ipynb）中新增或改写的论断，用独立的参照来检验。

参照来自 torch.optim 本身、闭式解，或者在这里用 numpy 按公式重写的更新（不调用 optimlab）。
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import optimlab

# ---------------------------------------------------------------- Adam 的第一步


def test_first_adam_step_moves_every_coordinate_by_lr_against_the_gradient():
    """c = (0.01, 1, 100) 的二次函数：第一步的位移是 −η g/(|g| + ε)，绝对值与 η 的相对差 ≤ 1e-6。"""
    c = torch.tensor([0.01, 1.0, 100.0], dtype=torch.float64)
    theta0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    lr, eps = 0.1, 1e-8
    p = theta0.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, eps=eps)
    (0.5 * (c * p**2).sum()).backward()
    g = p.grad.clone()
    opt.step()
    move = p.detach() - theta0
    assert torch.allclose(move, -lr * g / (g.abs() + eps), rtol=1e-14, atol=0)
    assert torch.equal(torch.sign(move), -torch.sign(g))
    assert torch.sign(move).tolist() == [-1.0, 1.0, -1.0]
    rel = (move.abs() / lr - 1).abs()
    assert rel.max() <= 1e-6
    assert rel.max() > 1e-7  # ε/|g| 对 g = 0.01 确实是 1e-6 量级，不是 0


# ---------------------------------------------------------------- Adagrad 的公式框


def adagrad_by_the_box(theta0, grad_fn, steps, lr, lr_decay, weight_decay, s0, eps):
    """按书中 Adagrad 的第 (1)–(5) 行逐行计算（float64）。"""
    theta = theta0.clone()
    s = torch.full_like(theta, s0)
    for t in range(1, steps + 1):
        g = grad_fn(theta)  # (1)
        g = g + weight_decay * theta  # (2)
        lr_t = lr / (1 + (t - 1) * lr_decay)  # (3)
        s = s + g * g  # (4)
        theta = theta - lr_t * g / (s.sqrt() + eps)  # (5)
    return theta, s


def quad_grad(theta, cond=20.0):
    return theta * torch.tensor([1.0, cond], dtype=theta.dtype)


def test_adagrad_box_matches_torch():
    hp = dict(lr=0.5, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-10)
    theta0 = torch.tensor([-4.0, 1.5], dtype=torch.float64)
    p = theta0.clone().requires_grad_(True)
    opt = torch.optim.Adagrad([p], **hp)
    for _ in range(30):
        p.grad = quad_grad(p.detach())
        opt.step()
    theta, s = adagrad_by_the_box(theta0, quad_grad, 30, hp["lr"], hp["lr_decay"], hp["weight_decay"],
                                  hp["initial_accumulator_value"], hp["eps"])
    assert torch.allclose(p.detach(), theta, rtol=1e-12, atol=1e-15)
    assert torch.allclose(opt.state[p]["sum"], s, rtol=1e-12, atol=0)


def test_adagrad_eps_is_outside_the_square_root():
    """s_0 = 0、g = 1e-6、ε = 1e-6：分母 √s + ε = 2e-6，第一步走 η/2；若 ε 在根号里，会走 η·1e-6/√(2e-12)。"""
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adagrad([p], lr=1.0, eps=1e-6)
    p.grad = torch.full_like(p, 1e-6)
    opt.step()
    assert p.item() == pytest.approx(-0.5, rel=1e-12)


def test_adagrad_state_sum_exists_at_construction():
    for cls in (torch.optim.Adagrad, optimlab.Adagrad):
        p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        opt = cls([p], initial_accumulator_value=0.1)
        assert sorted(opt.state[p]) == ["step", "sum"]
        assert opt.state[p]["sum"].tolist() == [0.1, 0.1]
    for cls in (torch.optim.Adam, torch.optim.RMSprop):
        p = torch.zeros(2, requires_grad=True)
        assert len(cls([p]).state) == 0


def test_notebook_adagrad_run_is_bitwise_torch():
    """书中的比较：同样的超参数在 κ=20 的二次函数上走 50 步，θ 与 sum 逐位相同。"""
    hp = dict(lr=0.5, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)
    ends = []
    for cls in (optimlab.Adagrad, torch.optim.Adagrad):
        xy = torch.tensor([-4.0, 1.5], dtype=torch.float64, requires_grad=True)
        opt = cls([xy], **hp)
        for _ in range(50):
            opt.zero_grad()
            (0.5 * (xy[0] ** 2 + 20 * xy[1] ** 2)).backward()
            opt.step()
        ends.append((xy.detach().clone(), opt.state[xy]["sum"].clone()))
    assert torch.equal(ends[0][0], ends[1][0]) and torch.equal(ends[0][1], ends[1][1])


def test_adagrad_step_shrinks_like_one_over_sqrt_t():
    """梯度恒为 3（s_0 = 0）：第 t 步的位移 / η = 3/(3√t + ε) ≈ 1/√t。"""
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adagrad([w], lr=1.0)
    moves = []
    for _ in range(400):
        before = w.detach().clone()
        w.grad = torch.full_like(w, 3.0)
        opt.step()
        moves.append((before - w.detach()).item())
    for t, expected in ((1, 1.0), (4, 0.5), (25, 0.2), (100, 0.1), (400, 0.05)):
        assert moves[t - 1] == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- 公平的调参比较

R = 0.5**0.5
LR_GRID = 10.0 ** (np.arange(-9, 7) / 3)
COEF_GRID = np.array([0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99])
STEPS = 1000
X0 = (-4.0, 1.5)

# 书中打印的结果：(η, 动量系数, 步数)
EXPECTED = {
    (20, False): {"SGD": (0.1, 0.5, 18), "RMSprop": (0.01, 0.8, 82), "Adam": (0.464, 0.7, 35)},
    (1000, False): {"SGD": (0.00215, 0.9, 204), "RMSprop": (0.01, 0.8, 82), "Adam": (0.215, 0.7, 44)},
    (20, True): {"SGD": (0.1, 0.5, 22), "RMSprop": (0.0215, 0.9, 156), "Adam": (1.0, 0.7, 53)},
    (1000, True): {"SGD": (0.00215, 0.9, 185), "RMSprop": (0.0215, 0.95, 781), "Adam": (4.64, 0.9, 398)},
}


def loss_and_grad(xy, cond, rotated):
    """f = ½(u² + κw²)；不旋转时 (u, w) = (x, y)，旋转 45° 时 u = r(x + y)，w = r(y − x)。"""
    x, y = xy[..., 0], xy[..., 1]
    if rotated:
        u, w = R * (x + y), R * (y - x)
        gx, gy = R * u - cond * R * w, R * u + cond * R * w
    else:
        u, w = x, y
        gx, gy = u, cond * w
    return 0.5 * (u * u + cond * w * w), np.stack([gx, gy], axis=-1)


def numpy_runs(method, cond, rotated):
    """按 torch 的公式（不调用 optimlab）同时运行整个网格，返回形状 (16, 7, STEPS + 1) 的 f − f*。"""
    lr, coef = np.meshgrid(LR_GRID, COEF_GRID, indexing="ij")
    lr, coef = lr[..., None], coef[..., None]
    xy = np.broadcast_to(np.array(X0), lr.shape[:2] + (2,)).copy()
    buf = np.zeros_like(xy)
    sq = np.zeros_like(xy)
    out = np.empty(lr.shape[:2] + (STEPS + 1,))
    with np.errstate(all="ignore"):
        out[..., 0] = loss_and_grad(xy, cond, rotated)[0]
        for t in range(1, STEPS + 1):
            g = loss_and_grad(xy, cond, rotated)[1]
            if method == "SGD":  # 缓冲从 b_1 = g_1 开始
                buf = g if t == 1 else coef * buf + g
                xy = xy - lr * np.where(coef > 0, buf, g)
            elif method == "RMSprop":  # α = 0.99，ε = 1e-8
                sq = 0.99 * sq + 0.01 * g * g
                step = g / (np.sqrt(sq) + 1e-8)
                buf = coef * buf + step
                xy = xy - lr * np.where(coef > 0, buf, step)
            else:  # Adam：β₁ = coef，β₂ = 0.999，ε = 1e-8 加在校正之后
                buf = coef * buf + (1 - coef) * g
                sq = 0.999 * sq + 0.001 * g * g
                m_hat = buf / (1 - coef**t)
                v_hat = sq / (1 - 0.999**t)
                xy = xy - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
            xy = np.where(np.abs(xy) < 1e6, xy, np.nan)  # 发散：与书中的判定相同（|θ| ≥ 1e6）
            out[..., t] = loss_and_grad(xy, cond, rotated)[0]
    return out


def settle_step(gap, target=1e-4):
    below = np.nan_to_num(gap, nan=np.inf) <= target
    stays = np.flip(np.logical_and.accumulate(np.flip(below, -1), -1), -1)
    return np.where(stays.any(-1), stays.argmax(-1), -1)


@pytest.fixture(scope="module")
def tuned():
    result = {}
    for (cond, rotated) in EXPECTED:
        for method in ("SGD", "RMSprop", "Adam"):
            steps = settle_step(numpy_runs(method, cond, rotated))
            steps = np.where(steps < 0, 10**9, steps)
            i, j = np.unravel_index(steps.argmin(), steps.shape)
            result[cond, rotated, method] = (LR_GRID[i], COEF_GRID[j], int(steps[i, j]), i, j)
    return result


@pytest.mark.parametrize("case", list(EXPECTED))
def test_tuned_grid_optimum_matches_the_book(tuned, case):
    for method, (lr, coef, steps) in EXPECTED[case].items():
        got_lr, got_coef, got_steps, i, j = tuned[case + (method,)]
        assert got_steps == steps, (case, method)
        assert float(f"{got_lr:.3g}") == lr and got_coef == coef, (case, method)
        # 最优点不在网格的边上
        assert 0 < i < len(LR_GRID) - 1 and 0 < j < len(COEF_GRID) - 1, (case, method)


def torch_loss_and_grad(p, cond, rotated):
    """与 loss_and_grad 同样的闭式梯度，用 torch 张量计算（torch.optim 的输入）。"""
    with torch.no_grad():
        loss, grad = loss_and_grad(p.detach().numpy(), cond, rotated)
    return float(loss), torch.from_numpy(grad)


def test_torch_reaches_the_printed_step_counts():
    """在书中给出的最优设置上，torch.optim 的优化器给出同样的步数。

    每种优化器一个实例，四个曲面各是一个参数组（各有自己的 η 与动量系数），一起走 1000 步。
    """
    cases = list(EXPECTED)
    for method in ("SGD", "RMSprop", "Adam"):
        params, groups = [], []
        for case in cases:
            lr3, coef, _ = EXPECTED[case][method]
            p = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
            group = {"params": [p], "lr": float(LR_GRID[np.argmin(np.abs(LR_GRID - lr3))])}
            if method == "Adam":
                group["betas"] = (coef, 0.999)
            else:
                group["momentum"] = coef
            params.append(p)
            groups.append(group)
        opt = getattr(torch.optim, method)(groups)
        gaps = np.empty((len(cases), STEPS + 1))
        for k in range(STEPS + 1):
            for n, (p, case) in enumerate(zip(params, cases)):
                gaps[n, k], p.grad = torch_loss_and_grad(p, *case)
            if k < STEPS:
                opt.step()
        for n, case in enumerate(cases):
            assert settle_step(gaps[n]) == EXPECTED[case][method][2], (case, method)


def test_tuned_comparison_conclusions(tuned):
    s = {key: v[2] for key, v in tuned.items()}
    # κ=20：调好的动量最快，其次 Adam，最后 RMSprop
    assert s[20, False, "SGD"] < s[20, False, "Adam"] < s[20, False, "RMSprop"]
    # 沿坐标轴把 κ 从 20 提到 1000：动量慢了十倍多，RMSprop 的最优设置与步数不变
    assert s[1000, False, "SGD"] > 10 * s[20, False, "SGD"]
    assert tuned[1000, False, "RMSprop"][:3] == tuned[20, False, "RMSprop"][:3]
    assert max(s[1000, False, "RMSprop"], s[1000, False, "Adam"]) < s[1000, False, "SGD"]
    # 旋转 45° 之后，动量在两个 κ 上都最快
    for cond in (20, 1000):
        assert s[cond, True, "SGD"] < min(s[cond, True, "RMSprop"], s[cond, True, "Adam"])


def test_rmsprop_with_lr_0_1_reaches_then_leaves_1e_4():
    """书中：η = 0.1 的 RMSprop 第 31 步降到 1e-4 以下，第 528 步又回到 1e-4 以上，最后 200 步最大 0.55。"""
    p = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RMSprop([p], lr=0.1)
    loss = np.empty(1001)
    for k in range(1001):
        loss[k], p.grad = torch_loss_and_grad(p, 20, False)
        if k < 1000:
            opt.step()
    first = int(np.argmax(loss <= 1e-4))
    back = first + int(np.argmax(loss[first:] > 1e-4))
    assert (first, back) == (31, 528)
    assert f"{loss[-200:].max():.2f}" == "0.55"
