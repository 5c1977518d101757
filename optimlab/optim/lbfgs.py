"""L-BFGS（Liu & Nocedal, 1989）；强 Wolfe 线搜索见 Nocedal & Wright (2006)，算法 3.5、3.6 与 7.4。"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .base import BaseOptimizer, as_scalar, check_nonnegative, check_tensor_lr, real_view

__all__ = ["LBFGS"]


def _cubic_interpolate(a, f_a, gtd_a, b, f_b, gtd_b, bounds=None):
    """第 (9) 行：过两点 :math:`(a, \\phi_a, \\phi'_a)`、:math:`(b, \\phi_b, \\phi'_b)` 的三次多项式的极小点。

    结果截断到 ``bounds``\\ （默认是两点之间的区间）内；:math:`d_2` 的根号下为负（三次式没有极小点）
    时取区间中点。第 (9) 行的 :math:`b` 是较大的那个点，``a > b`` 时两点互换角色。
    """
    lo, hi = bounds if bounds is not None else ((a, b) if a <= b else (b, a))
    d1 = gtd_a + gtd_b - 3 * (f_a - f_b) / (a - b)  # (9) d₁
    d2_square = d1**2 - gtd_a * gtd_b
    if d2_square >= 0:
        d2 = d2_square.sqrt()  # (9) d₂
        if a <= b:
            t = b - (b - a) * ((gtd_b + d2 - d1) / (gtd_b - gtd_a + 2 * d2))  # (9)
        else:
            t = a - (a - b) * ((gtd_a + d2 - d1) / (gtd_a - gtd_b + 2 * d2))  # (9)
        return min(max(t, lo), hi)
    return (lo + hi) / 2.0


def _bracket(phi, t, f, g, gtd, c1, c2, max_ls):
    """外推阶段（Nocedal & Wright 算法 3.5）：增大步长，直到找到满足强 Wolfe 条件的点或包含它的区间。

    ``phi(t)`` 返回 :math:`(\\phi(t), \\nabla f, \\phi'(t))`；每个点记作元组 ``(t, f, g, gtd)``。
    返回 ``(points, done, ls_iter)``：``done`` 为真时 ``points`` 只有那个满足条件的点；否则是区间的两个端点。
    用完 ``max_ls`` 次仍无结果时，区间取 :math:`[0, t]`\\ （之后取两端中函数值较小的一端，可能是 0）。
    """
    f_new, g_new, gtd_new = phi(t)
    prev = (0, f, g, gtd)
    ls_iter = 0
    while ls_iter < max_ls:
        # 充分下降不成立，或（从第三个试探点起）函数值不再下降：极小点在 [t_prev, t] 内
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= prev[1]):
            return [prev, (t, f_new, g_new, gtd_new)], False, ls_iter
        if abs(gtd_new) <= -c2 * gtd:  # (8) 强 Wolfe 曲率条件成立
            return [(t, f_new, g_new, gtd_new)], True, ls_iter
        if gtd_new >= 0:  # 方向导数变号：极小点在 [t_prev, t] 内
            return [prev, (t, f_new, g_new, gtd_new)], False, ls_iter
        # 外推：在 [t + 0.01(t − t_prev), 10t] 内取三次插值的极小点
        bounds = (t + 0.01 * (t - prev[0]), t * 10)
        t_next = _cubic_interpolate(prev[0], prev[1], prev[3], t, f_new, gtd_new, bounds=bounds)
        prev = (t, f_new, g_new, gtd_new)
        t = t_next
        f_new, g_new, gtd_new = phi(t)
        ls_iter += 1
    return [(0, f, g, gtd), (t, f_new, g_new, gtd_new)], False, ls_iter


def _zoom(phi, points, done, ls_iter, f, gtd, d_norm, c1, c2, tolerance_change, max_ls):
    """缩小阶段（Nocedal & Wright 算法 3.6）：在区间内用三次插值找满足强 Wolfe 条件的点。

    ``points`` 的两个端点中函数值较小的是 low，另一个是 high。插值点离端点太近（不到区间长度的
    0.1）且上一次也如此时，把它移到离最近端点 0.1 倍区间长度处，保证区间确实在缩小。
    区间长度乘 :math:`\\|d\\|_\\infty` 小于 ``tolerance_change`` 时放弃。返回 low 端点 ``(t, f, g, gtd)``。
    """
    low, high = (0, 1) if points[0][1] <= points[-1][1] else (1, 0)
    insuf_progress = False
    while not done and ls_iter < max_ls:
        a, b = points[0][0], points[1][0]
        if abs(b - a) * d_norm < tolerance_change:  # 区间已经太小
            break
        t = _cubic_interpolate(a, points[0][1], points[0][3], b, points[1][1], points[1][3])  # (9)
        t_max, t_min = max(a, b), min(a, b)
        eps = 0.1 * (t_max - t_min)
        if min(t_max - t, t - t_min) < eps:  # 插值点贴近端点
            if insuf_progress or t >= t_max or t <= t_min:
                t = t_max - eps if abs(t - t_max) < abs(t - t_min) else t_min + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new, gtd_new = phi(t)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= points[low][1]:
            # 充分下降不成立，或不比 low 低：新点成为 high
            points[high] = (t, f_new, g_new, gtd_new)
            low, high = (0, 1) if points[0][1] <= points[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:  # (8) 强 Wolfe 条件成立
                done = True
            elif gtd_new * (points[high][0] - points[low][0]) >= 0:
                points[high] = points[low]  # 原来的 low 成为 high
            points[low] = (t, f_new, g_new, gtd_new)  # 新点成为 low
    return points[low], ls_iter


def _strong_wolfe(phi, d, t, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """第 (8) 行：强 Wolfe 线搜索，先外推（:func:`_bracket`）再缩小（:func:`_zoom`）。

    ``phi(t)`` 返回 :math:`(f(\\theta + t d), \\nabla f(\\theta + t d))`。返回
    ``(f_new, g_new, t, 求值次数)``；每次迭代恰好求值一次，所以求值次数是迭代次数加 1。
    """
    d_norm = d.abs().max()

    def phi_d(t):
        f_new, g_new = phi(t)
        return f_new, g_new, g_new.dot(d)  # φ'(t) = ∇f(θ + td)ᵀd

    points, done, ls_iter = _bracket(phi_d, t, f, g, gtd, c1, c2, max_ls)
    (t, f_new, g_new, _), ls_iter = _zoom(phi_d, points, done, ls_iter, f, gtd, d_norm, c1, c2, tolerance_change,
                                          max_ls)
    return f_new, g_new, t, ls_iter + 1


class LBFGS(BaseOptimizer):
    r"""L-BFGS：用最近 :math:`m` 对 :math:`(s_i, y_i)` 隐式表示逆 Hessian 的拟牛顿法。

    记号见书中的《符号表》；这里 :math:`k` 是迭代次数，:math:`t_k` 是 **步长**\ （torch 的状态键 ``t``），
    不是其他章节里的步数 :math:`t`。每一行右侧的编号与 ``step`` 中的注释一一对应。所有参数展平、拼接成
    一个向量 :math:`\theta`\ （复数参数按实部、虚部展开）。一次 ``step(closure)`` 最多做
    :math:`K` 次迭代，:math:`k` 跨 ``step`` 连续计数，历史 :math:`(s_i, y_i)` 也跨 ``step`` 保留。

    .. math::

       \begin{aligned}
       &\textbf{输入：}\eta\ (\texttt{lr}),\ K\ (\texttt{max\_iter}),\ m\ (\texttt{history\_size}),
        \ \epsilon_g\ (\texttt{tolerance\_grad}),\ \epsilon_f\ (\texttt{tolerance\_change}),\ \theta_0;
        \quad \gamma_0 = 1 \\
       &\textbf{for } k = 0, 1, \dots \\
       &\quad g_k = \nabla f(\theta_k);\quad \|g_k\|_\infty \le \epsilon_g \text{ 时停止} && (1)\\
       &\quad s_{k-1} = t_{k-1} d_{k-1},\qquad y_{k-1} = g_k - g_{k-1} && (2)\\
       &\quad \text{若 } y_{k-1}^\top s_{k-1} > 10^{-10}:\ \text{存入 } (s_{k-1}, y_{k-1},
              \rho_{k-1} = 1/y_{k-1}^\top s_{k-1})\text{（满 } m \text{ 对时丢掉最旧的），}
              \ \gamma_k = \frac{s_{k-1}^\top y_{k-1}}{y_{k-1}^\top y_{k-1}} && (3)\\
       &\quad q = -g_k;\quad \textbf{for } i = \text{最新}, \dots, \text{最旧}:
              \ \alpha_i = \rho_i\, s_i^\top q,\ \ q \leftarrow q - \alpha_i y_i && (4)\\
       &\quad r = \gamma_k q;\quad \textbf{for } i = \text{最旧}, \dots, \text{最新}:
              \ \beta_i = \rho_i\, y_i^\top r,\ \ r \leftarrow r + (\alpha_i - \beta_i)\, s_i;
              \quad d_k = r\quad(k = 0 \text{ 时 } d_0 = -g_0) && (5)\\
       &\quad t_k = \eta\quad(k = 0 \text{ 时 } t_0 = \min(1, 1/\|g_0\|_1)\,\eta) && (6)\\
       &\quad g_k^\top d_k > -\epsilon_f \text{ 时停止} && (7)\\
       &\quad \text{（强 Wolfe）从 } t_k \text{ 出发找 } t \text{ 使 } \phi(t) = f(\theta_k + t d_k)
              \text{ 满足 } \phi(t) \le \phi(0) + c_1 t \phi'(0),\ |\phi'(t)| \le c_2 |\phi'(0)| && (8)\\
       &\quad \text{三次插值：}d_1 = \phi'_a + \phi'_b - 3\frac{\phi_a - \phi_b}{a - b},\ 
              d_2 = \sqrt{d_1^2 - \phi'_a\phi'_b},\ 
              t = b - (b - a)\frac{\phi'_b + d_2 - d_1}{\phi'_b - \phi'_a + 2 d_2} && (9)\\
       &\quad \theta_{k+1} = \theta_k + t_k d_k && (10)\\
       &\quad \|t_k d_k\|_\infty \le \epsilon_f \text{ 或 } |f(\theta_{k+1}) - f(\theta_k)| < \epsilon_f
              \text{ 或求值次数} \ge \texttt{max\_eval} \text{ 时停止} && (11)
       \end{aligned}

    与论文（Liu & Nocedal, 1989；Nocedal & Wright 算法 7.4、3.5、3.6）的差别：

    * 默认 ``line_search_fn=None``：**没有线搜索**，固定步长 :math:`t_k = \eta`\ （``lr`` 默认 1），
      所以不保证 :math:`y^\top s > 0`；torch 用 :math:`y^\top s > 10^{-10}` 过滤曲率对，不满足时
      既不存入这一对，也不更新 :math:`\gamma`。
    * 整个优化的第一次迭代（不是每个 ``step`` 的第一次）步长是 :math:`\min(1, 1/\|g_0\|_1)\,\eta`\ （来自 minFunc）。
    * ``step`` 返回的是 **开始时** 的损失；无线搜索时最后一次迭代不再求值，:math:`g` 与 :math:`f` 停在上一点。
    * 历史跨 ``step`` 保留：若 ``closure`` 每次换一个小批量，:math:`y` 就是两个不同函数的梯度之差。
    * 线搜索的 :math:`c_1 = 10^{-4}`、:math:`c_2 = 0.9` 写死；可用的求值次数是 ``max_eval`` 减去本次
      ``step`` 已用的次数；外推阶段不是算法 3.5 的"任取更大的步长"，而是在 :math:`[t + 0.01(t - t_{prev}), 10t]`
      内取三次插值的极小点；"函数值不再下降"这一判据从第三个试探点才开始检查（算法 3.5 从第二个）。
    * 缩小阶段的放弃条件 :math:`|b - a|\,\|d\|_\infty < 10^{-9}` 用的是写死的 :math:`10^{-9}`，**不是**
      ``tolerance_change``\ ；外推用完求值次数时，在 :math:`\{0, t\}` 中取函数值较小者，可能原地不动。

    参数与 ``torch.optim.LBFGS``\ （torch 2.13）完全相同，没有 ``foreach``、``maximize`` 等开关；
    只能有一个参数组；``step`` 必须传入 ``closure``。稀疏梯度先转成稠密梯度。

    Args:
        params: 待优化的参数（只能有一个参数组）。
        lr (float | Tensor): 学习率 :math:`\eta`\ （初始步长），默认 1。
        max_iter (int): 每个 ``step`` 的最大迭代次数 :math:`K`，默认 20。
        max_eval (int | None): 每个 ``step`` 的最大求值次数，默认 ``max_iter * 5 // 4``。
        tolerance_grad (float): :math:`\epsilon_g`，默认 1e-7。
        tolerance_change (float): :math:`\epsilon_f`，默认 1e-9。
        history_size (int): 保存的曲率对数 :math:`m`，默认 100。
        line_search_fn (str | None): ``"strong_wolfe"`` 或 ``None``\ （默认）。
    """

    _scalar_state = {}  # 没有 step 这类需要转换的标量状态

    def __init__(self, params, lr: float | Tensor = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        # 参数检查：顺序与报错信息同 torch.optim.LBFGS。
        check_tensor_lr(lr)
        check_nonnegative(lr=lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    @property
    def _params(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    def _flat_grad(self) -> Tensor:
        """所有参数的梯度拼成一个向量（``.grad`` 为 None 的参数记 0，复数展开成实部、虚部）。"""
        views = []
        for p in self._params:
            if p.grad is None:
                view = p.new_zeros(p.numel())
            elif p.grad.is_sparse:
                view = p.grad.to_dense().view(-1)
            else:
                view = p.grad.view(-1)
            views.append(real_view(view)[0].view(-1))
        return torch.cat(views, 0)

    def _add_to_params(self, t: Any, d: Tensor) -> None:
        """:math:`\\theta \\leftarrow \\theta + t\\,d`，``d`` 按参数顺序切回各个参数的形状。"""
        offset = 0
        for p in self._params:
            (p,) = real_view(p)
            p.add_(d[offset : offset + p.numel()].view_as(p), alpha=t)
            offset += p.numel()

    def _evaluate_at(self, closure: Callable, x: list[Tensor], t: Any, d: Tensor) -> tuple[float, Tensor]:
        """线搜索的一次求值：在 :math:`x + t d` 处算损失与梯度，然后把参数恢复成 ``x``。"""
        self._add_to_params(t, d)
        loss = float(closure())
        flat_grad = self._flat_grad()
        for p, x_p in zip(self._params, x, strict=True):
            p.copy_(x_p)
        return loss, flat_grad

    @torch.no_grad()
    def step(self, closure):  # type: ignore[override]
        """执行一个 ``step``：最多 ``max_iter`` 次 L-BFGS 迭代。返回开始时的损失。

        Args:
            closure (Callable): 清零梯度、重新计算损失、反向传播并返回损失的闭包（必需）。
        """
        if len(self.param_groups) != 1:
            raise AssertionError(f"Expected exactly one param_group, but got {len(self.param_groups)}")
        closure = torch.enable_grad()(closure)  # 无论在哪里调用，闭包都在启用梯度的环境下运行
        group = self.param_groups[0]
        lr = as_scalar(group["lr"])
        max_iter, max_eval, history_size = group["max_iter"], group["max_eval"], group["history_size"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn = group["line_search_fn"]

        # 状态是全局的，但挂在第一个参数上（同 torch），load_state_dict 才会按参数转换 dtype 与设备
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()  # (1) g_k
        opt_cond = flat_grad.abs().max() <= tolerance_grad  # (1) ‖g‖∞ ≤ ε_g
        if opt_cond:
            return orig_loss

        d, t, H_diag = state.get("d"), state.get("t"), state.get("H_diag")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = flat_grad.neg()  # (5) d₀ = −g₀
                old_dirs, old_stps, ro, H_diag = [], [], [], 1  # 空历史，γ₀ = 1
            else:
                y = flat_grad.sub(prev_flat_grad)  # (2) y = g_k − g_{k−1}
                s = d.mul(t)  # (2) s = t d
                ys = y.dot(s)  # (3) yᵀs
                if ys > 1e-10:
                    if len(old_dirs) == history_size:  # (3) 满 m 对：丢掉最旧的
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)  # (3) ρ = 1/yᵀs
                    H_diag = ys / y.dot(y)  # (3) γ = sᵀy/yᵀy

                al = state.setdefault("al", [None] * history_size)
                q = flat_grad.neg()  # (4) q = −g_k
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]  # (4) α_i = ρ_i s_iᵀq
                    q.add_(old_dirs[i], alpha=-al[i])  # (4) q ← q − α_i y_i
                d = r = q.mul(H_diag)  # (5) r = γq
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(r) * ro[i]  # (5) β_i = ρ_i y_iᵀr
                    r.add_(old_stps[i], alpha=al[i] - be_i)  # (5) r ← r + (α_i − β_i)s_i

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone(memory_format=torch.contiguous_format)
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss

            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / flat_grad.abs().sum()) * lr  # (6) t₀ = min(1, 1/‖g₀‖₁)η
            else:
                t = lr  # (6) t_k = η
            gtd = flat_grad.dot(d)  # (7) g_kᵀd_k
            if gtd > -tolerance_change:  # (7) 不是下降方向
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = [p.clone(memory_format=torch.contiguous_format) for p in self._params]

                def phi(t, x_init=x_init, d=d):
                    return self._evaluate_at(closure, x_init, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    phi, d, t, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )  # (8)(9)
                self._add_to_params(t, d)  # (10) θ ← θ + t d
                opt_cond = flat_grad.abs().max() <= tolerance_grad  # (1)
            else:
                self._add_to_params(t, d)  # (10) θ ← θ + t d
                if n_iter != max_iter:  # 最后一次迭代不再求值
                    loss = float(closure())
                    flat_grad = self._flat_grad()  # (1) g_{k+1}
                    opt_cond = flat_grad.abs().max() <= tolerance_grad  # (1)
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:  # (11)(1)
                break
            if d.mul(t).abs().max() <= tolerance_change:  # (11) ‖t d‖∞ ≤ ε_f
                break
            if abs(loss - prev_loss) < tolerance_change:  # (11) |Δf| < ε_f
                break

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss
