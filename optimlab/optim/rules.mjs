/**
 * optimlab 更新规则的浏览器副本（静态页面上的探索器用它在读者的浏览器里重新计算）。
 *
 * 每个 `update` 逐行对应 optimlab/optim/<名称>.py 中 `_update` 的同编号一行（`// (k)` 注释与 Python 的
 * `# (k)` 顺序相同，tests/test_browser_math.py 逐个优化器核对编号序列），公式只写在 Python 的文档字符串里。
 * 运算顺序与 torch 在 CPU 上的 float64 内核相同（测试在 Chromium 中与 optimlab 逐步比对，绝大多数设置逐位相同；
 * 例外只有两处平台差别：torch 的 sqrt 走 MKL，glibc 的 pow，二者偶尔与正确舍入差 1 ulp，见该测试的说明）：
 *   x.add(y, alpha=c)        → fma(c, y, x)          （torch 的标量核被编译成一次 FMA）
 *   x.addcmul(y, z, value=c) → fma(c * y, z, x)
 *   x.addcdiv(y, z, value=c) → x + (c * y) / z
 *   x.lerp(y, w)             → |w| < 0.5 ? fma(w, y − x, x) : fma(−(y − x), 1 − w, y)
 *   Python 中的 a ** b       → pow(a, b)（正确舍入；Math.pow 常差 1 ulp）
 *   sqrt                     → Math.sqrt（IEEE 754）
 * step、mu_product、ASGD 的 eta/mu 等标量状态与 optimlab 一样是 float32（Math.fround）。
 *
 * API（U、surfaces.mjs 与 problems.mjs 据此编程）：
 *
 *   export const RULES = {SGD, Adam, AdamW, NAdam, RMSprop, Adagrad, RAdam, Adamax, Adadelta, ASGD, Rprop, Adafactor}
 *   RULES[name] = {
 *     defaults,                // torch 的默认超参数（键名同 torch：lr, momentum, dampening, nesterov,
 *                              // weight_decay, maximize, betas: [β₁, β₂], eps, amsgrad, momentum_decay,
 *                              // decoupled_weight_decay, alpha, centered, lr_decay, initial_accumulator_value,
 *                              // rho, lambd, t0, etas: [η₋, η₊], step_sizes: [min, max], beta2_decay, d）
 *     validate(hp),            // 非法超参数：throw new Error(与 torch 的 ValueError 一字不差的信息)
 *     init(n, hp) -> state,    // 长度 n 的参数的状态（普通对象，键名同 torch 的 state：step, exp_avg, …）
 *     update(p, g, state, hp), // 一步：原地更新 Float64Array p；g 是梯度（Float64Array，不会被修改）
 *   }
 *   hp 须是完整的超参数（用 hparams(name, hp) 补上默认值）。
 *
 *   export function hparams(name, hp) -> {...RULES[name].defaults, ...hp}（未知的优化器或超参数名：throw Error）
 *   export function optimizer(name, hp, n = 2) -> {name, hp, state, step(p, g)}
 *                            // 补默认值、validate、init；非法超参数时抛出 validate 的 Error
 *   export { fma, pow, f32, pyFloat }  // 来自 ./exact.mjs：a·b + c 只舍入一次；正确舍入的 x^y；
 *                                      // float32 舍入；Python 的 str(float)（1e-05、-1.0、nan）
 */

import { f32, fma, pow, pyFloat } from "./exact.mjs";

export { f32, fma, pow, pyFloat };

// ------------------------------------------------------------------------------------------------
// 长度为 n 的 Float64Array 上的 torch 运算（名字同 torch；带 _ 的原地修改并返回第一个参数）
// ------------------------------------------------------------------------------------------------

// 每个运算各写一个循环（共用一个带回调的 map 时，V8 无法内联回调，慢数倍）
const zeros = (n) => new Float64Array(n);
const full = (n, v) => new Float64Array(n).fill(v);
const clone = (x) => Float64Array.from(x);
const like = (x) => new Float64Array(x.length);
const at = (v, i) => (typeof v === "number" ? v : v[i]);

function neg(x) { const o = like(x); for (let i = 0; i < x.length; i++) o[i] = -x[i]; return o; }
function add(x, y, alpha = 1) { return add_(clone(x), y, alpha); }
function add_(x, y, alpha = 1) { for (let i = 0; i < x.length; i++) x[i] = fma(alpha, at(y, i), x[i]); return x; } // x + αy：torch 的标量核是一次 FMA
function sub(x, y) { const o = like(x); for (let i = 0; i < x.length; i++) o[i] = x[i] - y[i]; return o; }
function mul(x, y) { return mul_(clone(x), y); }
function mul_(x, y) { for (let i = 0; i < x.length; i++) x[i] *= at(y, i); return x; }
function div(x, y) { return div_(clone(x), y); }
function div_(x, y) { for (let i = 0; i < x.length; i++) x[i] /= at(y, i); return x; }
function sqrt(x) { const o = like(x); for (let i = 0; i < x.length; i++) o[i] = Math.sqrt(x[i]); return o; }
function abs(x) { const o = like(x); for (let i = 0; i < x.length; i++) o[i] = Math.abs(x[i]); return o; }
function sign(x) { const o = like(x); for (let i = 0; i < x.length; i++) o[i] = x[i] > 0 ? 1 : x[i] < 0 ? -1 : 0; return o; } // 同 torch：sign(NaN) = 0
function addcmul(x, y, z, value = 1) { return addcmul_(clone(x), y, z, value); }
function addcmul_(x, y, z, value = 1) { for (let i = 0; i < x.length; i++) x[i] = fma(value * y[i], z[i], x[i]); return x; } // x + v·y·z
function addcdiv_(x, y, z, value = 1) { for (let i = 0; i < x.length; i++) x[i] += (value * y[i]) / z[i]; return x; } // x + (v·y)/z
function lerp_(x, y, w) { // torch 的 lerp 公式
  for (let i = 0; i < x.length; i++) {
    const d = y[i] - x[i];
    x[i] = Math.abs(w) < 0.5 ? fma(w, d, x[i]) : fma(-d, 1 - w, y[i]);
  }
  return x;
}
function maximum_(out, a, b) { for (let i = 0; i < out.length; i++) out[i] = Math.max(a[i], b[i]); return out; } // NaN 传播，同 torch.maximum
function clamp_(x, lo, hi = Infinity) { for (let i = 0; i < x.length; i++) x[i] = Math.min(Math.max(x[i], lo), hi); return x; }
function rsqrt_(x) { for (let i = 0; i < x.length; i++) x[i] = 1 / Math.sqrt(x[i]); return x; }
function copy_(x, y) { x.set(y); return x; }
function norm(x) { let s = 0; for (let i = 0; i < x.length; i++) s = fma(x[i], x[i], s); return Math.sqrt(s); } // 同 torch 的 2-范数核
function where_(x, mask, value) { for (let i = 0; i < x.length; i++) if (mask(i)) x[i] = value; return x; } // x[mask] = value

// 构造函数的参数检查（报错信息同 torch / optimlab.optim.base）
function fail(message) {
  throw new Error(message);
}
const NONNEGATIVE = { lr: "Invalid learning rate: ", eps: "Invalid epsilon value: " };
function checkNonnegative(hp, ...names) {
  for (const name of names) if (!(0.0 <= hp[name])) fail(`${NONNEGATIVE[name] ?? `Invalid ${name} value: `}${pyFloat(hp[name])}`);
}
function checkBetas(betas) {
  for (const i of [0, 1]) if (!(0.0 <= betas[i] && betas[i] < 1.0)) fail(`Invalid beta parameter at index ${i}: ${pyFloat(betas[i])}`);
}

// ------------------------------------------------------------------------------------------------
// 更新规则：update 的每一行对应 optimlab/optim/<名称>.py 中 _update 的同编号一行（参数名同 Python）
// ------------------------------------------------------------------------------------------------

const SGD = {
  defaults: { lr: 1e-3, momentum: 0, dampening: 0, weight_decay: 0, nesterov: false, maximize: false },
  validate(hp) {
    if (hp.lr < 0.0) fail(`Invalid learning rate: ${pyFloat(hp.lr)}`);
    if (hp.momentum < 0.0) fail(`Invalid momentum value: ${pyFloat(hp.momentum)}`);
    if (hp.weight_decay < 0.0) fail(`Invalid weight_decay value: ${pyFloat(hp.weight_decay)}`);
    if (hp.nesterov && (hp.momentum <= 0 || hp.dampening !== 0)) fail("Nesterov momentum requires a momentum and zero dampening");
  },
  init: () => ({}), // 动量缓冲在第一次更新时由梯度本身创建，见 update 的 (3)
  update(param, grad, state, group) {
    const lr = group.lr;
    const { weight_decay, momentum } = group;

    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    if (weight_decay !== 0) grad = add(grad, param, weight_decay); // (2) g_t ← g_t + λθ

    if (momentum !== 0) {
      let buf = state.momentum_buffer;
      if (buf === undefined) {
        buf = clone(grad); // (3) b_1 = g_1
        state.momentum_buffer = buf;
      } else {
        add_(mul_(buf, momentum), grad, 1 - group.dampening); // (3) b_t = μb + (1 − τ)g
      }
      if (group.nesterov) grad = add(grad, buf, momentum); // (4) d_t = g_t + μb_t
      else grad = buf; // (4) d_t = b_t
    }

    add_(param, grad, -lr); // (5) θ_t = θ − η d_t
  },
};

/** optimlab.optim.adam.bias_corrections：1 − β₁ᵗ 与 √(1 − β₂ᵗ)。 */
const biasCorrections = (beta1, beta2, t) => [1 - pow(beta1, t), pow(1 - pow(beta2, t), 0.5)];

const ADAM_DEFAULTS = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: false, maximize: false, decoupled_weight_decay: false };
function validateAdam(hp) {
  checkNonnegative(hp, "lr", "eps");
  checkBetas(hp.betas);
  checkNonnegative(hp, "weight_decay");
}
function initAdam(n, hp) {
  const state = { step: 0, exp_avg: zeros(n), exp_avg_sq: zeros(n) };
  if (hp.amsgrad) state.max_exp_avg_sq = zeros(n);
  return state;
}

const Adam = {
  defaults: ADAM_DEFAULTS,
  validate: validateAdam,
  init: initAdam,
  update(param, grad, state, group) {
    const lr = group.lr;
    const [beta1, beta2] = group.betas;
    const { weight_decay, eps, amsgrad } = group;
    let { exp_avg, exp_avg_sq } = state;
    const max_exp_avg_sq = state.max_exp_avg_sq;

    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    state.step = f32(state.step + 1); // t ← t + 1

    if (weight_decay !== 0) {
      if (group.decoupled_weight_decay) mul_(param, 1 - lr * weight_decay); // (2) θ ← (1 − ηλ)θ   (AdamW)
      else grad = add(grad, param, weight_decay); // (2) g_t ← g_t + λθ   (L2)
    }

    lerp_(exp_avg, grad, 1 - beta1); // (3) m_t = β₁m + (1 − β₁)g
    addcmul_(mul_(exp_avg_sq, beta2), grad, grad, 1 - beta2); // (4) v_t = β₂v + (1 − β₂)g²

    const t = state.step;
    const [bias_correction1, bias_correction2_sqrt] = biasCorrections(beta1, beta2, t); // (6) 1 − β₁ᵗ, √(1 − β₂ᵗ)
    const step_size = lr / bias_correction1; // (7) η / (1 − β₁ᵗ)

    if (amsgrad) {
      maximum_(max_exp_avg_sq, max_exp_avg_sq, exp_avg_sq); // (5) vᵐᵃˣ = max(vᵐᵃˣ, v_t)
      exp_avg_sq = max_exp_avg_sq;
    }

    const denom = add_(div(sqrt(exp_avg_sq), bias_correction2_sqrt), eps); // (6)(7) √v̂_t + ε
    addcdiv_(param, exp_avg, denom, -step_size); // (7) θ_t = θ − η m̂_t / (√v̂_t + ε)
  },
};

const AdamW = { ...Adam, defaults: { ...ADAM_DEFAULTS, weight_decay: 1e-2, decoupled_weight_decay: true } };

/** optimlab.optim.nadam.momentum_schedule：μ_t = β₁(1 − ½·0.96^{tψ})。 */
const momentumSchedule = (beta1, psi, t) => beta1 * (1.0 - 0.5 * pow(0.96, t * psi));

const NAdam = {
  defaults: { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, momentum_decay: 4e-3, decoupled_weight_decay: false, maximize: false },
  validate(hp) {
    checkNonnegative(hp, "lr", "eps");
    checkBetas(hp.betas);
    checkNonnegative(hp, "weight_decay", "momentum_decay");
  },
  init: (n) => ({ step: 0, mu_product: 1, exp_avg: zeros(n), exp_avg_sq: zeros(n) }),
  update(param, grad, state, group) {
    const lr = group.lr;
    const [beta1, beta2] = group.betas;
    const { weight_decay, eps, momentum_decay } = group;
    const { exp_avg, exp_avg_sq } = state;

    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    state.step = f32(state.step + 1); // t ← t + 1
    const t = state.step;
    const bias_correction2 = 1 - pow(beta2, t); // (7) 1 − β₂ᵗ

    if (weight_decay !== 0) {
      if (group.decoupled_weight_decay) mul_(param, 1 - lr * weight_decay); // (2) θ ← (1 − ηλ)θ
      else grad = add(grad, param, weight_decay); // (2) g_t ← g_t + λθ
    }

    const mu = momentumSchedule(beta1, momentum_decay, t); // (3) μ_t
    const mu_next = momentumSchedule(beta1, momentum_decay, t + 1); // (3) μ_{t+1}
    state.mu_product = f32(state.mu_product * f32(mu)); // (4) Π_t = Π_{t−1} μ_t（float32 张量乘 Python 数）

    lerp_(exp_avg, grad, 1 - beta1); // (5) m_t
    addcmul_(mul_(exp_avg_sq, beta2), grad, grad, 1 - beta2); // (6) v_t
    const denom = add_(sqrt(div(exp_avg_sq, bias_correction2)), eps); // (7)(8) √v̂_t + ε

    const mu_product_next = state.mu_product * mu_next; // (8) Π_t μ_{t+1}
    addcdiv_(param, grad, denom, (-lr * (1.0 - mu)) / (1.0 - state.mu_product)); // (8) 梯度项
    addcdiv_(param, exp_avg, denom, (-lr * mu_next) / (1.0 - mu_product_next)); // (8) 动量项
  },
};

const RMSprop = {
  defaults: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weight_decay: 0, momentum: 0, centered: false, maximize: false },
  validate: (hp) => checkNonnegative(hp, "lr", "eps", "momentum", "weight_decay", "alpha"),
  init(n, hp) {
    const state = { step: 0, square_avg: zeros(n) };
    if (hp.momentum > 0) state.momentum_buffer = zeros(n);
    if (hp.centered) state.grad_avg = zeros(n);
    return state;
  },
  update(param, grad, state, group) {
    const lr = group.lr;
    const { alpha, eps, weight_decay, momentum } = group;

    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    state.step = f32(state.step + 1); // t ← t + 1

    if (weight_decay !== 0) grad = add(grad, param, weight_decay); // (2) g_t ← g_t + λθ

    const square_avg = state.square_avg;
    addcmul_(mul_(square_avg, alpha), grad, grad, 1 - alpha); // (3) v_t = αv + (1 − α)g²

    let avg;
    if (group.centered) {
      const grad_avg = state.grad_avg;
      lerp_(grad_avg, grad, 1 - alpha); // (4) ḡ_t = αḡ + (1 − α)g
      avg = sqrt(addcmul(square_avg, grad_avg, grad_avg, -1)); // (4) √(v_t − ḡ_t²)
    } else {
      avg = sqrt(square_avg); // (4) √v_t
    }
    avg = add_(avg, eps); // (5)(6) √ṽ_t + ε

    if (momentum > 0) {
      const buf = state.momentum_buffer;
      addcdiv_(mul_(buf, momentum), grad, avg); // (5) b_t = μb + g/(√ṽ + ε)
      add_(param, buf, -lr); // (5) θ_t = θ − ηb_t
    } else {
      addcdiv_(param, grad, avg, -lr); // (6) θ_t = θ − ηg/(√ṽ + ε)
    }
  },
};

const Adagrad = {
  defaults: { lr: 1e-2, lr_decay: 0, weight_decay: 0, initial_accumulator_value: 0, eps: 1e-10, maximize: false },
  validate: (hp) => checkNonnegative(hp, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"),
  init: (n, hp) => ({ step: 0, sum: full(n, hp.initial_accumulator_value) }),
  update(param, grad, state, group) {
    const lr = group.lr;
    const { weight_decay, eps } = group;
    const state_sum = state.sum;

    state.step = f32(state.step + 1); // t ← t + 1
    const t = state.step;
    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    if (weight_decay !== 0) grad = add(grad, param, weight_decay); // (2) g_t ← g_t + λθ

    const clr = lr / (1 + (t - 1) * group.lr_decay); // (3) η̃_t

    addcmul_(state_sum, grad, grad, 1); // (4) s_t = s + g²
    const std = add_(sqrt(state_sum), eps); // (5) √s_t + ε
    addcdiv_(param, grad, std, -clr); // (5) θ_t = θ − η̃ g/(√s_t + ε)
  },
};

const RAdam = {
  defaults: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, decoupled_weight_decay: false, maximize: false },
  validate: validateAdam,
  init: (n) => ({ step: 0, exp_avg: zeros(n), exp_avg_sq: zeros(n) }),
  update(param, grad, state, group) {
    const lr = group.lr;
    const [beta1, beta2] = group.betas;
    const { weight_decay, eps } = group;
    const { exp_avg, exp_avg_sq } = state;

    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    state.step = f32(state.step + 1); // t ← t + 1
    const t = state.step;

    if (weight_decay !== 0) {
      if (group.decoupled_weight_decay) mul_(param, 1 - lr * weight_decay); // (2) θ ← (1 − ηλ)θ   (RAdamW)
      else grad = add(grad, param, weight_decay); // (2) g_t ← g_t + λθ   (L2)
    }

    lerp_(exp_avg, grad, 1 - beta1); // (3) m_t = β₁m + (1 − β₁)g
    addcmul_(mul_(exp_avg_sq, beta2), grad, grad, 1 - beta2); // (4) v_t = β₂v + (1 − β₂)g²

    const bias_correction1 = 1 - pow(beta1, t); // (5) 1 − β₁ᵗ
    const bias_correction2 = 1 - pow(beta2, t); // (6)(7) 1 − β₂ᵗ
    const bias_corrected_exp_avg = div(exp_avg, bias_correction1); // (5) m̂_t

    const rho_inf = 2 / (1 - beta2) - 1; // (6) ρ_∞
    const rho_t = rho_inf - (2 * t * pow(beta2, t)) / bias_correction2; // (6) ρ_t

    if (rho_t > 5.0) {
      const rect = pow(((rho_t - 4) * (rho_t - 2) * rho_inf) / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5); // (7) r_t
      const adaptive_lr = mul(div(full(param.length, 1), add_(sqrt(exp_avg_sq), eps)), pow(bias_correction2, 0.5)); // (7) l_t = √(1 − β₂ᵗ)/(√v_t + ε)（数 / 张量 = 倒数 × 数，同 torch）
      add_(param, mul(mul(mul(bias_corrected_exp_avg, lr), adaptive_lr), rect), -1.0); // (8) θ_t = θ − η m̂ l r
    } else {
      add_(param, mul(bias_corrected_exp_avg, lr), -1.0); // (9) θ_t = θ − η m̂_t
    }
  },
};

const Adamax = {
  defaults: { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, maximize: false },
  validate: validateAdam,
  init: (n) => ({ step: 0, exp_avg: zeros(n), exp_inf: zeros(n) }),
  update(param, grad, state, group) {
    const { lr, weight_decay, eps } = group;
    const [beta1, beta2] = group.betas;
    const { exp_avg, exp_inf } = state;

    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    state.step = f32(state.step + 1); // t ← t + 1

    if (weight_decay !== 0) grad = add(grad, param, weight_decay); // (2) g_t ← g_t + λθ

    lerp_(exp_avg, grad, 1 - beta1); // (3) m_t = β₁m + (1 − β₁)g
    maximum_(exp_inf, mul_(exp_inf, beta2), add_(abs(grad), eps)); // (4) u_t = max(β₂u, |g| + ε)

    const bias_correction = 1 - pow(beta1, state.step); // (5) 1 − β₁ᵗ
    const clr = lr / bias_correction; // (5) η / (1 − β₁ᵗ)
    addcdiv_(param, exp_avg, exp_inf, -clr); // (5) θ_t = θ − η m_t / ((1 − β₁ᵗ) u_t)
  },
};

const Adadelta = {
  defaults: { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0, maximize: false },
  validate(hp) {
    checkNonnegative(hp, "lr");
    if (!(0.0 <= hp.rho && hp.rho <= 1.0)) fail(`Invalid rho value: ${pyFloat(hp.rho)}`);
    checkNonnegative(hp, "eps", "weight_decay");
  },
  init: (n) => ({ step: 0, square_avg: zeros(n), acc_delta: zeros(n) }),
  update(param, grad, state, group) {
    const lr = group.lr;
    const { rho, eps, weight_decay } = group;
    const { square_avg, acc_delta } = state;

    state.step = f32(state.step + 1); // t ← t + 1（只计数）
    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    if (weight_decay !== 0) grad = add(grad, param, weight_decay); // (2) g_t ← g_t + λθ

    addcmul_(mul_(square_avg, rho), grad, grad, 1 - rho); // (3) v_t = ρv + (1 − ρ)g²
    const std = sqrt(add(square_avg, eps)); // (4) √(v_t + ε)
    const delta = sqrt(add(acc_delta, eps)); // (4) √(u_{t−1} + ε)
    mul_(div_(delta, std), grad); // (4) Δθ_t = √(u_{t−1} + ε)/√(v_t + ε) · g_t
    addcmul_(mul_(acc_delta, rho), delta, delta, 1 - rho); // (5) u_t = ρu + (1 − ρ)Δθ²
    add_(param, delta, -lr); // (6) θ_t = θ − ηΔθ_t
  },
};

const ASGD = {
  defaults: { lr: 1e-2, lambd: 1e-4, alpha: 0.75, t0: 1e6, weight_decay: 0, maximize: false },
  validate: (hp) => checkNonnegative(hp, "lr", "weight_decay"),
  init: (n, hp) => ({ step: 0, eta: f32(hp.lr), mu: 1, ax: zeros(n) }), // eta、mu 是 float32 标量
  update(param, grad, state, group) {
    const lr = group.lr;
    const { lambd, alpha, t0, weight_decay } = group;
    const ax = state.ax;

    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    state.step = f32(state.step + 1); // t ← t + 1

    if (weight_decay !== 0) grad = add(grad, param, weight_decay); // (2) g_t ← g_t + λθ

    const eta_value = state.eta; // η_t（上一步末尾算好的，float32 精度）
    mul_(param, 1 - lambd * eta_value); // (3) θ ← (1 − κη_t)θ
    add_(param, grad, -eta_value); // (3) θ_t = θ − η_t g_t

    if (state.mu !== 1) add_(ax, mul_(sub(param, ax), state.mu)); // (4) θ̄_t = θ̄ + μ_t(θ_t − θ̄)
    else copy_(ax, param); // (4) μ_t = 1：θ̄_t = θ_t

    const t = state.step;
    state.eta = f32(lr / pow(1 + lambd * lr * t, alpha)); // (5) η_{t+1} = η/(1 + κηt)^α
    state.mu = f32(1 / pyMax(1, t - t0)); // (6) μ_{t+1} = 1/max(1, t − t₀)
  },
};

const Rprop = {
  defaults: { lr: 1e-2, etas: [0.5, 1.2], step_sizes: [1e-6, 50], maximize: false },
  validate(hp) {
    checkNonnegative(hp, "lr");
    const [a, b] = hp.etas;
    if (!(0.0 < a && a < 1.0 && 1.0 < b)) fail(`Invalid eta values: ${pyFloat(a)}, ${pyFloat(b)}`);
  },
  init: (n, hp) => ({ step: 0, prev: zeros(n), step_size: full(n, hp.lr) }), // Δ₀ = η
  update(param, grad, state, group) {
    const [etaminus, etaplus] = group.etas;
    const [step_size_min, step_size_max] = group.step_sizes;
    const { prev, step_size } = state;

    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    state.step = f32(state.step + 1); // t ← t + 1

    const rho = sign(mul(grad, prev)); // (2) sign(g_t g̃_{t−1})
    where_(rho, (i) => rho[i] > 0, etaplus); // (2) 同号：η₊
    where_(rho, (i) => rho[i] < 0, etaminus); // (2) 异号：η₋
    where_(rho, (i) => rho[i] === 0, 1); // (2) 乘积为 0：1
    clamp_(mul_(step_size, rho), step_size_min, step_size_max); // (3) Δ_t = clip(ρ_t Δ_{t−1})
    grad = clone(grad);
    where_(grad, (i) => rho[i] === etaminus, 0); // (4) 异号处 g̃_t = 0
    addcmul_(param, sign(grad), step_size, -1); // (5) θ_t = θ − Δ_t sign(g̃_t)
    copy_(prev, grad); // (4) 保存 g̃_t
  },
};

const pyMax = (a, b) => (b > a ? b : a); // Python 的 max(a, b)
const pyMin = (a, b) => (b < a ? b : a); // Python 的 min(a, b)

const Adafactor = {
  defaults: { lr: 1e-2, beta2_decay: -0.8, eps: [null, 1e-3], d: 1.0, weight_decay: 0.0, maximize: false },
  validate(hp) {
    if (!(0.0 <= hp.lr)) fail(`Learning rate should be >= 0 but is: ${pyFloat(hp.lr)}`);
    if (!(0.0 >= hp.beta2_decay)) fail(`beta2_decay should be <= 0 but is: ${pyFloat(hp.beta2_decay)}`);
    if (hp.eps[0] !== null && !(0.0 <= hp.eps[0])) fail(`epsilon1 should be >= 0 but is: ${pyFloat(hp.eps[0])}`);
    if (!(0.0 <= hp.eps[1])) fail(`epsilon2 should be >= 0 but is: ${pyFloat(hp.eps[1])}`);
    if (!(1.0 <= hp.d)) fail(`Clipping threshold d should be >= 1 but is: ${pyFloat(hp.d)}`);
    if (!(0.0 <= hp.weight_decay)) fail(`weight_decay should be >= 0 but is: ${pyFloat(hp.weight_decay)}`);
  },
  init: (n) => ({ step: 0, variance: zeros(n) }), // 参数是向量：只有 variance（没有行、列因子）
  update(param, grad, state, group) {
    const lr = group.lr;
    const [eps1_, eps2] = group.eps;
    const { d, weight_decay } = group;
    const eps1 = eps1_ ?? Number.EPSILON; // ε₁ 为 None：float64 的机器精度（同 torch.finfo）

    grad = group.maximize ? neg(grad) : grad; // (1) g_t
    state.step = f32(state.step + 1); // t ← t + 1
    const t = state.step;
    const one_minus_beta2_t = pow(t, group.beta2_decay); // (2) 1 − β̂₂ = t^τ
    const rho_t = pyMin(lr, 1 / pow(t, 0.5)); // (3) ρ_t = min(η, 1/√t)
    const alpha = pyMax(eps2, norm(param) / pow(param.length, 0.5)) * rho_t; // (4) α_t

    if (weight_decay !== 0) mul_(param, 1 - lr * weight_decay); // (5) θ ← (1 − ηλ)θ

    const variance = state.variance;
    lerp_(variance, mul(grad, grad), one_minus_beta2_t); // (8) v_t = β̂v + (1 − β̂)g²
    const var_estimate = clone(variance); // (8) v̂_t = v_t（下一行原地运算，不能改动状态）

    const update = mul_(rsqrt_(clamp_(var_estimate, eps1 * eps1)), grad); // (9) u_t = g / max(√v̂, ε₁)
    const denom = pyMax(1.0, norm(update) / (pow(update.length, 0.5) * d)); // (10) max(1, RMS(u)/d)
    add_(param, update, -alpha / denom); // (10)(11) θ_t = θ − α_t û_t
  },
};

/** 十二个优化器（名字同 torch.optim）。 */
export const RULES = { SGD, Adam, AdamW, NAdam, RMSprop, Adagrad, RAdam, Adamax, Adadelta, ASGD, Rprop, Adafactor };

/** 补上默认值的完整超参数；AdamW 固定解耦权重衰减。 */
export function hparams(name, hp = {}) {
  const rule = RULES[name];
  if (!rule) throw new Error(`unknown optimizer ${JSON.stringify(name)}; choose from ${Object.keys(RULES).join(", ")}`);
  for (const key of Object.keys(hp)) {
    if (!(key in rule.defaults) || (name === "AdamW" && key === "decoupled_weight_decay")) throw new Error(`${name} has no hyperparameter ${JSON.stringify(key)}`);
  }
  return { ...rule.defaults, ...hp };
}

/** 补默认值、检查（非法时抛出 torch 的报错信息）、初始化状态；step(p, g) 原地更新 p。 */
export function optimizer(name, hp = {}, n = 2) {
  const full_hp = hparams(name, hp);
  const rule = RULES[name];
  rule.validate(full_hp);
  const state = rule.init(n, full_hp);
  return { name, hp: full_hp, state, step: (p, g) => rule.update(p, g, state, full_hp) };
}
