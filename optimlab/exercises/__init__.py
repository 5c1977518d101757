"""章末练习的自动检查。

每章一个模块（``optimlab.exercises.sgd``、``.adam`` ……），其中的 ``check_*`` 函数
用 optimlab 的优化器算出标准答案，与读者写的函数比较，并用中文说明对在哪里、错在哪里。
检查函数从不抛出异常：读者函数里的错误会被捕获并报告。
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

__all__ = ["Result", "compare", "call_user", "summarize", "noisy_steps", "step_from_state", "one_step_reference",
           "check_one_step"]


class Result:
    """一次检查的结果：``ok`` 为是否通过，``message`` 为给读者看的说明。在 Jupyter 中直接显示为文字。"""

    def __init__(self, ok: bool, message: str) -> None:
        self.ok = ok
        self.message = message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return ("✓ " if self.ok else "✗ ") + self.message


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def compare(label: str, got: Any, expected: torch.Tensor, rtol: float = 1e-6, atol: float = 1e-9) -> Result:
    """比较读者的结果 ``got`` 与标准答案 ``expected``，指出第一个不一致的元素。"""
    if got is None:
        return Result(False, f"{label}：函数返回了 None——还没有实现吗？")
    try:
        got_t = torch.as_tensor(got, dtype=expected.dtype)
    except (TypeError, ValueError, RuntimeError) as exc:
        return Result(False, f"{label}：无法把返回值转换成张量（{type(exc).__name__}: {exc}）")
    if got_t.shape != expected.shape:
        return Result(False, f"{label}：形状应为 {tuple(expected.shape)}，实际为 {tuple(got_t.shape)}")
    close = torch.isclose(got_t, expected, rtol=rtol, atol=atol)
    if bool(close.all()):
        return Result(True, f"{label}：正确")
    idx = tuple(int(i) for i in torch.nonzero(~close)[0])
    where = f"[{', '.join(map(str, idx))}]" if idx else ""
    return Result(
        False,
        f"{label}：第一个不一致的元素是 {label}{where}，你的结果 {_fmt(float(got_t[idx]))}，"
        f"应为 {_fmt(float(expected[idx]))}（共 {int((~close).sum())} 个元素不一致）",
    )


def call_user(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Result | None]:
    """调用读者的函数；出错时返回 ``(None, Result)``，把异常变成一句说明而不是 traceback。"""
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError:
        return None, Result(False, "还没有实现：把函数体里的 `raise NotImplementedError` 换成你的代码")
    except Exception as exc:  # noqa: BLE001 —— 读者代码的任何错误都应报告而不是中断检查
        return None, Result(False, f"你的函数抛出了 {type(exc).__name__}: {exc}")


def summarize(results: list[Result]) -> Result:
    """把多项检查合并成一条结果：全部通过才算通过，否则报告第一条失败。"""
    for r in results:
        if not r.ok:
            return r
    return Result(True, "全部正确（" + "；".join(r.message for r in results) + "）")


def noisy_steps(make_optimizer: Callable[[list[torch.Tensor]], torch.optim.Optimizer], steps: int, seed: int,
                n: int = 4) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor, torch.optim.Optimizer]]:
    """标准答案的轨迹：float64 参数 :math:`\\theta_0 \\sim N(0, I_n)`，梯度为带噪声的 :math:`\\theta`
    （即 :math:`\\tfrac12\\lVert\\theta\\rVert^2` 的梯度加 :math:`N(0, 0.25)` 噪声），用固定种子生成。

    每步产生 ``(t, θ_{t−1}, g_t, p, optimizer)``，此时 ``optimizer.step()`` 已经执行，``p`` 是 :math:`\\theta_t`。
    """
    gen = torch.Generator().manual_seed(seed)
    p = torch.randn(n, generator=gen, dtype=torch.float64).requires_grad_(True)
    opt = make_optimizer([p])
    for t in range(1, steps + 1):
        theta = p.detach().clone()
        grad = theta + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64)
        p.grad = grad.clone()
        opt.step()
        yield t, theta, grad, p, opt


def step_from_state(optimizer: Callable[..., torch.optim.Optimizer], theta: Any, grad: Any, state: dict[str, Any],
                    **hparams: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """标准答案的一步：``optimizer([θ], **hparams)`` 从给定状态出发，用梯度 ``grad`` 做一次 ``step()``。

    ``θ``、``grad`` 与 ``state`` 中的张量状态都转成 float64，``state["step"]`` 是已走的步数（torch 的标量张量）。
    返回 :math:`\\theta_t` 与更新后的状态（张量的副本）。
    """
    p = torch.tensor(theta, dtype=torch.float64)
    opt = optimizer([p], **hparams)
    opt.state[p] = {k: torch.tensor(float(v)) if k == "step" else torch.tensor(v, dtype=torch.float64)
                    for k, v in state.items()}
    p.grad = torch.tensor(grad, dtype=torch.float64)
    opt.step()
    return p.detach().clone(), {k: v.clone() for k, v in opt.state[p].items()}


def one_step_reference(optimizer: Callable[..., torch.optim.Optimizer], states: tuple[str, str],
                       hparams: tuple[str, ...]) -> Callable[..., tuple[torch.Tensor, ...]]:
    """标准答案 ``reference(θ, g, s₁, s₂, t, *取值) -> (θ_t, s₁_t, s₂_t)``：``optimizer`` 从已走 ``t − 1`` 步、
    状态 ``states`` 为 ``(s₁, s₂)`` 处做第 ``t`` 步（:func:`step_from_state`），``取值`` 依次是超参数 ``hparams``。"""

    def reference(theta, grad, s1, s2, t, *values) -> tuple[torch.Tensor, ...]:
        theta_t, st = step_from_state(optimizer, theta, grad, {"step": t - 1, states[0]: s1, states[1]: s2},
                                      **dict(zip(hparams, values)))
        return theta_t, st[states[0]], st[states[1]]

    return reference


def check_one_step(fn: Callable[..., Any], cases: Sequence[tuple], reference: Callable[..., tuple],
                   labels: tuple[str, str, str], returns: str, describe: Callable[..., str],
                   done: Callable[..., str], source: str) -> Result:
    """一步更新练习的共同检查。

    ``cases`` 每项的前四个值（:math:`\\theta_{t-1}`、:math:`g_t` 与两个状态）以 float64 张量、其余原样交给
    ``fn``；``fn`` 应返回三元组 ``returns``\\ （:math:`\\theta_t` 与两个新状态），依次与 ``reference(*case)``
    比较两个状态与 :math:`\\theta_t`\\ （显示名 ``labels``），报告第一个不一致的量与元素。
    ``describe(*case)`` 与 ``done(*case)`` 是失败与通过时这组数据的说明。从不抛出异常。
    """
    passed = []
    for k, case in enumerate(cases, start=1):
        args = [torch.tensor(a, dtype=torch.float64) for a in case[:4]]
        got, err = call_user(fn, *args, *case[4:])
        if err is not None:
            return err
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            return Result(False, f"第 {k} 组：函数应返回三元组 {returns}，实际返回了 {type(got).__name__}")
        expected = reference(*case)
        result = summarize([compare(labels[i], got[i], expected[i]) for i in (1, 2, 0)])
        if not result.ok:
            return Result(False, f"第 {k} 组（{describe(*case)}）—— {result.message}")
        passed.append(f"第 {k} 组{done(*case)}")
    return Result(True, f"与 {source} 一致（" + "、".join(passed) + "）")
