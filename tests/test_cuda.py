"""同一份代码在每个可用设备上运行（设备由 conftest 的 ``device`` 夹具给出，没有 GPU 时 CUDA 用例跳过）。

* CPU：与 torch.optim 的默认实现（逐张量 for 循环）逐位一致；与 ``foreach=True`` 的实现相对误差 ≤ 1e-6。
* CUDA：torch.optim 的默认实现是 foreach（多张量内核，运算的合并方式不同），
  训练 100 步后参数的最大相对误差 ≤ 1e-6（float32）。

相对误差按张量计算：``max|θ_ours − θ_torch| / max|θ_torch|``，再对所有参数张量取最大。
"""

import pytest
import torch

import optimlab

STEPS = 100
RTOL = 1e-6
SHAPES = [(32, 16), (16,), (16, 4), (4,)]

OPTION_SETS = {
    "SGD": [{"lr": 0.05}, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
            {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "maximize": True}],
    "Adam": [{"lr": 0.01}, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1},
             {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}],
    "AdamW": [{"lr": 0.01}, {"lr": 0.01, "amsgrad": True, "maximize": True}],
    "NAdam": [{"lr": 0.01}, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
              {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.1}],
    "RMSprop": [{"lr": 0.01}, {"lr": 0.01, "momentum": 0.9, "centered": True},
                {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.1}],
    "Adagrad": [{"lr": 0.1}, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1}],
}
CASES = [
    pytest.param(name, kw, id=f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items()))
    for name, kws in OPTION_SETS.items()
    for kw in kws
]


@pytest.fixture(autouse=True)
def one_cpu_thread():
    """这里的张量很小，CPU 多线程没有好处；在繁忙的机器上线程之间互相等待，反而慢几十倍。

    两边在同样的线程数下运行，逐位比较不受影响。
    """
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def make_params(device):
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=gen).mul_(0.5).to(device).requires_grad_() for s in SHAPES]


def batch(k, device):
    gen = torch.Generator().manual_seed(100 + k)
    return torch.randn(64, 32, generator=gen).to(device), torch.randn(64, 4, generator=gen).to(device)


def train(cls, kwargs, device):
    """一个两层 tanh 网络的回归问题（数据在 CPU 上生成，两边完全相同），训练 STEPS 步。"""
    params = make_params(device)
    opt = cls(params, **kwargs)
    w1, b1, w2, b2 = params
    for k in range(STEPS):
        x, y = batch(k, device)
        opt.zero_grad()
        ((torch.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean().backward()
        opt.step()
    return params, opt


def max_rel_err(ours, theirs):
    return max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("name,kwargs", CASES)
def test_against_torch_default(name, kwargs, device):
    p_ours, ours = train(getattr(optimlab, name), kwargs, device)
    p_torch, theirs = train(getattr(torch.optim, name), kwargs, device)
    for a, b in zip(p_ours, p_torch):
        assert a.device.type == b.device.type == device and a.dtype == b.dtype == torch.float32
        assert torch.isfinite(b).all()
    # 参数确实移动了，比较才有意义
    assert max_rel_err(p_torch, make_params(device)) > 1e-3
    if device == "cpu":
        for i, (a, b) in enumerate(zip(p_ours, p_torch)):
            assert torch.equal(a, b), f"参数 {i} 与 torch.optim 不逐位一致"
    else:
        err = max_rel_err(p_ours, p_torch)
        assert err <= RTOL, f"{name} 相对误差 {err:.2e} > {RTOL:.0e}"
    # 状态放在同样的设备上：矩估计等跟随参数，step / mu_product 留在 CPU（非 capturable 时同 torch）
    sd_ours, sd_torch = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert sd_ours.keys() == sd_torch.keys()
    for i in sd_torch:
        assert {k: (v.device, v.dtype) for k, v in sd_ours[i].items()} == {
            k: (v.device, v.dtype) for k, v in sd_torch[i].items()
        }


@pytest.mark.parametrize("name,kwargs", CASES)
def test_against_torch_foreach(name, kwargs, device):
    """与 torch 的 foreach 实现比较（CUDA 上这就是默认实现）：相对误差 ≤ 1e-6。

    在 CPU 上也能跑，作为 CUDA 情形的替身：除 NAdam 外 CPU 上 foreach 与 for 循环逐位相同，
    NAdam 的 foreach 版本按另一种顺序计算两项步长，误差约 2e-7。
    """
    p_ours, _ = train(getattr(optimlab, name), kwargs, device)
    p_torch, _ = train(getattr(torch.optim, name), dict(kwargs, foreach=True), device)
    err = max_rel_err(p_ours, p_torch)
    assert err <= RTOL, f"{name} 相对误差 {err:.2e} > {RTOL:.0e}"

