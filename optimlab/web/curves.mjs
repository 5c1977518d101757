/**
 * 曲线探索器（同 optimlab.widgets.moments、reddi、schedulers）：bias_correction（第 3 章）、reddi（第 4 章）、
 * scheduler（第 5 章）。计算全部来自 problems.mjs（moments、reddi、trainRegression）。
 */
import { moments, reddi, trainRegression } from "./problems.mjs";
import { pow } from "../optim/rules.mjs";
import { Live, fmt } from "./live.mjs";
import { fmtG } from "./controls.mjs";
import { Panel, axes, font, ink, legend, linear, log, plotBox, polyline, textLines } from "./plot.mjs";
import { wrap } from "./paths.mjs";

/** 图上方的一行（或几行）标题：当前设置。 */
class CurveLive extends Live {
  constructor(root, spec, unit) {
    super(root, spec);
    this.player(unit);
    this.header = new Panel(this.panels, { label: "当前设置" });
    this.header.canvas.classList.add("optimlab-live-header");
  }

  drawHeader(text, extra = []) {
    const th = this.th, c = this.header.canvas.getContext("2d");
    c.font = font(13, true);
    const w = this.header.width(), lines = wrap(c, text, w - 12);
    this.header.ratio = ((lines.length + extra.length) * 19 + 8) / Math.max(w, 200);
    const h = this.header.begin();
    h.textAlign = "center";
    h.textBaseline = "top";
    lines.forEach((t, i) => { h.font = font(13, true); h.fillStyle = th.fg; h.fillText(t, this.header.w / 2, 4 + i * 19); });
    extra.forEach(([t, color], i) => { h.font = font(12); h.fillStyle = color || th.fg; h.fillText(t, this.header.w / 2, 4 + (lines.length + i) * 19); });
  }
}

// ---------------------------------------------------------------- 第 3 章：偏差校正

export class BiasLive extends CurveLive {
  constructor(root, spec) {
    super(root, spec, "步");
    this.n = this.opt.max_steps;
    this.pm = new Panel(this.panels, { ratio: 0.75, label: "一阶矩" });
    this.pv = new Panel(this.panels, { ratio: 0.75, label: "二阶矩" });
    this.invalidate(true);
  }

  total() { return this.n; }
  first() { return 1; }
  upto() { return this.k === null ? this.value("t") : Math.max(1, this.k); }

  compute() {
    const v = this.controls.values();
    this.est = moments(this.data.xi, { beta1: v.beta1, beta2: v.beta2, sigma: v.sigma, n: this.n });
  }

  draw() {
    const th = this.th, v = this.controls.values(), t = this.upto(), e = this.est, i = t - 1;
    this.drawStep();
    if (this.k !== null) this.controls.set("t", t);
    this.drawHeader(`偏差校正：β₁ = ${fmt(v.beta1)}，β₂ = ${fmt(v.beta2)}，σ = ${fmt(v.sigma)}，t = ${t}`, [
      [`t = ${t}：m = ${e.m[i].toFixed(3)}，m̂ = ${e.m_hat[i].toFixed(3)}，v = ${e.v[i].toFixed(3)}，v̂ = ${e.v_hat[i].toFixed(3)}，` +
       `1 − β₁ᵗ = ${fmtG(1 - pow(v.beta1, t))}，1 − β₂ᵗ = ${fmtG(1 - pow(v.beta2, t))}`],
    ]);
    const panels = [[this.pm, "m", "g_m", e.g, [-0.5, 2.5], 1.0, "一阶矩 m_t", "g_t", "真值 E[g]"],
                    [this.pv, "v", "g_v", e.g.map((g) => g * g), [0, 6], 1 + v.sigma * v.sigma, "二阶矩 v_t", "g_t²", "真值 E[g²]"]];
    for (const [p, key, gk, g, ylim, truth, title, gl, tl] of panels) {
      const ctx = p.begin(), b = plotBox(p, { left: 44, bottom: 38 });
      const sx = linear(0, this.n, b.x, b.x + b.w), sy = linear(ylim[0], ylim[1], b.y + b.h, b.y);
      axes(ctx, b, sx, sy, { xlabel: "步数 t", title }, th);
      const grey = ink(this.color(gk, "#bfbfbf"), th), red = this.color(key, "#d62728"), blue = this.color(`${key}_hat`, "#1f77b4");
      ctx.fillStyle = grey;
      for (let s = 0; s < t; s++) { const y = sy(g[s]); if (y >= b.y && y <= b.y + b.h) ctx.fillRect(sx(s + 1) - 1, y - 1, 2, 2); }
      polyline(ctx, t, (s) => sx(s + 1), (s) => sy(e[key][s]), { color: red, box: b });
      polyline(ctx, t, (s) => sx(s + 1), (s) => sy(e[`${key}_hat`][s]), { color: blue, box: b });
      const black = ink(this.color(`true_${key}`), th);
      polyline(ctx, 2, (s) => (s ? b.x + b.w : b.x), () => sy(truth), { color: black, dash: true, width: 0.9 });
      polyline(ctx, 2, () => sx(t), (s) => (s ? b.y : b.y + b.h), { color: ink(this.color(`cursor_${key}`, "#666666"), th), width: 0.8 });
      legend(ctx, b, [{ label: gl, color: grey, shape: "o" }, { label: `未校正 ${key}_t`, color: red },
                      { label: `校正后 ${key}̂_t`, color: blue }, { label: tl, color: black, dash: true }], "ur", th);
      textLines(ctx, this.failureLines(), b.x + 4, b.y + 4, { th });
    }
  }
}

// ---------------------------------------------------------------- 第 4 章：Reddi 反例

export class ReddiLive extends CurveLive {
  constructor(root, spec) {
    super(root, spec, "步");
    this.px = new Panel(this.panels, { ratio: 0.75, label: "x_t" });
    this.pr = new Panel(this.panels, { ratio: 0.75, label: "平均遗憾" });
    this.steps = this.opt.steps;
    this.invalidate(true);
  }

  total() { return this.steps; }

  compute() {
    const v = this.controls.values();
    this.runs = this.def.series.map((name) => [name, reddi({ steps: this.steps, C: v.C, lr: v.lr, decay: v.decay, beta1: v.beta1,
      beta2: v.beta2, amsgrad: name === "AMSGrad", x0: this.opt.x0 })]);
  }

  draw() {
    const th = this.th, v = this.controls.values(), K = this.upto();
    this.drawStep();
    const lr = v.decay ? `ηₜ = η/√t，η = ${fmt(v.lr)}` : `η = ${fmt(v.lr)}`;
    this.drawHeader(`Reddi 反例：C = ${fmt(v.C)}，${lr}，β₁ = ${fmt(v.beta1)}，β₂ = ${fmt(v.beta2)}`);
    const n = this.steps;
    const a = this.px, ctx = a.begin(), b = plotBox(a, { left: 48, bottom: 38 });
    const sx = linear(0, n, b.x, b.x + b.w), sy = linear(-1.1, 1.1, b.y + b.h, b.y);
    axes(ctx, b, sx, sy, { xlabel: "步数 t", ylabel: "x_t" }, th);
    polyline(ctx, 2, (s) => (s ? b.x + b.w : b.x), () => sy(-1), { color: th.fg, dash: true, width: 0.8 });
    textLines(ctx, [["最优点 x* = −1", th.fg]], b.x + b.w - 4, sy(-0.93) - 14, { align: "right", th });
    const r = this.pr, rc = r.begin(), rb = plotBox(r, { left: 48, bottom: 38 });
    const rx = linear(0, n, rb.x, rb.x + rb.w), ry = linear(0, Math.max(2 * v.C + 2, 1), rb.y + rb.h, rb.y);
    axes(rc, rb, rx, ry, { xlabel: "步数 t", ylabel: "平均遗憾 R_t / t" }, th);
    const msgs = [], items = [];
    for (const [name, res] of this.runs) {
      const color = ink(this.color(name), th);
      items.push({ label: name, color });
      if (res.error) { msgs.push([`${name}：${this.errorText(res.error)}`, th.alarm]); continue; }
      polyline(ctx, K + 1, (s) => sx(s), (s) => sy(res.x[s]), { color, width: 1.2, box: b });
      polyline(rc, K, (s) => rx(s + 1), (s) => ry(res.avgRegret[s]), { color, width: 1.2, box: rb });
      const x = res.x[K];
      msgs.push([`${name}：${K === n ? "" : `第 ${K} 步 `}x = ${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(3)}`, th.fg]);
    }
    legend(ctx, b, items, "ll", th);
    textLines(rc, [...this.failureLines(), ...msgs], rb.x + rb.w - 4, rb.y + 4, { align: "right", th });
  }
}

// ---------------------------------------------------------------- 第 5 章：学习率调度器

export class SchedulerLive extends CurveLive {
  constructor(root, spec) {
    super(root, spec, "轮");
    this.epochs = this.data.epochs;
    this.nUpdates = this.epochs * this.data.updates_per_epoch;
    this.pl = new Panel(this.panels, { ratio: 0.75, label: "学习率" });
    this.pe = new Panel(this.panels, { ratio: 0.75, label: "超额损失" });
    this.invalidate(true);
  }

  total() { return this.epochs; }

  /** 禁用与所选调度器、优化器无关的控件（同 SchedulerExplorer._compute）。 */
  settings() {
    const v = this.controls.values(), own = this.opt.scheduler_controls || {}, mine = this.opt.optimizer_controls || {};
    for (const [k, names] of Object.entries(own)) for (const name of names) this.controls.disable(name, v.kind !== k);
    if (this.def.controls.lr) this.controls.disable("lr", v.kind === "onecycle");
    const cycling = v.kind === "onecycle" && !!v.cycle_momentum;
    for (const [k, names] of Object.entries(mine)) for (const name of names) this.controls.disable(name, cycling || v.optimizer !== k);
    return v;
  }

  compute() {
    const s = this.settings();
    this.runs = [["", trainRegression(this.data, s), this.opt.short_names[s.kind]]];
    if (s.kind !== "constant") this.runs.push(["_base", trainRegression(this.data, { ...s, kind: "constant" }), this.opt.short_names.constant]);
  }

  draw() {
    const th = this.th, s = this.controls.values(), E = this.upto(), U = E * this.data.updates_per_epoch;
    this.drawStep();
    const names = Object.fromEntries(this.def.controls.kind.options.map(([label, v]) => [v, label]));
    this.drawHeader(`${names[s.kind]}：${this.detail(s)}（${this.optimizerText(s)}，批量 ${this.data.batch_size}，${this.epochs} 轮）`);
    const a = this.pl, ctx = a.begin(), b = plotBox(a, { left: 48, bottom: 38 });
    const sx = linear(0, this.nUpdates, b.x, b.x + b.w), sy = log(1e-5, 2, b.y + b.h, b.y);
    axes(ctx, b, sx, sy, { xlabel: "更新次数", ylabel: "学习率" }, th);
    const r = this.pe, rc = r.begin(), rb = plotBox(r, { left: 48, bottom: 38 });
    const rx = linear(0, this.epochs, rb.x, rb.x + rb.w), ry = log(1e-6, 1e5, rb.y + rb.h, rb.y);
    axes(rc, rb, rx, ry, { xlabel: "轮数（epoch）", ylabel: "超额损失 L − L*" }, th);
    const msgs = [], items = [];
    for (const [suffix, h, name] of this.runs) {
      const color = ink(this.color(`lr${suffix}`), th), dash = this.dashed(`lr${suffix}`);
      items.push({ label: suffix ? this.opt.base_label : this.opt.labels[s.kind], color, dash });
      if (h.error) { msgs.push([`${name}：${this.errorText(h.error)}`, th.alarm]); continue; }
      polyline(ctx, Math.min(U, h.lr.length), (i) => sx(i), (i) => sy(Math.max(h.lr[i], 1e-12)), { color, dash, width: 1.4, box: b });
      if (!suffix && h.momentum && h.momentum.some((m) => m !== 0)) {  // 动量 μ / β₁：右侧线性纵轴 0…1
        const mc = this.color("momentum", "#2ca02c"), my = linear(0, 1, b.y + b.h, b.y);
        polyline(ctx, Math.min(U, h.momentum.length), (i) => sx(i), (i) => my(h.momentum[i]), { color: mc, dash: true, width: 1.2, box: b });
        items.push({ label: s.optimizer === "adam" ? "β₁（右轴 0…1）" : "动量 μ（右轴 0…1）", color: mc, dash: true });
      }
      const loss = Array.from(h.epochLoss, (x) => x - this.data.loss_min);
      polyline(rc, Math.min(E + 1, loss.length), (i) => rx(i), (i) => ry(Math.max(loss[i], 1e-12)), { color, dash, dots: 2, box: rb });
      if (h.divergedAt !== null) { msgs.push([`${name}：发散（第 ${h.divergedAt} 步）`, th.alarm]); continue; }
      msgs.push([`${name}：${E === this.epochs ? "最终超额损失" : `第 ${E} 轮超额损失`} ${fmt(loss[E])}`, th.fg]);
      let k = 0;
      for (let i = 1; i <= E; i++) if (loss[i] > loss[k]) k = i;
      if (k > 0) msgs.push([`  （第 ${k} 轮曾升到 ${fmt(loss[k])}）`, th.fg]);
    }
    const main = this.runs[0][1];
    if (!main.error) msgs.push(...this.notes(s, main, th));
    legend(ctx, b, items, "ll", th);
    textLines(rc, [...this.failureLines(), ...msgs], rb.x + 4, rb.y + 4, { th });
  }

  /** 标题中的优化器（同 SchedulerExplorer._optimizer_text）。 */
  optimizerText(s) {
    const [name, sym] = s.optimizer === "adam" ? ["Adam", "β₁"] : ["SGD", "μ"];
    if (s.kind === "onecycle" && s.cycle_momentum) return `${name}，${sym} 在 0.95 与 0.85 间循环`;
    const value = name === "Adam" ? s.beta1 : s.momentum;
    return value ? `${name}，${sym} = ${fmt(value)}` : name;
  }

  detail(s) {
    return { constant: `η₀ = ${fmt(s.lr)}`, step: `η₀ = ${fmt(s.lr)}，step_size = ${s.step_size}，gamma = ${fmt(s.gamma)}`,
             plateau: `η₀ = ${fmt(s.lr)}，factor = ${fmt(s.factor)}，patience = ${s.patience}`,
             cosine: `η₀ = ${fmt(s.lr)}，T_max = ${s.T_max}`,
             onecycle: `max_lr = ${fmt(s.max_lr)}，pct_start = ${fmt(s.pct_start)}` }[s.kind] || "";
  }

  /** 峰值学习率超过稳定上限、余弦的 T_max 与轮数不同（同 SchedulerExplorer._notes）。 */
  notes(s, h, th) {
    const out = [], peak = Math.max(...h.lr), limit = this.data.lr_limit;
    if (s.kind === "plateau" && h.reductions && h.reductions.length) {
      const cuts = h.reductions.filter((k) => k < this.epochs);
      if (cuts.length) out.push([`第 ${cuts.slice(0, 6).join("、")}${cuts.length > 6 ? "……" : ""} 轮末损失停滞，学习率 ×${fmt(s.factor)}`, th.fg]);
    }
    if (peak > limit) out.push([`峰值学习率 ${fmt(peak)} 超过`, th.fg], [`  全批量稳定上限 2/λ_max ≈ ${fmt(limit)}`, th.fg]);
    if (s.kind === "cosine" && s.T_max !== this.epochs) {
      const T = s.T_max;
      if (T < this.epochs) out.push([`T_max = ${T} < ${this.epochs} 轮：第 ${T} 轮后`, th.fg], [`  学习率沿余弦回升（周期 2·T_max = ${2 * T} 轮）`, th.fg]);
      else out.push([`T_max = ${T} > ${this.epochs} 轮：最后一轮的`, th.fg], [`  学习率还有 η₀ 的 ${Math.round((100 * h.lr[h.lr.length - 1]) / s.lr)}%`, th.fg]);
    }
    return out;
  }
}
