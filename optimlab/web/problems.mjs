/**
 * 第 3、4、5 章探索器的问题在浏览器中的副本：学习率调度器与线性回归的小批量训练（第 5 章）、
 * Reddi 的在线问题（第 4 章）、矩估计 m_t、v_t、m̂_t、v̂_t（第 3 章）。
 *
 * 每个函数镜像一个 Python 原件（见各函数的说明），float64，运算顺序与 torch 在 CPU 上的 float64 内核相同；
 * 更新规则只有一份，取自 ../optim/rules.mjs。tests/test_browser_problems.py 在 Chromium 中与 optimlab 比对。
 * 来自 torch 随机数生成器的数据（回归数据、每轮的打乱顺序、噪声 ξ_t）由 optimlab/widgets/webdata.py
 * 写进页面（`data`），这里不重新生成。
 *
 * API（explorer.mjs 据此编程）：
 *
 *   export const SCHEDULER_KINDS = ["constant", "step", "plateau", "cosine", "onecycle"]
 *
 *   export function scheduler(kind, group, s, totalSteps, useBeta1) -> {step(metric), reductions} | null
 *       torch 的调度器（StepLR、ReduceLROnPlateau、CosineAnnealingLR、OneCycleLR；"constant" 为 null），
 *       原地改写参数组 group（rules.mjs 的 hp：lr、momentum 或 betas），构造时与 torch 一样先走第 0 步。
 *       s：{step_size, gamma, T_max, factor, patience, max_lr, pct_start, cycle_momentum}；
 *       totalSteps：OneCycleLR 的 total_steps；useBeta1：优化器有 betas（Adam）时为 true。
 *       step(metric)：ReduceLROnPlateau 要传入监视的指标；reductions：它降低学习率的轮次（1 起）。
 *       非法设置抛出 Error（torch 的信息，如 "Factor should be < 1.0."）。
 *
 *   export function trainRegression(data, s) -> {lr, momentum, stepLoss, epochLoss, divergedAt, reductions, error}
 *       镜像 optimlab.training.scheduler_run(..., dtype=torch.float64)。data = webdata.explorer_data("scheduler")；
 *       s = {kind, lr, optimizer: "sgd" | "adam", momentum（SGD 的 μ）, beta1（Adam 的 β₁）, 以及调度器的 s}；
 *       缺少的项取 TRAIN_DEFAULTS（即 scheduler_run 的默认参数）。data 的字段：x、y（200 个样本）、w0、b0（初始权重）、
 *       epochs、batch_size、updates_per_epoch、order（base64，每轮的打乱顺序）、loss_min（噪声下限 L*，画超额损失
 *       L − L* 用）、lr_limit（全批量稳定上限 2/λ_max）。
 *       lr、momentum（每次更新时参数组的 lr 与 μ / β₁）、stepLoss（小批量损失）：Float64Array（更新次数）；
 *       epochLoss：Float64Array(epochs + 1)，全数据均方误差（发散时截止于 NaN）；divergedAt：小批量损失第一次
 *       不是有限数的更新序号（1 起）或 null；reductions：见上；error：非法超参数时 torch 的信息（其余字段为空）。
 *
 *   export const TRAIN_DEFAULTS = {optimizer: "sgd", momentum: 0, beta1: 0.9, step_size: 10, gamma: 0.3, factor: 0.5,
 *                                  patience: 2, T_max: 30, max_lr: 0.1, pct_start: 0.3, cycle_momentum: false}
 *   export function torchSum(a, n = a.length)  // torch.sum 在 CPU 上对 float64 的求和顺序（AVX2），逐位相同
 *
 *   export const REDDI_X0 = 0.0          // 探索器的起点（optimlab.widgets.reddi.REDDI_X0）
 *   export function reddi(s) -> {x, loss, regret, avgRegret, error}
 *       镜像 optimlab.online.run_reddi(Adam, steps, C, lr, sqrt_decay=decay, x0, betas=(beta1, beta2), amsgrad)。
 *       s = {steps, C, lr, decay, beta1, beta2, amsgrad, x0 = REDDI_X0}。x：Float64Array(steps + 1)；loss、regret、
 *       avgRegret（平均遗憾 R_t / t）：Float64Array(steps)；error：非法超参数时 torch 的信息。
 *
 *   export function moments(xi, s) -> {g, m, v, m_hat, v_hat}
 *       镜像 optimlab.widgets.moments.moment_estimates：g_t = 1 + σ·ξ_t（xi = webdata 的 "xi"），m_t、v_t 取自
 *       Adam（lr = 0）的状态 exp_avg、exp_avg_sq，m̂_t = m_t / (1 − β₁ᵗ)、v̂_t = v_t / (1 − β₂ᵗ)。
 *       s = {beta1, beta2, sigma, n = xi.length}；每个数组长 n，第 t−1 项是第 t 步。
 */

import { optimizer, pow } from "../optim/rules.mjs";

export const SCHEDULER_KINDS = ["constant", "step", "plateau", "cosine", "onecycle"];

/** Python 的 a % b（结果与 b 同号）。 */
const pymod = (a, b) => ((a % b) + b) % b;

// ------------------------------------------------------------------------------------ 调度器

/**
 * torch.optim.lr_scheduler 的四个调度器，作用在一个参数组上。每个分支对应 torch 的 get_lr / step
 * （torch 2.13，last_epoch = −1 起步，逐次调用 step()，不传 epoch）：StepLR 与 CosineAnnealingLR 用
 * torch 的递推形式（乘在当前 lr 上），不是闭式。
 */
export function scheduler(kind, group, s, totalSteps, useBeta1) {
  if (kind === "constant") return null;
  if (kind === "plateau") return plateau(group, s.factor, s.patience);
  const base = group.lr;
  let get;
  if (kind === "step") {
    get = (e) => (e === 0 || e % s.step_size !== 0 ? group.lr : group.lr * s.gamma);
  } else if (kind === "cosine") {
    const T = s.T_max, etaMin = 0.0;
    get = (e) => {
      if (e === 0) return group.lr; // _is_initial
      if (pymod(e - 1 - T, 2 * T) === 0) {
        return group.lr + ((base - etaMin) * (1 - Math.cos(Math.PI / T))) / 2;
      }
      return ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (group.lr - etaMin) + etaMin;
    };
  } else if (kind === "onecycle") {
    get = oneCycle(group, s, totalSteps, useBeta1);
  } else {
    throw new Error(`unknown scheduler '${kind}'`);
  }
  let lastEpoch = -1;
  const sched = {
    reductions: [],
    step() {
      lastEpoch += 1;
      group.lr = get(lastEpoch);
    },
  };
  sched.step(); // LRScheduler.__init__ 的 _initial_step
  return sched;
}

/** OneCycleLR（两段、余弦退火，div_factor = 25，final_div_factor = 1e4，动量在 0.85 与 0.95 之间）。 */
function oneCycle(group, s, totalSteps, useBeta1) {
  const g = { initial_lr: s.max_lr / 25.0, max_lr: s.max_lr };
  g.min_lr = g.initial_lr / 1e4;
  const phases = [
    { end: s.pct_start * totalSteps - 1, lr: ["initial_lr", "max_lr"], mom: ["max_momentum", "base_momentum"] },
    { end: totalSteps - 1, lr: ["max_lr", "min_lr"], mom: ["base_momentum", "max_momentum"] },
  ];
  if (s.cycle_momentum) {
    g.max_momentum = 0.95;
    g.base_momentum = 0.85;
    setMomentum(group, g.max_momentum, useBeta1);
  }
  const anneal = (start, end, pct) => end + ((start - end) / 2.0) * (Math.cos(Math.PI * pct) + 1);
  return (stepNum) => {
    if (stepNum > totalSteps) {
      throw new Error(`Tried to step ${stepNum} times. The specified number of total steps is ${totalSteps}`);
    }
    let start = 0.0;
    for (let i = 0; i < phases.length; i++) {
      const ph = phases[i];
      if (stepNum <= ph.end || i === phases.length - 1) {
        const pct = (stepNum - start) / (ph.end - start);
        if (s.cycle_momentum) setMomentum(group, anneal(g[ph.mom[0]], g[ph.mom[1]], pct), useBeta1);
        return anneal(g[ph.lr[0]], g[ph.lr[1]], pct);
      }
      start = ph.end;
    }
  };
}

function setMomentum(group, value, useBeta1) {
  if (useBeta1) group.betas = [value, group.betas[1]];
  else group.momentum = value;
}

/** ReduceLROnPlateau（mode="min"、threshold=1e-4 相对、cooldown=0、min_lr=0、eps=1e-8）。 */
function plateau(group, factor, patience) {
  if (factor >= 1.0) throw new Error("Factor should be < 1.0.");
  const relEpsilon = 1.0 - 1e-4;
  let best = Infinity, bad = 0, lastEpoch = 0;
  return {
    reductions: [],
    step(metric) {
      lastEpoch += 1;
      if (metric < best * relEpsilon) {
        best = metric;
        bad = 0;
      } else {
        bad += 1;
      }
      if (bad > patience) {
        const old = group.lr;
        const prod = old * factor;
        const next = 0 > prod ? 0 : prod; // Python 的 max(old * factor, 0)
        if (old - next > 1e-8) {
          group.lr = next;
          this.reductions.push(lastEpoch);
        }
        bad = 0;
      }
    },
  };
}

// ------------------------------------------------------------------------------------ 线性回归

/**
 * torch 在 CPU 上对连续 float64 数组求和的顺序（AVX2：4 路向量，4 路指令级并行，级联求和；
 * aten/src/ATen/native/cpu/SumKernel.cpp 的 vectorized_inner_sum → row_sum → multi_row_sum）。
 */
export function torchSum(a, n = a.length) {
  const L = 4, ILP = 4, LEVELS = 4, W = ILP * L; // acc[level·W + k·L + lane]
  const vecs = Math.floor(n / L), rows = Math.floor(vecs / ILP);
  const power = Math.max(4, Math.floor(Math.ceil(Math.log2(Math.max(rows, 1))) / LEVELS));
  const stepSize = 2 ** power, mask = stepSize - 1;
  const acc = ACC.fill(0);
  const addRow = (i) => {
    for (let q = 0; q < W; q++) acc[q] += a[i * W + q];
  };
  let i = 0;
  while (i + stepSize <= rows) { // 级联：每 stepSize 行把第 0 级并入上一级
    for (let j = 0; j < stepSize; j++, i++) addRow(i);
    for (let j = 1; j < LEVELS; j++) {
      for (let q = 0; q < W; q++) {
        acc[j * W + q] += acc[(j - 1) * W + q];
        acc[(j - 1) * W + q] = 0;
      }
      if ((i & (mask << (j * power))) !== 0) break;
    }
  }
  for (; i < rows; i++) addRow(i);
  for (let j = 1; j < LEVELS; j++) for (let q = 0; q < W; q++) acc[q] += acc[j * W + q];
  for (let v = rows * ILP; v < vecs; v++) for (let l = 0; l < L; l++) acc[l] += a[v * L + l]; // 余下的向量
  for (let k = 1; k < ILP; k++) for (let l = 0; l < L; l++) acc[l] += acc[k * L + l];
  let total = 0;
  for (let t = vecs * L; t < n; t++) total += a[t]; // 余下的标量
  for (let l = 0; l < L; l++) total += acc[l];
  return total;
}
const ACC = new Float64Array(64);

function decodeOrder(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** scheduler_run 的默认参数（s 中缺少的项取这些值）。 */
export const TRAIN_DEFAULTS = {
  optimizer: "sgd", momentum: 0.0, beta1: 0.9, step_size: 10, gamma: 0.3, factor: 0.5, patience: 2, T_max: 30,
  max_lr: 0.1, pct_start: 0.3, cycle_momentum: false,
};

/**
 * 镜像 optimlab.training.scheduler_run（dtype=float64）与它调用的 training.fit：nn.Linear(1, 1) 的前向
 * x·w + b，nn.MSELoss 的均值（torchSum / B），反向 ∂L/∂o = (2/B)·(o − y)，∂L/∂b = torchSum，
 * ∂L/∂w = 逐项累加的点积（MKL 的 dgemm 在 K = B、M = N = 1 时的顺序）。
 */
export function trainRegression(data, settings) {
  const s = { ...TRAIN_DEFAULTS, ...settings };
  const { x, y, epochs, batch_size: bs } = data;
  const n = x.length, perEpoch = Math.ceil(n / bs);
  const order = data.order ? decodeOrder(data.order) : null;
  const adam = s.optimizer === "adam";
  const out = { lr: [], momentum: [], stepLoss: [], epochLoss: [], divergedAt: null, reductions: [], error: null };
  let opt, sched;
  try {
    opt = adam ? optimizer("Adam", { lr: s.lr, betas: [s.beta1, 0.999] }) : optimizer("SGD", { lr: s.lr, momentum: s.momentum });
    sched = scheduler(s.kind, opt.hp, s, epochs * perEpoch, adam);
  } catch (err) {
    return { ...finish(out), error: err.message };
  }
  const group = opt.hp;
  const p = new Float64Array([data.w0, data.b0]); // [weight, bias]
  const grad = new Float64Array(2);
  const buf = new Float64Array(n), res = new Float64Array(n);
  const fullLoss = () => {
    for (let i = 0; i < n; i++) {
      const e = x[i] * p[0] + p[1] - y[i];
      buf[i] = e * e;
    }
    return torchSum(buf, n) / n;
  };
  out.epochLoss.push(fullLoss());
  for (let epoch = 0; epoch < epochs; epoch++) {
    const base = bs < n ? epoch * n : -1;
    for (let start = 0; start < n; start += bs) {
      const B = Math.min(bs, n - start), norm = 2.0 / B;
      for (let j = 0; j < B; j++) {
        const i = base < 0 ? start + j : order[base + start + j];
        res[j] = x[i] * p[0] + p[1] - y[i]; // o − y
        buf[j] = res[j] * res[j];
      }
      const loss = torchSum(buf, B) / B;
      let gw = 0;
      for (let j = 0; j < B; j++) {
        const i = base < 0 ? start + j : order[base + start + j];
        buf[j] = norm * res[j];
        gw += buf[j] * x[i];
      }
      grad[0] = gw;
      grad[1] = torchSum(buf, B);
      out.lr.push(group.lr);
      out.momentum.push(adam ? group.betas[0] : group.momentum);
      opt.step(p, grad);
      out.stepLoss.push(loss);
      if (!Number.isFinite(loss)) {
        out.divergedAt = out.stepLoss.length;
        out.epochLoss.push(NaN);
        return finish(out, sched);
      }
      if (sched && s.kind === "onecycle") sched.step();
    }
    out.epochLoss.push(fullLoss());
    if (sched && s.kind !== "onecycle") sched.step(out.epochLoss[out.epochLoss.length - 1]);
  }
  return finish(out, sched);
}

function finish(out, sched) {
  for (const k of ["lr", "momentum", "stepLoss", "epochLoss"]) out[k] = Float64Array.from(out[k]);
  out.reductions = sched ? sched.reductions : [];
  return out;
}

// ------------------------------------------------------------------------------------ Reddi

export const REDDI_X0 = 0.0;

/** 镜像 optimlab.online.run_reddi（Adam 或 AMSGrad），每步后把 x 截断到 [−1, 1]。 */
export function reddi(settings) {
  const s = { x0: REDDI_X0, ...settings };
  const T = s.steps, C = s.C;
  const x = new Float64Array(T + 1), loss = new Float64Array(T), regret = new Float64Array(T), avgRegret = new Float64Array(T);
  let opt;
  try {
    opt = optimizer("Adam", { lr: s.lr, betas: [s.beta1, s.beta2], amsgrad: s.amsgrad }, 1);
  } catch (err) {
    return { x, loss, regret, avgRegret, error: err.message };
  }
  const p = new Float64Array([s.x0]), g = new Float64Array(1);
  x[0] = s.x0;
  let cum = 0, best = 0;
  for (let t = 1; t <= T; t++) {
    if (s.decay) opt.hp.lr = s.lr / Math.sqrt(t);
    const first = t % 3 === 1;
    loss[t - 1] = first ? C * p[0] : -p[0]; // f_t(x_{t−1})
    g[0] = first ? C : -1.0;
    opt.step(p, g);
    p[0] = Math.min(Math.max(p[0], -1.0), 1.0);
    x[t] = p[0];
    cum += loss[t - 1]; // np.cumsum
    best += first ? C * -1.0 : 1.0; // reddi_best_loss：f_t(−1) 的累计
    regret[t - 1] = cum - best;
    avgRegret[t - 1] = regret[t - 1] / t;
  }
  return { x, loss, regret, avgRegret, error: null };
}

// ------------------------------------------------------------------------------------ 矩估计

/** 镜像 optimlab.exercises.bias_correction.reference_moments（经 widgets.moments.moment_estimates）。 */
export function moments(xi, s) {
  const n = s.n ?? xi.length;
  const g = new Float64Array(n), m = new Float64Array(n), v = new Float64Array(n);
  const mHat = new Float64Array(n), vHat = new Float64Array(n);
  const opt = optimizer("Adam", { lr: 0.0, betas: [s.beta1, s.beta2] }, 1); // lr = 0：只更新状态
  const p = new Float64Array(1), grad = new Float64Array(1);
  for (let i = 0; i < n; i++) {
    g[i] = 1.0 + s.sigma * xi[i]; // noisy_gradients：mean + σ·ξ
    grad[0] = g[i];
    opt.step(p, grad);
    m[i] = opt.state.exp_avg[0];
    v[i] = opt.state.exp_avg_sq[0];
    const t = i + 1;
    mHat[i] = m[i] / (1 - pow(s.beta1, t));
    vHat[i] = v[i] / (1 - pow(s.beta2, t));
  }
  return { g, m, v, m_hat: mHat, v_hat: vHat };
}
