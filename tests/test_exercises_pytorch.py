"""《在 PyTorch 中使用 Adam》的练习检查。"""

import math

from torch.optim import lr_scheduler

from optimlab.exercises.pytorch import check_cosine_lr, check_step_lr, check_train_step, scheduled_lrs


def test_scheduled_lrs_step_lr():
    lrs = scheduled_lrs(lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 1.0, 7)
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]


def test_step_lr_right_and_off_by_one():
    assert check_step_lr(lambda e, b, s, g: b * g ** (e // s)).ok
    r = check_step_lr(lambda e, b, s, g: b * g ** ((e + 1) // s))
    assert not r.ok and r.message == "step_lr(29, 0.001, 30, 0.1)：你的结果 0.0001，torch 的调度器给出 0.001"


def test_cosine_lr_right_and_missing_eta_min():
    right = lambda e, b, T, m: m + (b - m) * (1 + math.cos(math.pi * e / T)) / 2  # noqa: E731
    assert check_cosine_lr(right).ok
    r = check_cosine_lr(lambda e, b, T, m: b * (1 + math.cos(math.pi * e / T)) / 2)
    assert not r.ok and r.message.startswith("cosine_lr(1, 0.1, 10, 0.001)")


def _good(model, opt, x, y, loss_fn):
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def test_train_step_right_answer_passes():
    r = check_train_step(_good)
    assert r.ok and r.message == "连续 3 步的损失和参数都与参考实现一致"


def test_train_step_without_zero_grad_fails_at_step_2():
    def no_zero(model, opt, x, y, loss_fn):
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    r = check_train_step(no_zero)
    assert not r.ok and r.message.startswith("第 2 步之后的 weight：")


def test_train_step_loss_after_step_is_reported():
    def late_loss(model, opt, x, y, loss_fn):
        _good(model, opt, x, y, loss_fn)
        return loss_fn(model(x), y).item()  # 返回了更新之后的损失

    r = check_train_step(late_loss)
    assert not r.ok and r.message.startswith("第 1 步返回的损失")


def test_train_step_stub_and_none():
    def stub(*args):
        raise NotImplementedError

    assert "还没有实现" in check_train_step(stub).message
    assert "返回了 None" in check_train_step(lambda *a: None).message
