"""《大模型时代》一章的练习检查：正确答案通过，具体的错误答案失败并指出错在哪里。"""

import math

import torch

from optimlab.exercises.large_scale import (
    ADAFACTOR_CASES,
    NS_CASES,
    adafactor_state_reference,
    check_adafactor_state_bytes,
    check_ns_step,
    ns_step_reference,
)
from optimlab.optim.muon import newton_schulz


def adafactor_bytes_right(shape, dtype):
    size = torch.tensor([], dtype=dtype).element_size()
    if len(shape) >= 2:
        batch = math.prod(shape[:-2])
        return batch * (shape[-2] + shape[-1]) * size
    return math.prod(shape) * size


def adafactor_bytes_adam(shape, dtype):
    """错误：按 Adam 的两份完整矩估计计算。"""
    return 2 * math.prod(shape) * torch.tensor([], dtype=dtype).element_size()


def adafactor_bytes_no_batch(shape, dtype):
    """错误：忽略 3 维参数前面的批维度。"""
    size = torch.tensor([], dtype=dtype).element_size()
    return (shape[-2] + shape[-1]) * size if len(shape) >= 2 else shape[0] * size


def adafactor_bytes_float32(shape, dtype):
    """错误：总按 4 字节一个数计算。"""
    return adafactor_bytes_right(shape, torch.float32)


def test_adafactor_reference_matches_closed_form_and_optimlab():
    # 标准答案来自 torch.optim；这里再与闭式计数、optimlab.Adafactor 的状态互相印证
    import optimlab

    for shape, dtype in ADAFACTOR_CASES:
        assert adafactor_state_reference(shape, dtype) == adafactor_bytes_right(shape, dtype)
        p = torch.zeros(shape, dtype=dtype, requires_grad=True)
        opt = optimlab.Adafactor([p])
        p.grad = torch.ones(shape, dtype=dtype)
        opt.step()
        ours = sum(v.numel() * v.element_size() for k, v in opt.state[p].items() if k != "step")
        assert ours == adafactor_bytes_right(shape, dtype)
    assert adafactor_state_reference((3, 32, 48), torch.float32) == 3 * (32 + 48) * 4
    assert adafactor_state_reference((7, 1), torch.float32) == 32  # 7 + 1 个因子，比参数还多


def test_adafactor_right_answer_passes():
    r = check_adafactor_state_bytes(adafactor_bytes_right)
    assert r.ok, r.message
    assert repr(r).startswith("✓ 6 个形状")


def test_adafactor_adam_answer_fails_on_first_shape():
    r = check_adafactor_state_bytes(adafactor_bytes_adam)
    assert not r.ok
    assert r.message == "形状 (1024,)、float32：你的结果 8192 字节，torch.optim.Adafactor 实际保存了 4096 字节"


def test_adafactor_missing_batch_dims_fails_on_3d():
    r = check_adafactor_state_bytes(adafactor_bytes_no_batch)
    assert not r.ok
    assert r.message.startswith("形状 (3, 32, 48)、float32：你的结果 320 字节")


def test_adafactor_fixed_itemsize_fails_on_float64():
    r = check_adafactor_state_bytes(adafactor_bytes_float32)
    assert not r.ok
    assert r.message.startswith("形状 (256, 64)、float64：")


def test_adafactor_stub_and_bad_return_do_not_raise():
    def stub(shape, dtype):
        raise NotImplementedError

    assert "还没有实现" in check_adafactor_state_bytes(stub).message
    r = check_adafactor_state_bytes(lambda shape, dtype: "很多")
    assert not r.ok and "整数" in r.message
    r = check_adafactor_state_bytes(lambda shape, dtype: None)
    assert not r.ok and "整数" in r.message


def ns_right(x, a, b, c):
    A = x @ x.T
    return a * x + (b * A + c * A @ A) @ x


def ns_right_gram_on_the_other_side(x, a, b, c):
    # X(XᵀX) = (XXᵀ)X：用另一边的 Gram 矩阵也是对的
    B = x.T @ x
    return a * x + x @ (b * B + c * B @ B)


def ns_elementwise(x, a, b, c):
    """错误：把 σ 的多项式逐元素作用在 X 上。"""
    return a * x + b * x**3 + c * x**5


def ns_square_instead_of_cube(x, a, b, c):
    """错误：第 3 项用 A 而不是 A²。"""
    A = x @ x.T
    return a * x + (b * A + c * A) @ x


def test_ns_reference_is_one_step_of_the_polynomial():
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x = x / x.norm()
    coeffs = (3.4445, -4.7750, 2.0315)
    assert torch.allclose(ns_step_reference(x, coeffs), ns_right(x, *coeffs), rtol=1e-12, atol=1e-14)


def test_ns_reference_agrees_with_bf16_newton_schulz_one_step():
    # optimlab.newton_schulz 在 bfloat16 中计算；一步之后与闭式解相差约 bfloat16 的精度
    x = torch.randn(16, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = x / x.norm()
    ours = newton_schulz(x, ns_steps=1).double()
    ref = ns_step_reference(x, (3.4445, -4.7750, 2.0315))
    assert float((ours - ref).abs().max()) < 2e-2 * float(ref.abs().max())


def test_ns_right_answers_pass():
    for fn in (ns_right, ns_right_gram_on_the_other_side):
        r = check_ns_step(fn)
        assert r.ok, r.message
    assert repr(check_ns_step(ns_right)).startswith("✓ 3 个矩阵")


def test_ns_elementwise_answer_fails_on_first_matrix():
    r = check_ns_step(ns_elementwise)
    assert not r.ok
    assert r.message.startswith("4×7 矩阵，(a, b, c) = (3.4445, -4.775, 2.0315)：X'：第一个不一致的元素是 X'[")


def test_ns_wrong_power_fails():
    r = check_ns_step(ns_square_instead_of_cube)
    assert not r.ok
    assert "第一个不一致的元素" in r.message


def test_ns_stub_and_bad_shape_do_not_raise():
    def stub(x, a, b, c):
        raise NotImplementedError

    assert "还没有实现" in check_ns_step(stub).message
    r = check_ns_step(lambda x, a, b, c: x.T)
    assert not r.ok and "形状应为 (4, 7)" in r.message
    r = check_ns_step(lambda x, a, b, c: (x @ x) * a)  # 4×7 矩阵不能自乘
    assert not r.ok and "RuntimeError" in r.message


def test_cases_cover_wide_tall_square():
    shapes = {(rows > cols) - (rows < cols) for rows, cols, _, _ in NS_CASES}
    assert shapes == {-1, 0, 1}
