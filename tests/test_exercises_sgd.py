"""第 1 章练习检查 optimlab.exercises.sgd：正确答案通过，具体的错误答案被指出错在哪里。"""

import torch

from optimlab.exercises.sgd import SGD_CASES, check_sgd_step, reference_steps


def right(theta, grad, buf, t, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    g = grad + weight_decay * theta
    if momentum != 0:
        buf = g.clone() if buf is None else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return theta - lr * g, buf


def damped_first_step(theta, grad, buf, t, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    # 常见错误：第一步也乘 (1 − τ)，即 b_0 = 0
    g = grad + weight_decay * theta
    if momentum != 0:
        buf = (1 - dampening) * g if buf is None else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return theta - lr * g, buf


def decay_after_momentum(theta, grad, buf, t, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    # 常见错误：权重衰减没有进入动量缓冲，而是在更新时单独加上
    g = grad
    if momentum != 0:
        buf = g.clone() if buf is None else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return theta - lr * (g + weight_decay * theta), buf


def note_nesterov(theta, grad, buf, t, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    # 错误：忽略 nesterov，总是用 d_t = b_t
    return right(theta, grad, buf, t, lr, momentum, dampening, weight_decay, False)


def test_reference_matches_torch():
    for hparams in SGD_CASES:
        theta = torch.tensor([1.5, -0.5, 2.0], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([theta], **hparams)
        for before, grad, _, after, _ in reference_steps(3, **hparams):
            assert torch.equal(theta.detach(), before)
            theta.grad = grad.clone()
            opt.step()
            assert torch.equal(theta.detach(), after)


def test_reference_buffer_first_step_is_gradient():
    (_, grad, buf_prev, _, buf), *_ = reference_steps(1, lr=0.1, momentum=0.9, dampening=0.5)
    assert buf_prev is None
    assert torch.equal(buf, grad)


def test_right_answer_passes():
    r = check_sgd_step(right)
    assert r.ok
    assert repr(r) == "✓ 6 组超参数、每组 3 步，θ_t 与 b_t 都与 optimlab.SGD 一致"


def test_damped_first_step_is_located():
    r = check_sgd_step(damped_first_step)
    assert not r.ok
    assert r.message.startswith("[lr=0.1, momentum=0.9, dampening=0.5] 第 1 步：θ_t：第一个不一致的元素是 θ_t[0]")


def test_weight_decay_outside_buffer_is_located():
    r = check_sgd_step(decay_after_momentum)
    assert not r.ok
    # 第 1 步 b_1 = g_1 不含 λθ，但 θ_1 仍相同；缓冲在第 1 步就不一致
    assert r.message.startswith("[lr=0.1, momentum=0.9, weight_decay=0.1] 第 1 步：b_t：第一个不一致的元素是 b_t[0]")


def test_missing_nesterov_is_located():
    r = check_sgd_step(note_nesterov)
    assert not r.ok
    assert r.message.startswith("[lr=0.1, momentum=0.9, nesterov=True] 第 1 步：θ_t")


def test_not_implemented_and_errors_never_raise():
    def stub(*args, **kwargs):
        raise NotImplementedError

    def broken(*args, **kwargs):
        raise ValueError("boom")

    def one_value(theta, grad, buf, t, lr, **kw):
        return theta - lr * grad

    assert repr(check_sgd_step(stub)) == "✗ 还没有实现：把函数体里的 `raise NotImplementedError` 换成你的代码"
    assert repr(check_sgd_step(broken)) == "✗ 你的函数抛出了 ValueError: boom"
    assert repr(check_sgd_step(one_value)) == "✗ 函数应返回两个值 (new_theta, new_buf)"
