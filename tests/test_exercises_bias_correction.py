"""第 3 章：不做偏差校正的 Adam 对照类，以及练习检查 check_bias_corrected_moments。"""

import math

import pytest
import torch

import optimlab
from optimlab.exercises.bias_correction import (
    AdamNoBiasCorrection,
    check_bias_corrected_moments,
    reference_moments,
)


def _run(cls, steps=20, **hp):
    torch.manual_seed(0)
    p = torch.randn(6, requires_grad=True)
    opt = cls([p], **hp)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        ((p - 1) ** 2 * torch.arange(1.0, 7.0)).sum().backward()
        opt.step()
        out.append(p.detach().clone())
    return torch.stack(out)


def test_with_both_corrections_equals_optimlab_adam_bitwise():
    a = _run(AdamNoBiasCorrection, lr=0.05, correct_first=True, correct_second=True)
    b = _run(optimlab.Adam, lr=0.05)
    assert torch.equal(a, b)


def test_without_correction_first_step_is_larger_by_sqrt_factor():
    # t = 1：m_1 = (1-β₁)g，v_1 = (1-β₂)g²，步长 η(1-β₁)|g|/(√(1-β₂)|g| + ε) ≈ 3.162η
    p = torch.tensor([2.0, -3.0], dtype=torch.float64, requires_grad=True)
    opt = AdamNoBiasCorrection([p], lr=0.01)
    p.grad = torch.tensor([0.5, -4.0], dtype=torch.float64)
    opt.step()
    steps = [0.01 * 0.1 * g / (math.sqrt(0.001) * g + 1e-8) for g in (0.5, 4.0)]
    assert p.detach().tolist() == pytest.approx([2.0 - steps[0], -3.0 + steps[1]], rel=1e-12)
    assert steps[1] == pytest.approx(0.01 * 3.16228, rel=1e-6)


def test_only_first_moment_corrected_gives_huge_first_step():
    p = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    opt = AdamNoBiasCorrection([p], lr=0.01, correct_first=True)
    p.grad = torch.tensor([1.0], dtype=torch.float64)
    opt.step()
    assert float(p.detach()) == pytest.approx(-0.01 / (math.sqrt(0.001) + 1e-8), rel=1e-12)  # 31.6 倍 η


def test_reference_moments_closed_form_for_constant_gradient():
    grads = torch.full((5, 2), 3.0, dtype=torch.float64)
    m, v, m_hat, v_hat = reference_moments(grads, 0.9, 0.999)
    t = torch.arange(1, 6, dtype=torch.float64)[:, None]
    assert torch.allclose(m, 3.0 * (1 - 0.9**t), rtol=1e-12)
    assert torch.allclose(v, 9.0 * (1 - 0.999**t), rtol=1e-12)
    assert torch.allclose(m_hat, torch.full_like(m, 3.0), rtol=1e-12)
    assert torch.allclose(v_hat, torch.full_like(v, 9.0), rtol=1e-12)


def _moments(grads, beta1, beta2):
    m = torch.zeros_like(grads[0])
    v = torch.zeros_like(grads[0])
    m_hat, v_hat = [], []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat.append(m / (1 - beta1**t))
        v_hat.append(v / (1 - beta2**t))
    return torch.stack(m_hat), torch.stack(v_hat)


def test_correct_answer_passes():
    r = check_bias_corrected_moments(_moments)
    assert r.ok
    assert repr(r) == "✓ 2 组 (β₁, β₂) × 8 步，m̂_t、v̂_t 都与 optimlab.Adam 的状态一致"


def test_uncorrected_answer_gets_specific_hint():
    def raw(grads, beta1, beta2):
        m_hat, v_hat = _moments(grads, beta1, beta2)
        t = torch.arange(1, len(grads) + 1, dtype=grads.dtype)[:, None]
        return m_hat * (1 - beta1**t), v_hat

    r = check_bias_corrected_moments(raw)
    assert not r.ok
    assert r.message.startswith("β₁=0.9, β₂=0.999 时，m̂：第一个不一致的元素是 m̂[0, 0]")
    assert r.message.endswith("你返回的是未校正的矩估计，还要除以 1 − βᵗ")


def test_off_by_one_exponent_names_the_step():
    def off_by_one(grads, beta1, beta2):
        m_hat, v_hat = _moments(grads, beta1, beta2)
        t = torch.arange(1, len(grads) + 1, dtype=grads.dtype)[:, None]
        # 用 β^(t+1) 校正 v
        return m_hat, v_hat * (1 - beta2**t) / (1 - beta2 ** (t + 1))

    r = check_bias_corrected_moments(off_by_one)
    assert not r.ok
    assert r.message.startswith("β₁=0.9, β₂=0.999 时，v̂：第一个不一致的元素是 v̂[0, 0]")
    assert "第一个出错的是第 t=1 步" in r.message


def test_wrong_shape_and_stub():
    r = check_bias_corrected_moments(lambda g, b1, b2: (g[0], g[0]))
    assert not r.ok and r.message == "β₁=0.9, β₂=0.999 时，m̂：形状应为 (8, 3)，实际为 (3,)"

    def stub(grads, beta1, beta2):
        raise NotImplementedError

    assert "还没有实现" in check_bias_corrected_moments(stub).message
