"""torch.distributed 下的 optimlab：2 个进程（gloo，127.0.0.1）用 DistributedDataParallel 训练，
另用 ZeroRedundancyOptimizer(optimizer_class=optimlab.Adam) 训练；结果与单进程参照逐位相同。

单进程参照精确复现 DDP 的做法：每个进程算自己那半批数据的梯度，DDP 把两份梯度求平均。
DDP 先把每份梯度除以进程数再求和（g₀/2 + g₁/2），参照写作 (g₀ + g₁)/2；在 float64 里
除以 2 是精确的（不出现下溢时），两个数相加满足交换律，所以两者逐位相同，可以用 torch.equal。
"""

import os
import socket
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

import optimlab

WORLD = 2
STEPS = 15
BATCH = 16
LR = 0.01

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed 不可用")


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)
    ).to(torch.float64)


def batch(k):
    gen = torch.Generator().manual_seed(1000 + k)
    x = torch.randn(BATCH, 8, generator=gen, dtype=torch.float64)
    y = torch.randn(BATCH, 2, generator=gen, dtype=torch.float64)
    return x, y


def shard(t, rank):
    n = BATCH // WORLD
    return t[rank * n:(rank + 1) * n]


def loss_fn(model, x, y):
    return ((model(x) - y) ** 2).mean()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, port, out_path):
    # 只在子进程里导入：torch.distributed.optim 导入时会发出 torch.jit 的弃用警告
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.distributed.optim import ZeroRedundancyOptimizer

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
        timeout=timedelta(seconds=60),
    )
    try:
        ddp = DDP(make_model())
        opt = optimlab.Adam(ddp.parameters(), lr=LR)
        zero_model = DDP(make_model())
        zero = ZeroRedundancyOptimizer(zero_model.parameters(), optimizer_class=optimlab.Adam, lr=LR)
        for k in range(STEPS):
            x, y = batch(k)
            x, y = shard(x, rank), shard(y, rank)
            for model, optimizer in ((ddp, opt), (zero_model, zero)):
                optimizer.zero_grad()
                loss_fn(model, x, y).backward()
                optimizer.step()
        zero.consolidate_state_dict(to=0)
        if rank == 0:
            torch.save(
                {
                    "ddp": [p.detach().clone() for p in ddp.module.parameters()],
                    "zero": [p.detach().clone() for p in zero_model.module.parameters()],
                    "zero_state": zero.state_dict(),
                    # ZeRO 把参数分给两个进程：本进程只持有一部分参数的优化器状态
                    "zero_local_params": len(zero.optim.state),
                },
                out_path,
            )
    finally:
        dist.destroy_process_group()


def single_process_reference():
    """单进程：两半批各自求梯度，按 (g₀ + g₁)/2 平均后交给 optimlab.Adam。"""
    model = make_model()
    params = list(model.parameters())
    opt = optimlab.Adam(params, lr=LR)
    for k in range(STEPS):
        x, y = batch(k)
        halves = []
        for rank in range(WORLD):
            model.zero_grad()
            loss_fn(model, shard(x, rank), shard(y, rank)).backward()
            halves.append([p.grad.clone() for p in params])
        for p, g0, g1 in zip(params, *halves):
            p.grad = (g0 + g1) / 2
        opt.step()
    return [p.detach() for p in params], opt


@pytest.fixture(scope="module")
def distributed_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "result.pt"
    mp.spawn(_worker, args=(free_port(), str(out)), nprocs=WORLD, join=True)
    return torch.load(out, weights_only=True)


def test_ddp_with_optimlab_adam_equals_single_process(distributed_result):
    ref, _ = single_process_reference()
    start = list(make_model().parameters())
    for i, (a, b) in enumerate(zip(distributed_result["ddp"], ref, strict=True)):
        assert a.dtype == torch.float64
        assert torch.equal(a, b), f"参数 {i}：最大差 {(a - b).abs().max().item():.3e}"
        assert not torch.equal(a, start[i])  # 参数确实被训练过


def test_zero_redundancy_with_optimlab_adam_equals_single_process(distributed_result):
    ref, ref_opt = single_process_reference()
    for i, (a, b) in enumerate(zip(distributed_result["zero"], ref, strict=True)):
        assert torch.equal(a, b), f"参数 {i}：最大差 {(a - b).abs().max().item():.3e}"
    # 4 个参数张量分在 2 个进程上：rank 0 只为其中一部分保存状态
    assert 0 < distributed_result["zero_local_params"] < len(ref)
    # 汇总到 rank 0 的状态字典与单进程优化器的状态逐位相同
    state = distributed_result["zero_state"]["state"]
    ref_state = ref_opt.state_dict()["state"]
    assert sorted(state) == sorted(ref_state)
    for i in ref_state:
        assert state[i].keys() == ref_state[i].keys()
        for key, value in ref_state[i].items():
            assert torch.equal(state[i][key], value), (i, key)
