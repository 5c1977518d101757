"""第 4 章练习检查：正确答案通过，具体的错误答案失败并指出错在哪里。"""

import math

import torch

from optimlab.exercises.variants import (
    adamw_reference,
    check_adamw_step,
    check_nadam_mu,
    nadam_mu_reference,
)


def adamw_right(theta, grad, m, v, t, lr, betas, eps, weight_decay):
    beta1, beta2 = betas
    theta = theta * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return theta - lr * m_hat / (v_hat.sqrt() + eps), m, v


def adamw_l2(theta, grad, m, v, t, lr, betas, eps, weight_decay):
    """错误：把 λθ 加到梯度上（Adam + L2），m_t 因此不对。"""
    return adamw_right(theta, grad + weight_decay * theta, m, v, t, lr, betas, eps, 0.0)


def adamw_decay_after(theta, grad, m, v, t, lr, betas, eps, weight_decay):
    """错误：先做 Adam 步再衰减，m_t、v_t 对，θ_t 不对。"""
    theta_t, m, v = adamw_right(theta, grad, m, v, t, lr, betas, eps, 0.0)
    return theta_t * (1 - lr * weight_decay), m, v


def test_adamw_reference_matches_torch():
    theta, grad, m, v = [1.0, -2.0], [0.5, 3.0], [0.1, -0.2], [0.04, 0.3]
    p = torch.tensor(theta, dtype=torch.float64)
    opt = torch.optim.AdamW([p], lr=0.01, weight_decay=0.1)
    opt.state[p] = {"step": torch.tensor(3.0), "exp_avg": torch.tensor(m, dtype=torch.float64),
                    "exp_avg_sq": torch.tensor(v, dtype=torch.float64)}
    p.grad = torch.tensor(grad, dtype=torch.float64)
    opt.step()
    got, m_t, v_t = adamw_reference(theta, grad, m, v, 4, 0.01, (0.9, 0.999), 1e-8, 0.1)
    assert torch.equal(got, p)
    assert torch.equal(m_t, opt.state[p]["exp_avg"])
    assert torch.equal(v_t, opt.state[p]["exp_avg_sq"])


def test_adamw_right_answer_passes():
    r = check_adamw_step(adamw_right)
    assert r.ok, r.message
    assert repr(r).startswith("✓ 与 optimlab.AdamW 一致")


def test_adamw_l2_answer_names_m_t():
    r = check_adamw_step(adamw_l2)
    assert not r.ok
    assert r.message.startswith("第 1 组（t=1，λ=0.1）—— m_t：第一个不一致的元素是 m_t[0]")


def test_adamw_decay_after_names_theta():
    r = check_adamw_step(adamw_decay_after)
    assert not r.ok
    assert "θ_t：第一个不一致的元素是 θ_t[0]" in r.message


def test_adamw_stub_and_bad_return_do_not_raise():
    def stub(*args):
        raise NotImplementedError

    assert "还没有实现" in check_adamw_step(stub).message
    r = check_adamw_step(lambda *a: a[0])
    assert not r.ok and "三元组" in r.message
    r = check_adamw_step(lambda *a: 1 / 0)
    assert not r.ok and "ZeroDivisionError" in r.message


def nadam_mu_right(t, beta1, psi):
    return beta1 * (1 - 0.5 * 0.96 ** (t * psi))


def test_nadam_reference_is_the_schedule():
    mu = nadam_mu_reference(0.9, 4e-3, steps=5)
    expected = torch.tensor([nadam_mu_right(t, 0.9, 4e-3) for t in range(1, 6)], dtype=torch.float64)
    assert torch.allclose(mu, expected, rtol=1e-6, atol=0)
    assert math.isclose(float(mu[0]), 0.9 * (1 - 0.5 * 0.96**0.004), rel_tol=1e-6)


def test_nadam_right_answer_passes():
    r = check_nadam_mu(nadam_mu_right)
    assert r.ok, r.message


def test_nadam_off_by_one_fails_at_t1():
    r = check_nadam_mu(lambda t, beta1, psi: nadam_mu_right(t + 1, beta1, psi))
    assert not r.ok
    assert r.message.startswith("β₁=0.9，ψ=0.004，t=1：μ_1：")


def test_nadam_paper_exponent_wrong_psi_fails_in_second_case():
    # 把 ψ 写死成 0.004（论文的 t/250）：第一组对，第二组（ψ=0.1）错
    r = check_nadam_mu(lambda t, beta1, psi: beta1 * (1 - 0.5 * 0.96 ** (t / 250)))
    assert not r.ok
    assert r.message.startswith("β₁=0.95，ψ=0.1，t=1：")


def test_nadam_stub_does_not_raise():
    def stub(t, beta1, psi):
        raise NotImplementedError

    assert "还没有实现" in check_nadam_mu(stub).message
