"""第 7 章练习检查 check_rmsprop_step：正确答案通过，典型错误被指出到具体的量、步骤与元素。"""

import torch

from optimlab.exercises.summary import check_rmsprop_step


def right(theta, grad, v, lr, alpha, eps):
    v = alpha * v + (1 - alpha) * grad**2
    return theta - lr * grad / (v.sqrt() + eps), v


def eps_inside_sqrt(theta, grad, v, lr, alpha, eps):
    v = alpha * v + (1 - alpha) * grad**2
    return theta - lr * grad / (v + eps).sqrt(), v


def bias_corrected(theta, grad, v, lr, alpha, eps):
    v = alpha * v + (1 - alpha) * grad**2
    return theta - lr * grad / ((v / (1 - alpha)).sqrt() + eps), v


def test_right_answer_passes():
    r = check_rmsprop_step(right)
    assert r.ok and "optimlab.RMSprop" in r.message


def test_eps_inside_the_square_root_is_caught_at_theta():
    r = check_rmsprop_step(eps_inside_sqrt)
    assert not r.ok
    assert "θ_t" in r.message and "超参数组 1" in r.message and "t=1" in r.message
    assert "ε 加在开方之后" in r.message


def test_bias_correction_is_not_part_of_rmsprop():
    r = check_rmsprop_step(bias_corrected)
    assert not r.ok and "θ_t" in r.message and "没有偏差校正" in r.message


def test_wrong_second_moment_names_v():
    def no_square(theta, grad, v, lr, alpha, eps):
        v = alpha * v + (1 - alpha) * grad.abs()
        return theta - lr * grad / (v.sqrt() + eps), v

    r = check_rmsprop_step(no_square)
    assert not r.ok and r.message.count("v_t") >= 1 and "逐元素平方" in r.message


def test_stub_exception_and_shape():
    def stub(*args, **kwargs):
        raise NotImplementedError

    assert "还没有实现" in check_rmsprop_step(stub).message
    assert "ZeroDivisionError" in check_rmsprop_step(lambda *a, **k: 1 / 0).message
    assert "两个值" in check_rmsprop_step(lambda *a, **k: torch.zeros(4)).message
