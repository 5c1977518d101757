"""第 2 章练习检查 check_adam_step：正确答案通过，具体的错误被指出。"""

import torch

from optimlab.exercises.adam import check_adam_step


def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / (v_hat.sqrt() + eps), m, v


def test_correct_step_passes():
    r = check_adam_step(adam_step)
    assert r.ok
    assert repr(r) == "✓ 2 组超参数 × 5 步，θ_t、m_t、v_t 都与 optimlab.Adam 一致"


def test_stub_reports_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError

    r = check_adam_step(stub)
    assert not r.ok
    assert "还没有实现" in r.message


def test_forgotten_square_in_v_names_v():
    def wrong(theta, grad, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad.abs()
        return theta - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps), m, v

    r = check_adam_step(wrong)
    assert not r.ok
    assert r.message.startswith("超参数组 1（lr=0.001, β₁=0.9, β₂=0.999, ε=1e-08）第 t=1 步，v_t：第一个不一致的元素是 v_t[0]")
    assert "g_t²" in r.message


def test_epsilon_before_bias_correction_is_caught_by_large_eps():
    # 论文第 2 节的"高效"写法：ε 加在未校正的 √v_t 上。ε = 1e-8 时差别低于容差，ε = 1e-2 时被发现。
    def paper_efficient(theta, grad, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        lr_t = lr * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
        return theta - lr_t * m / (v.sqrt() + eps), m, v

    r = check_adam_step(paper_efficient)
    assert not r.ok
    assert r.message.startswith("超参数组 2（lr=0.1, β₁=0.8, β₂=0.99, ε=0.01）第 t=1 步，θ_t：")
    assert "ε 是否加在 √v̂_t 之后" in r.message


def test_off_by_one_step_index():
    def wrong_t(theta, grad, m, v, t, lr, beta1, beta2, eps):
        return adam_step(theta, grad, m, v, t + 1, lr, beta1, beta2, eps)

    r = check_adam_step(wrong_t)
    assert not r.ok
    assert "第 t=1 步，θ_t：第一个不一致的元素是 θ_t[0]" in r.message


def test_wrong_return_and_exception_do_not_raise():
    r = check_adam_step(lambda *a, **k: torch.zeros(4))
    assert not r.ok and r.message.startswith("函数应返回三个值")
    r = check_adam_step(lambda *a, **k: 1 / 0)
    assert not r.ok and r.message == "你的函数抛出了 ZeroDivisionError: division by zero"


def test_inputs_are_copies():
    # 就地修改输入的答案也必须能通过，且不影响后续步骤的标准答案
    def inplace(theta, grad, m, v, t, lr, beta1, beta2, eps):
        m.mul_(beta1).add_(grad, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (v / (1 - beta2**t)).sqrt().add_(eps)
        theta.addcdiv_(m, denom, value=-lr / (1 - beta1**t))
        return theta, m, v

    assert check_adam_step(inplace).ok
