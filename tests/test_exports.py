"""optimlab 导出 torch.optim 的每一个优化器类，名字相同，而且都是自己写的子类。"""

import inspect

import torch

import optimlab


def torch_optimizers():
    return sorted(
        name
        for name, obj in vars(torch.optim).items()
        if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer
    )


def test_every_torch_optimizer_is_exported():
    assert len(torch_optimizers()) == 15
    assert sorted(optimlab.OPTIMIZERS) == torch_optimizers()
    for name in optimlab.OPTIMIZERS:
        assert name in optimlab.__all__


def test_never_subclasses_a_torch_algorithm():
    algorithms = {getattr(torch.optim, n) for n in torch_optimizers()}
    for name in optimlab.OPTIMIZERS:
        cls = getattr(optimlab, name)
        assert issubclass(cls, torch.optim.Optimizer)
        assert not algorithms & set(cls.__mro__), name
        assert cls.__module__.startswith("optimlab.optim."), name
