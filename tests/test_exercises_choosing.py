"""《优化器选择》的练习检查：正确答案通过，特定的错误答案给出指名的说明。"""

import numpy as np
import pytest
import torch

from optimlab import measure
from optimlab.exercises.choosing import WIDTH_CASES, check_sensitivity_width, check_state_bytes


def right_state_bytes(name, dtype=torch.float32, **hp):
    size = torch.finfo(dtype).bits // 8
    n = {"SGD": int(hp.get("momentum", 0) != 0), "NAdam": 2, "Adagrad": 1,
         "RMSprop": 1 + int(hp.get("momentum", 0) != 0) + int(hp.get("centered", False))}.get(name)
    if n is None:  # Adam / AdamW
        n = 3 if hp.get("amsgrad") else 2
    return n * size


def test_state_bytes_right_answer_passes():
    r = check_state_bytes(right_state_bytes)
    assert r.ok and "11 种配置" in r.message


def test_state_bytes_ignoring_amsgrad_names_the_config():
    def wrong(name, dtype=torch.float32, **hp):
        return right_state_bytes(name, dtype, **{k: v for k, v in hp.items() if k != "amsgrad"})

    r = check_state_bytes(wrong)
    assert not r.ok
    assert r.message == "state_bytes('Adam', torch.float32, amsgrad=True)：你的结果 8 字节，实测为 12 字节"


def test_state_bytes_ignoring_dtype_fails_on_float64():
    r = check_state_bytes(lambda name, dtype=torch.float32, **hp: right_state_bytes(name, torch.float32, **hp))
    assert not r.ok and "torch.float64" in r.message and "实测为 8 字节" in r.message


def test_state_bytes_stub_and_errors_never_raise():
    def stub(name, dtype=torch.float32, **hp):
        raise NotImplementedError

    assert "还没有实现" in check_state_bytes(stub).message
    assert "ZeroDivisionError" in check_state_bytes(lambda *a, **k: 1 / 0).message
    assert "应是一个数" in check_state_bytes(lambda *a, **k: "eight").message


#: 手算的宽度（数量级），与 WIDTH_CASES 一一对应。最好点、合格线 factor × 最好值、包含最好点的连续合格段：
#: 1. 间距 0.5 个数量级，最好 0.1（第 4 点），合格线 0.2：第 3–5 点（0.11、0.1、0.15），10⁻² … 10⁻¹ → 1.0；
#: 2. 间距 0.6，最好 0.1（第 3 点），合格线 0.2：第 3–4 点（第 2 点 0.9 与第 5 点 NaN 把两边断开）→ 0.6；
#: 3. 间距 1，最好 0.1（第 1 点），合格线 0.2：第 1–2 点 → 1.0；
#: 4. 间距 1，最好 0.01，合格线 10 × 0.01 = 0.1：只有第 2 点 → 0.0。
HAND_WIDTHS = [1.0, 0.6, 1.0, 0.0]


def right_width(lrs, losses, factor):
    """正确答案取自手算的表（不是检查器自己的参照 measure.sensitivity_width）。"""
    for (case_lrs, case_losses, case_factor), width in zip(WIDTH_CASES, HAND_WIDTHS):
        if np.array_equal(lrs, case_lrs) and list(losses) == case_losses and factor == case_factor:
            return width
    raise AssertionError("检查器给出了 WIDTH_CASES 之外的数据")


def test_width_right_answer_passes():
    assert check_sensitivity_width(right_width).ok


def test_width_reference_equals_hand_computed_values():
    for (lrs, losses, factor), width in zip(WIDTH_CASES, HAND_WIDTHS):
        assert measure.sensitivity_width(lrs, losses, factor) == pytest.approx(width, abs=1e-12)


def test_width_off_by_one_step_fails():
    r = check_sensitivity_width(lambda lrs, losses, factor: right_width(lrs, losses, factor) + 0.5)
    assert not r.ok and r.message.startswith("第 1 组数据") and "应为 1 个数量级" in r.message


def test_width_not_contiguous_names_the_case():
    def wrong(lrs, losses, factor):  # 不要求连续：取所有合格点的最大最小学习率
        f = np.array([v if np.isfinite(v) else np.inf for v in losses])
        ok = np.nonzero(f <= factor * f.min())[0]
        return float(np.log10(lrs[ok.max()] / lrs[ok.min()]))

    r = check_sensitivity_width(wrong)
    assert not r.ok and r.message.startswith("第 2 组数据") and "应为 0.6 个数量级" in r.message
