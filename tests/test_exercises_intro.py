"""《前言》练习检查 check_drop_in：完整的训练循环通过，缺少任一行都会被指出。"""

import torch
from torch import nn

from optimlab.exercises.intro import check_drop_in


def make_train(zero_grad=True, backward=True, step=True, seeded=True):
    def train(optimizer_cls):
        if seeded:
            torch.manual_seed(0)
        model = nn.Linear(3, 1)
        opt = optimizer_cls(model.parameters(), lr=0.1)
        x = torch.randn(16, 3)
        y = x.sum(1, keepdim=True)
        for _ in range(20):
            if zero_grad:
                opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            if backward:
                loss.backward()
            if step:
                opt.step()
        return [p.detach() for p in model.parameters()]

    return train


def test_complete_loop_passes():
    r = check_drop_in(make_train())
    assert r.ok and "逐位相同" in r.message and "20 步" in r.message


def test_missing_zero_grad():
    r = check_drop_in(make_train(zero_grad=False))
    assert not r.ok and "第 1 次 step() 之前没有调用 optimizer.zero_grad()" in r.message


def test_missing_backward_and_missing_step():
    assert "loss.backward()" in check_drop_in(make_train(backward=False)).message
    assert "step() 一次也没有被调用" in check_drop_in(make_train(step=False)).message


def test_unseeded_training_is_reported():
    r = check_drop_in(make_train(seeded=False))
    assert not r.ok and "manual_seed" in r.message


def test_stub_and_bad_return():
    def stub(optimizer_cls):
        raise NotImplementedError

    assert "还没有实现" in check_drop_in(stub).message
    assert "参数张量的列表" in check_drop_in(lambda cls: 3).message
