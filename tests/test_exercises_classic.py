"""第 9 章练习检查：正确答案通过，具体的错误答案失败并指出错在哪里；标准答案本身与 torch 对照。"""

import torch

from optimlab.exercises.classic import (
    bfgs_matrix,
    check_rprop_step,
    check_two_loop,
    rprop_reference,
    two_loop_reference,
)


def rprop_right(theta, grad, prev, step_size, etas, step_sizes):
    etaminus, etaplus = etas
    prod = grad * prev
    rho = torch.where(prod > 0, etaplus, torch.where(prod < 0, etaminus, 1.0))
    step_size = (step_size * rho).clamp(*step_sizes)
    grad = torch.where(prod < 0, 0.0, grad)
    return theta - step_size * grad.sign(), step_size, grad


def rprop_no_clamp(theta, grad, prev, step_size, etas, step_sizes):
    """错误：忘了把步长截断到 [Δ_min, Δ_max]。"""
    return rprop_right(theta, grad, prev, step_size, etas, (0.0, float("inf")))


def rprop_keeps_grad(theta, grad, prev, step_size, etas, step_sizes):
    """错误：符号翻转时仍保存并使用 g_t（没有置 0），Δ_t 对，g̃_t 不对。"""
    _, step_size_t, _ = rprop_right(theta, grad, prev, step_size, etas, step_sizes)
    return theta - step_size_t * grad.sign(), step_size_t, grad


def rprop_uses_grad_sign(theta, grad, prev, step_size, etas, step_sizes):
    """错误：保存的 g̃_t 对，但更新用了 sign(g_t) 而不是 sign(g̃_t)：翻转的坐标也动了。"""
    _, step_size_t, prev_t = rprop_right(theta, grad, prev, step_size, etas, step_sizes)
    return theta - step_size_t * grad.sign(), step_size_t, prev_t


def test_rprop_reference_is_torch():
    # 标准答案的每个分支与手算一致：同号 ×η₊，异号 ×η₋ 且不动，乘积为 0 步长不变，截断到上下限
    theta, step, prev = rprop_reference([1.0, 1.0, 1.0, 1.0, 1.0], [2.0, -2.0, 3.0, 1.0, -1.0],
                                        [1.0, 1.0, 0.0, 1.0, -1.0], [0.1, 0.1, 0.1, 45.0, 1.5e-6],
                                        (0.5, 1.2), (1e-6, 50.0))
    expected_step = torch.tensor([0.1 * 1.2, 0.1 * 0.5, 0.1, 50.0, 1.8e-6], dtype=torch.float64)
    assert torch.allclose(step, expected_step, rtol=1e-15, atol=0)
    assert torch.equal(prev, torch.tensor([2.0, 0.0, 3.0, 1.0, -1.0], dtype=torch.float64))
    expected_theta = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0], dtype=torch.float64) - expected_step * torch.tensor(
        [1.0, 0.0, 1.0, 1.0, -1.0], dtype=torch.float64)
    assert torch.allclose(theta, expected_theta, rtol=1e-15, atol=0)


def test_rprop_right_answer_passes():
    r = check_rprop_step(rprop_right)
    assert r.ok, r.message
    assert repr(r) == "✓ 与 torch.optim.Rprop 一致（第 1 组、第 2 组）"


def test_rprop_no_clamp_names_step_size():
    r = check_rprop_step(rprop_no_clamp)
    assert not r.ok
    assert r.message.startswith("第 1 组（etas=(0.5, 1.2)，step_sizes=(1e-06, 50.0)）—— Δ_t：第一个不一致的元素是 Δ_t[4]")


def test_rprop_keeps_grad_names_prev():
    r = check_rprop_step(rprop_keeps_grad)
    assert not r.ok
    assert "g̃_t：第一个不一致的元素是 g̃_t[1]" in r.message


def test_rprop_uses_grad_sign_names_theta():
    r = check_rprop_step(rprop_uses_grad_sign)
    assert not r.ok
    assert "θ_t：第一个不一致的元素是 θ_t[1]" in r.message


def test_rprop_stub_and_bad_return_do_not_raise():
    def stub(*args):
        raise NotImplementedError

    assert "还没有实现" in check_rprop_step(stub).message
    r = check_rprop_step(lambda *a: a[0])
    assert not r.ok and "三元组" in r.message


def two_loop_right(grad, s_list, y_list, gamma):
    q = -grad
    alphas = []
    for s, y in zip(reversed(s_list), reversed(y_list)):
        a = torch.dot(s, q) / torch.dot(y, s)
        q = q - a * y
        alphas.append(a)
    r = gamma * q
    for s, y, a in zip(s_list, y_list, reversed(alphas)):
        b = torch.dot(y, r) / torch.dot(y, s)
        r = r + (a - b) * s
    return r


def test_bfgs_matrix_is_symmetric_and_satisfies_secant():
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    A = A @ A.T + 4 * torch.eye(4, dtype=torch.float64)
    s_list = [torch.randn(4, generator=gen, dtype=torch.float64) for _ in range(3)]
    y_list = [A @ s for s in s_list]
    H = bfgs_matrix(s_list, y_list, 0.3)
    assert torch.allclose(H, H.T, atol=1e-12)
    assert torch.allclose(H @ y_list[-1], s_list[-1], atol=1e-12)  # 割线条件 H y = s（最新一对）
    # 曲率对两两 A-共轭（取 A 的特征向量为 s）时，n 对之后 H 恰好是 A⁻¹（二次函数上精确线搜索的 BFGS 的性质）
    s_conj = list(torch.linalg.eigh(A).eigenvectors.T)
    H_full = bfgs_matrix(s_conj, [A @ s for s in s_conj], 0.3)
    assert torch.allclose(H_full, torch.linalg.inv(A), atol=1e-12)
    assert not torch.allclose(bfgs_matrix(s_conj[:3], [A @ s for s in s_conj[:3]], 0.3), torch.linalg.inv(A))


def test_two_loop_reference_matches_torch_lbfgs_direction():
    # torch.optim.LBFGS 走几次迭代后，用它保存的 (s, y, γ) 与最后一个梯度显式构造 H，-Hg 应等于它的方向 d
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(30, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(30, generator=gen, dtype=torch.float64)
    w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=4, history_size=10)

    def closure():
        opt.zero_grad()
        loss = ((X @ w - y) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    state = opt.state[w]
    assert len(state["old_dirs"]) == 3
    d = two_loop_reference(state["prev_flat_grad"], state["old_stps"], state["old_dirs"], float(state["H_diag"]))
    assert torch.allclose(d, state["d"], rtol=1e-10, atol=1e-12)


def test_two_loop_right_answer_passes():
    r = check_two_loop(two_loop_right)
    assert r.ok, r.message
    assert r.message == "与显式构造的 BFGS 矩阵一致：d = −Hg（历史 0 对、1 对、4 对）"


def test_two_loop_sign_error_is_named():
    r = check_two_loop(lambda g, S, Y, gamma: -two_loop_right(g, S, Y, gamma))
    assert not r.ok
    assert r.message == "历史 0 对：结果是 +Hg，差一个负号——应返回下降方向 d = −Hg"


def test_two_loop_without_gamma_fails():
    r = check_two_loop(lambda g, S, Y, gamma: two_loop_right(g, S, Y, 1.0))
    assert not r.ok
    assert r.message.startswith("历史 0 对 —— d：第一个不一致的元素是 d[0]")


def test_two_loop_second_loop_in_wrong_order_fails():
    def wrong_order(grad, s_list, y_list, gamma):
        q = -grad
        alphas = []
        for s, y in zip(reversed(s_list), reversed(y_list)):
            a = torch.dot(s, q) / torch.dot(y, s)
            q = q - a * y
            alphas.append(a)
        r = gamma * q
        for s, y, a in zip(reversed(s_list), reversed(y_list), alphas):  # 错：第二个循环也从新到旧
            b = torch.dot(y, r) / torch.dot(y, s)
            r = r + (a - b) * s
        return r

    r = check_two_loop(wrong_order)
    assert not r.ok
    assert r.message.startswith("历史 4 对 —— d：")  # 0 对、1 对时顺序无关，4 对时暴露


def test_two_loop_stub_does_not_raise():
    def stub(grad, s_list, y_list, gamma):
        raise NotImplementedError

    assert "还没有实现" in check_two_loop(stub).message
