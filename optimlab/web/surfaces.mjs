/**
 * 二维曲面、梯度、发散判据、轨迹与收敛图：optimlab.problems、optimlab.widgets.paths.scaled_quadratic 与
 * optimlab.trajectory.run_many 的浏览器副本（float64，逐位一致；tests/test_browser_math.py 核对）。
 *
 * API：
 *   export function surface(name, {kappa = 10, scale = 1} = {}) -> {
 *     key,              // "quadratic:10"、"rosenbrock"、"beale"、"scaled_quadratic:1"（缓存用）
 *     name,             // 中文名，同 Python 的 Surface.name（"二次函数（κ=10）"、"Rosenbrock 函数"…）
 *     f(x, y),          // 函数值，与 torch 的前向计算逐位相同
 *     grad(x, y) -> [gx, gy],  // 与 torch autograd 的反向计算逐位相同
 *     x0: [x, y], minimizer: [x, y], fMin, xlim: [lo, hi], ylim: [lo, hi],
 *   }
 *     name: "quadratic"（kappa = κ）、"rosenbrock"、"beale"、"scaled_quadratic"（scale = s）。
 *   export const DIVERGENCE_LIMIT = 1e6
 *   export function diverged(value, x, y) -> bool   // 同 optimlab.trajectory.diverged
 *   export function run(surf, optName, hp, steps, x0 = surf.x0) -> {
 *     path: Float64Array(2 * (steps + 1)),   // [x0, y0, x1, y1, …]；发散的那一步及之后为 NaN
 *     loss: Float64Array(steps + 1),         // loss[k] = 第 k 步之后的 f；发散后为 NaN
 *     divergedAt: int | null,                // 第一次发散的步数（从 1 开始）
 *     error: string | null,                  // 非法超参数时为 torch 的报错信息（path、loss 全为 NaN）
 *   }   // 同 run_many 的语义（hp 只需给出与默认值不同的超参数）
 *   export function convergenceMap(surf, optName, hp, xKey, xs, yKey, ys, steps, x0 = surf.x0) -> {
 *     gap: Float64Array(ys.length * xs.length),   // gap[j * xs.length + i]：xs[i]、ys[j] 的最终 f − f*；发散或非法为 NaN
 *     divergedAt: Int32Array(同长),               // 发散的步数；没有发散为 −1；非法超参数为 0
 *     error: string | null,                       // 第一个非法设置的报错信息
 *   }   // 每一格等于 run(surf, optName, {...hp, [xKey]: xs[i], [yKey]: ys[j]}, steps, x0)；
 *       // 键 "beta1"、"beta2" 指 betas 的两个分量。
 */

import { RULES, hparams } from "../optim/rules.mjs";

// 梯度按 torch autograd 的运算顺序写出：x**2 前向为 x·x，反向为 grad·(2x)；同一变量的几条梯度按反向传播
// 到达的先后累加（后创建的节点先执行），tests/test_browser_math.py 逐位核对。

function quadratic(cond) {
  if (!(cond >= 1.0)) throw new Error(`cond must be >= 1, got ${cond}`);
  return {
    key: `quadratic:${cond}`,
    name: `二次函数（κ=${fmtG(cond)}）`,
    f: (x, y) => 0.5 * (x * x + cond * (y * y)),
    grad: (x, y) => [0.5 * (2 * x), (0.5 * cond) * (2 * y)],
    minimizer: [0.0, 0.0], x0: [-4.0, 1.5], xlim: [-4.5, 4.5], ylim: [-2.5, 2.5],
  };
}

function rosenbrock(a = 1.0, b = 100.0) {
  return {
    key: "rosenbrock",
    name: "Rosenbrock 函数",
    f: (x, y) => { const u = y - x * x; return (a - x) * (a - x) + b * (u * u); },
    grad: (x, y) => { const gu = b * (2 * (y - x * x)); return [-(2 * (a - x)) + -gu * (2 * x), gu]; },
    minimizer: [a, a * a], x0: [-1.5, 2.0], xlim: [-2.0, 2.0], ylim: [-1.0, 3.0],
  };
}

function beale() {
  const parts = (x, y) => {
    const y2 = y * y, y3 = y * y * y;
    return [y2, y3, 1.5 - x + x * y, 2.25 - x + x * y2, 2.625 - x + x * y3];
  };
  return {
    key: "beale",
    name: "Beale 函数",
    f: (x, y) => { const [, , A, B, C] = parts(x, y); return A * A + B * B + C * C; },
    grad: (x, y) => {
      const [y2, y3, A, B, C] = parts(x, y);
      const dA = 2 * A, dB = 2 * B, dC = 2 * C;
      const gx = dC * y3 + -dC + dB * y2 + -dB + dA * y + -dA; // C 项先到，A 项最后
      const gy = (dC * x) * (3 * y2) + (dB * x) * (2 * y) + dA * x;
      return [gx, gy];
    },
    minimizer: [3.0, 0.5], x0: [1.0, 1.4], xlim: [-0.5, 4.5], ylim: [-1.5, 2.0],
  };
}

/** optimlab.widgets.paths.scaled_quadratic：s·½((x − 2)² + 4(y − 1.5)²)。 */
function scaledQuadratic(scale) {
  const [a, b] = [2.0, 1.5], [h1, h2] = [1.0, 4.0];
  return {
    key: `scaled_quadratic:${scale}`,
    name: `梯度尺度 s = ${fmt(scale)}`,
    f: (x, y) => scale * (0.5 * (h1 * ((x - a) * (x - a)) + h2 * ((y - b) * (y - b)))),
    grad: (x, y) => [((scale * 0.5) * h1) * (2 * (x - a)), ((scale * 0.5) * h2) * (2 * (y - b))],
    minimizer: [a, b], x0: [-1.5, -1.0], xlim: [-2.0, 3.0], ylim: [-1.5, 2.5],
  };
}

/** Python 的 f"{x:g}"（κ 的写法）。 */
function fmtG(x) {
  const e = Math.floor(Math.log10(Math.abs(x)));
  if (x !== 0 && (e < -4 || e >= 6)) {
    const [m, exp] = x.toExponential(5).split("e");
    return `${m.replace(/\.?0+$/, "")}e${exp[0]}${exp.slice(1).padStart(2, "0")}`;
  }
  return String(Number(x.toPrecision(6)));
}

/** optimlab.widgets.base.fmt：0.001 → 1e-3，0.9 → 0.9。 */
function fmt(x) {
  if (x === 0) return "0";
  if (Math.abs(x) < 1e-2 || Math.abs(x) >= 1e4) {
    const [m, exp] = x.toExponential(2).split("e");
    return `${m.replace(/\.?0+$/, "")}e${Number(exp)}`;
  }
  return String(Number(x.toPrecision(4)));
}

const FACTORIES = {
  quadratic: ({ kappa = 10 }) => quadratic(kappa),
  rosenbrock: () => rosenbrock(),
  beale: () => beale(),
  scaled_quadratic: ({ scale = 1 }) => scaledQuadratic(scale),
};

export function surface(name, options = {}) {
  const factory = FACTORIES[name];
  if (!factory) throw new Error(`unknown surface ${JSON.stringify(name)}; choose from ${Object.keys(FACTORIES).join(", ")}`);
  const s = factory(options);
  s.fMin = s.f(...s.minimizer);
  return s;
}

// ------------------------------------------------------------------------------------------------
// 轨迹：optimlab.trajectory.run_many 的语义
// ------------------------------------------------------------------------------------------------

export const DIVERGENCE_LIMIT = 1e6;

/** optimlab.trajectory.diverged：函数值或坐标不是有限数，或某个坐标的绝对值达到 DIVERGENCE_LIMIT。 */
export function diverged(value, x, y) {
  return !(Number.isFinite(value) && Number.isFinite(x) && Number.isFinite(y) && Math.max(Math.abs(x), Math.abs(y)) < DIVERGENCE_LIMIT);
}

/** 补默认值并检查；返回 [完整的超参数, null] 或 [null, 报错信息]。 */
function checked(optName, hp) {
  const full = hparams(optName, hp);
  try {
    RULES[optName].validate(full);
  } catch (err) {
    return [null, err.message];
  }
  return [full, null];
}

/** 从 x0 出发走 steps 步；每步之后调用 visit(k, x, y, f)。返回发散的步数或 null。 */
function walk(surf, optName, full, steps, x0, visit) {
  const rule = RULES[optName];
  const state = rule.init(2, full);
  const p = Float64Array.of(x0[0], x0[1]);
  const g = new Float64Array(2); // update 不改动梯度：每步重用同一个数组
  visit(0, p[0], p[1], surf.f(p[0], p[1]));
  for (let k = 1; k <= steps; k++) {
    const [gx, gy] = surf.grad(p[0], p[1]);
    g[0] = gx;
    g[1] = gy;
    rule.update(p, g, state, full);
    const value = surf.f(p[0], p[1]);
    if (diverged(value, p[0], p[1])) return k;
    visit(k, p[0], p[1], value);
  }
  return null;
}

export function run(surf, optName, hp, steps, x0 = surf.x0) {
  const path = new Float64Array(2 * (steps + 1)).fill(NaN);
  const loss = new Float64Array(steps + 1).fill(NaN);
  const [full, error] = checked(optName, hp);
  if (error !== null) return { path, loss, divergedAt: null, error };
  const divergedAt = walk(surf, optName, full, steps, x0, (k, x, y, f) => {
    path[2 * k] = x;
    path[2 * k + 1] = y;
    loss[k] = f;
  });
  return { path, loss, divergedAt, error: null };
}

/** 设置 hp[key] = v；"beta1"、"beta2" 是 betas 的两个分量。 */
function setting(optName, hp, key, v) {
  if (key === "beta1" || key === "beta2") {
    const betas = [...(hp.betas ?? RULES[optName].defaults.betas)];
    betas[key === "beta1" ? 0 : 1] = v;
    return { ...hp, betas };
  }
  return { ...hp, [key]: v };
}

export function convergenceMap(surf, optName, hp, xKey, xs, yKey, ys, steps, x0 = surf.x0) {
  const gap = new Float64Array(xs.length * ys.length).fill(NaN);
  const divergedAt = new Int32Array(xs.length * ys.length).fill(-1);
  let firstError = null;
  for (let j = 0; j < ys.length; j++) {
    for (let i = 0; i < xs.length; i++) {
      const cell = j * xs.length + i;
      const [full, error] = checked(optName, setting(optName, setting(optName, hp, xKey, xs[i]), yKey, ys[j]));
      if (error !== null) {
        divergedAt[cell] = 0;
        firstError ??= error;
        continue;
      }
      let last = NaN;
      const at = walk(surf, optName, full, steps, x0, (k, x, y, f) => { last = f; });
      if (at === null) gap[cell] = last - surf.fMin;
      else divergedAt[cell] = at;
    }
  }
  return { gap, divergedAt, error: firstError };
}
