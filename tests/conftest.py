"""测试共用的夹具：可用设备列表。"""

import pytest
import torch

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="没有可用的 CUDA 设备")
    ),
]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param
