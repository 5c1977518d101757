"""测试里共用的"对照实验"：同一个问题，分别用 optimlab 和 torch.optim 训练，然后逐位比较。

torch.optim 在这里是神谕（oracle）：optimlab 的实现从不调用它，只在测试里与它比较。
"""

from __future__ import annotations

import itertools

import torch

import optimlab

NAMES = ["SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad"]
SHAPES = [(5, 4), (4,), (1,)]


def pair(name):
    """(optimlab 的类, torch.optim 的类)。"""
    return getattr(optimlab, name), getattr(torch.optim, name)


def product(**axes):
    """所有取值组合，每个组合是一个 kwargs 字典。"""
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*axes.values())]


def option_grid(name):
    """每个优化器需要覆盖的选项组合（非法组合已剔除）。"""
    if name == "SGD":
        grid = product(
            lr=[0.05],
            momentum=[0.0, 0.9],
            dampening=[0.0, 0.3],
            nesterov=[False, True],
            weight_decay=[0.0, 0.01],
            maximize=[False, True],
        )
        return [k for k in grid if not (k["nesterov"] and (k["momentum"] <= 0 or k["dampening"] != 0))]
    if name == "Adam":
        return product(
            lr=[0.01],
            betas=[(0.9, 0.999), (0.5, 0.9)],
            weight_decay=[0.0, 0.1],
            amsgrad=[False, True],
            maximize=[False, True],
            decoupled_weight_decay=[False, True],
        )
    if name == "AdamW":
        return product(lr=[0.01], weight_decay=[0.0, 0.1], amsgrad=[False, True], maximize=[False, True])
    if name == "NAdam":
        return product(
            lr=[0.01],
            weight_decay=[0.0, 0.1],
            momentum_decay=[4e-3, 0.1],
            decoupled_weight_decay=[False, True],
            maximize=[False, True],
        )
    if name == "RMSprop":
        return product(
            lr=[0.01],
            alpha=[0.99, 0.9],
            momentum=[0.0, 0.9],
            centered=[False, True],
            weight_decay=[0.0, 0.1],
            maximize=[False, True],
        )
    if name == "Adagrad":
        return product(
            lr=[0.1],
            lr_decay=[0.0, 0.01],
            weight_decay=[0.0, 0.1],
            initial_accumulator_value=[0.0, 0.5],
            eps=[1e-10, 1e-3],
            maximize=[False, True],
        )
    raise KeyError(name)


def make_params(dtype=torch.float32, device="cpu", seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype).to(device).requires_grad_() for s in SHAPES]


def loss_fn(params, k):
    """一个非凸、有界的小回归问题（maximize 时也不会发散）；第 k 步用第 k 个小批量。"""
    w, b, s = params
    gen = torch.Generator().manual_seed(1000 + k)
    x = torch.randn(8, 5, generator=gen, dtype=w.dtype).to(w.device)
    y = torch.randn(8, 4, generator=gen, dtype=w.dtype).to(w.device)
    pred = torch.tanh(x @ w + b) * torch.tanh(s)
    return ((pred - y) ** 2).mean() + 0.1 * torch.cos(w).sum()


def train(cls, kwargs, *, params, steps, start=0, opt=None, groups=False, none_grad=True,
          closure=False, scheduler=None):
    """训练 steps 步，返回 (优化器, 调度器)。

    groups：两个参数组，第二组有自己的学习率；none_grad：部分步里某个参数的 .grad 为 None；
    closure：通过 closure 调用 step；scheduler：一个 (optimizer) -> scheduler 的工厂。
    """
    if opt is None:
        if groups:
            lr = kwargs.get("lr", 1e-3)
            spec = [{"params": params[:2]}, {"params": params[2:], "lr": lr * 0.5}]
        else:
            spec = params
        opt = cls(spec, **kwargs)
    sched = scheduler(opt) if scheduler is not None else None
    for k in range(start, start + steps):
        def closure_fn(k=k):
            opt.zero_grad()
            loss = loss_fn(params, k)
            loss.backward()
            if none_grad and k % 4 == 1:
                params[1].grad = None
            return loss

        if closure:
            loss = opt.step(closure_fn)
        else:
            loss = closure_fn()
            opt.step()
        if sched is not None:
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(loss.item())
            else:
                sched.step()
    return opt, sched


def assert_bitwise(ours, theirs, what=""):
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert torch.isfinite(b).all(), "对照实验发散了，比较没有意义"
        if not torch.equal(a, b):
            diff = (a - b).abs().max().item()
            raise AssertionError(f"{what} 参数 {i} 与 torch.optim 不逐位一致，最大差 {diff:.3e}")


def flat_state(opt):
    """优化器状态按 (参数序号, 键) 展开，便于比较。"""
    sd = opt.state_dict()
    return {(i, k): v for i, st in sd["state"].items() for k, v in st.items()}


def assert_same_state(ours, theirs):
    a, b = flat_state(ours), flat_state(theirs)
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if torch.is_tensor(y):
            assert torch.is_tensor(x) and x.dtype == y.dtype and x.device == y.device, key
            assert torch.equal(x, y), key
        else:
            assert x == y, key


def outcome(fn):
    """运行 fn，返回 ("ok", None) 或 (异常类型, 异常信息)。"""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 —— 要比较的正是异常本身
        return type(e), str(e)
    return "ok", None
