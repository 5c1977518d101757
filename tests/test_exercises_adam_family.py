"""第 8 章练习检查：正确答案通过，具体的错误答案失败并指出错在哪里；标准答案本身与闭式、torch 核对。"""

import math

import torch

from optimlab.exercises.adam_family import (
    adamax_reference,
    check_adamax_step,
    check_radam_rect,
    check_radam_rho,
    radam_rect_reference,
    radam_rho_reference,
)


def rho_right(t, beta2):
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf - 2 * t * beta2**t / (1 - beta2**t)


def rect_right(t, beta2):
    rho, rho_inf = rho_right(t, beta2), 2 / (1 - beta2) - 1
    if rho <= 5:
        return None
    return math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))


# ----------------------------------------------------------------------------- 标准答案本身

def test_rho_reference_is_the_closed_form():
    for beta2 in (0.999, 0.99, 0.9):
        for t in (1, 2, 5, 6, 30, 200):
            assert math.isclose(radam_rho_reference(t, beta2), rho_right(t, beta2), rel_tol=1e-10)
    assert radam_rho_reference(1, 0.999) == 1.0


def test_rect_reference_from_torch_steps():
    ref = radam_rect_reference(0.999)
    # 默认 β₂：ρ_5 ≈ 4.996 ≤ 5，torch 前 5 步是动量 SGD，第 6 步起修正
    assert ref[:5] == [None] * 5
    assert all(r is not None for r in ref[5:])
    for t, r in enumerate(ref[5:], start=6):
        assert math.isclose(r, rect_right(t, 0.999), rel_tol=1e-12)
    ref9 = radam_rect_reference(0.9)
    assert ref9[:5] == [None] * 5 and ref9[5] is not None


def test_adamax_reference_matches_closed_form():
    theta, grad, m, u = [1.0, -2.0], [0.5, 0.0], [0.1, -0.2], [0.8, 0.0]
    got, m_t, u_t = adamax_reference(theta, grad, m, u, 4, 0.01, (0.9, 0.999), 1e-8)
    g, m0, u0 = (torch.tensor(a, dtype=torch.float64) for a in (grad, m, u))
    m_e = 0.9 * m0 + 0.1 * g
    u_e = torch.maximum(0.999 * u0, g.abs() + 1e-8)
    assert torch.allclose(m_t, m_e, rtol=1e-15, atol=0)
    assert torch.allclose(u_t, u_e, rtol=1e-15, atol=0)
    assert torch.allclose(got, torch.tensor(theta, dtype=torch.float64) - 0.01 / (1 - 0.9**4) * m_e / u_e,
                          rtol=1e-14, atol=0)


# ----------------------------------------------------------------------------- ρ_t

def test_rho_right_answer_passes():
    r = check_radam_rho(rho_right)
    assert r.ok, r.message
    assert repr(r).startswith("✓ ρ_t 与定义一致")


def test_rho_without_minus_one_fails_at_t1():
    r = check_radam_rho(lambda t, b2: rho_right(t, b2) + 1)  # ρ_∞ 写成 2/(1 − β₂)
    assert not r.ok
    assert r.message.startswith("β₂=0.999，t=1：ρ_1：")


def test_rho_off_by_one_fails():
    r = check_radam_rho(lambda t, b2: rho_right(t + 1, b2))
    assert not r.ok and "t=1" in r.message


def test_rho_stub_and_errors_do_not_raise():
    def stub(t, beta2):
        raise NotImplementedError

    assert "还没有实现" in check_radam_rho(stub).message
    r = check_radam_rho(lambda t, b2: 1 / 0)
    assert not r.ok and "ZeroDivisionError" in r.message


# ----------------------------------------------------------------------------- r_t

def test_rect_right_answer_passes():
    r = check_radam_rect(rect_right)
    assert r.ok, r.message


def test_rect_paper_threshold_fails_at_step_5():
    # 论文的门槛 ρ_t > 4：默认 β₂ 下第 5 步（ρ_5 ≈ 4.996）就修正，torch 不修正
    def paper(t, beta2):
        rho, rho_inf = rho_right(t, beta2), 2 / (1 - beta2) - 1
        if rho <= 4:
            return None
        return math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))

    r = check_radam_rect(paper)
    assert not r.ok
    assert r.message.startswith("β₂=0.999，t=5：这一步 torch.optim.RAdam 没有用 v_t")


def test_rect_never_none_fails_at_step_1():
    r = check_radam_rect(lambda t, b2: 1.0)
    assert not r.ok and r.message.startswith("β₂=0.999，t=1：")


def test_rect_always_none_fails_at_step_6():
    r = check_radam_rect(lambda t, b2: None)
    assert not r.ok
    assert r.message.startswith("β₂=0.999，t=6：这一步 torch.optim.RAdam 已经用 r_t 修正")


def test_rect_wrong_value_names_the_step():
    r = check_radam_rect(lambda t, b2: None if rect_right(t, b2) is None else rect_right(t, b2) ** 2)  # 忘了开方
    assert not r.ok and r.message.startswith("β₂=0.999，t=6：r_6：")


# ----------------------------------------------------------------------------- Adamax

def adamax_right(theta, grad, m, u, t, lr, betas, eps):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    u = torch.maximum(beta2 * u, grad.abs() + eps)
    return theta - lr / (1 - beta1**t) * m / u, m, u


def test_adamax_right_answer_passes():
    r = check_adamax_step(adamax_right)
    assert r.ok, r.message
    assert repr(r).startswith("✓ 与 torch.optim.Adamax 一致")


def test_adamax_eps_outside_max_names_u_t():
    def eps_outside(theta, grad, m, u, t, lr, betas, eps):
        beta1, beta2 = betas
        m = beta1 * m + (1 - beta1) * grad
        u = torch.maximum(beta2 * u, grad.abs()) + eps  # ε 加在 max 之后
        return theta - lr / (1 - beta1**t) * m / u, m, u

    r = check_adamax_step(eps_outside)
    assert not r.ok
    assert r.message.startswith("第 2 组（t=5，ε=0.1）—— u_t：第一个不一致的元素是 u_t[0]")


def test_adamax_paper_without_eps_fails_on_zero_gradient():
    def paper(theta, grad, m, u, t, lr, betas, eps):
        return adamax_right(theta, grad, m, u, t, lr, betas, 0.0)  # 论文：u_t = max(β₂u, |g|)

    r = check_adamax_step(paper)
    assert not r.ok
    assert r.message.startswith("第 1 组（t=1，ε=1e-08）—— u_t：第一个不一致的元素是 u_t[1]")


def test_adamax_bias_corrected_u_names_theta():
    def corrected(theta, grad, m, u, t, lr, betas, eps):
        theta_t, m_t, u_t = adamax_right(theta, grad, m, u, t, lr, betas, eps)
        beta1, beta2 = betas
        return theta - lr / (1 - beta1**t) * m_t / (u_t / (1 - beta2**t)), m_t, u_t  # 多余的偏差校正

    r = check_adamax_step(corrected)
    assert not r.ok and "θ_t：第一个不一致的元素是 θ_t[0]" in r.message


def test_adamax_stub_and_bad_return_do_not_raise():
    def stub(*args):
        raise NotImplementedError

    assert "还没有实现" in check_adamax_step(stub).message
    r = check_adamax_step(lambda *a: a[0])
    assert not r.ok and "三元组" in r.message
