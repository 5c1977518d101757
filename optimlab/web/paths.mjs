/**
 * 二维曲面上的轨迹探索器（同 optimlab.widgets.paths 与 widgets.more）：sgd、adam、nadam、adamw、more_optimizers。
 * 左：等高线 + 轨迹 + 最小点 + 可拖动的起点；右：f(θ_t) − f* 的对数曲线、图例、结果；第 1、2 章另有一张
 * 可点击的 (η, μ) / (η, β₁) 小收敛图。轨迹由 surfaces.mjs 的 run 计算。
 */
import { run, surface } from "./surfaces.mjs";
import { pow } from "../optim/rules.mjs";
import { Live, fmt } from "./live.mjs";
import { ConvergenceMap } from "./maps.mjs";
import { Panel, axes, contourSegments, drawContours, ink, legend, linear, log, marker, plotBox, polyline, textLines, font } from "./plot.mjs";

/** 等高线按曲面缓存（切换回来的曲面不再重算）：key → 线段。 */
const CONTOURS = new Map();
function contoursOf(s, c) {
  if (!CONTOURS.has(s.key)) {
    if (CONTOURS.size >= 16) CONTOURS.delete(CONTOURS.keys().next().value);
    CONTOURS.set(s.key, contourSegments(s.f, s.xlim, s.ylim, c.resolution, c.levels, c.offset, s.fMin));
  }
  return CONTOURS.get(s.key);
}

/** 到达目标：f − f* 小于它（与收敛图色标的下限相同）。 */
export const TARGET = 1e-8;
const yes = (b) => (b ? "是" : "否");

/** 每个探索器运行的优化器（同 Python 的 _specs）与图上方的标题（同 _title）。 */
const KINDS = {
  sgd: {
    specs: (v) => [["SGD", "SGD", { lr: v.lr, momentum: v.momentum, dampening: v.dampening, nesterov: v.nesterov, weight_decay: v.weight_decay }]],
    title: (v) => `SGD：η = ${fmt(v.lr)}，μ = ${fmt(v.momentum)}，τ = ${fmt(v.dampening)}，Nesterov = ${yes(v.nesterov)}，λ = ${fmt(v.weight_decay)}`,
    map: { opt: "SGD", y: "momentum", yKey: "momentum", ylabel: "动量 μ", series: "SGD",
           hp: (v) => ({ dampening: v.dampening, nesterov: v.nesterov, weight_decay: v.weight_decay }) },
  },
  adam: {
    specs: (v) => [["Adam", "Adam", { lr: v.lr, betas: [v.beta1, v.beta2], eps: v.eps }],
                   ["SGD", "SGD", { lr: v.sgd_lr, momentum: v.beta1 }],
                   ["RMSprop", "RMSprop", { lr: v.lr, alpha: v.beta2, eps: v.eps }]],
    title: (v) => `Adam：η = ${fmt(v.lr)}，β₁ = ${fmt(v.beta1)}，β₂ = ${fmt(v.beta2)}，ε = ${fmt(v.eps)}｜SGD：μ = β₁，η = ${fmt(v.sgd_lr)}｜RMSprop：α = β₂`,
    map: { opt: "Adam", y: "beta1", yKey: "beta1", ylabel: "β₁", series: "Adam", hp: (v) => ({ betas: [0.9, v.beta2], eps: v.eps }) },
  },
  nadam: {
    specs: (v) => [["Adam", "Adam", { lr: v.lr, betas: [v.beta1, v.beta2] }],
                   ["NAdam", "NAdam", { lr: v.lr, betas: [v.beta1, v.beta2], momentum_decay: v.momentum_decay }]],
    title: (v) => `Adam 与 NAdam：η = ${fmt(v.lr)}，β₁ = ${fmt(v.beta1)}，β₂ = ${fmt(v.beta2)}；NAdam 的 ψ = ${fmt(v.momentum_decay)}`,
  },
  adamw: {
    specs: (v) => [["AdamW", "AdamW", { lr: v.lr, weight_decay: v.weight_decay }], ["Adam + L2", "Adam", { lr: v.lr, weight_decay: v.weight_decay }]],
    title: (v) => `AdamW 与 Adam + L2：η = ${fmt(v.lr)}，λ = ${fmt(v.weight_decay)}，梯度尺度 s = ${fmt(v.scale)}`,
  },
  more_optimizers: {
    specs: (v, o) => [[v.optimizer, v.optimizer, { lr: v.lr }], [o.baseline, "Adam", { lr: o.baseline_lr[v.surface] }]],
    title: (v, o, surf) => `${v.optimizer}（${surf.name}）：η = ${fmt(v.lr)}，其余超参数取 torch 默认值｜基准：Adam，η = ${fmt(o.baseline_lr[v.surface])}`,
  },
};

/** 按宽度把文字在“，”“｜”“；”处折行。 */
export function wrap(ctx, text, width) {
  const parts = text.split(/(?<=[，｜；])/), lines = [];
  let cur = "";
  for (const p of parts) {
    if (cur && ctx.measureText(cur + p).width > width) { lines.push(cur); cur = p.replace(/^｜/, ""); } else cur += p;
  }
  if (cur) lines.push(cur);
  return lines;
}

export class PathLive extends Live {
  constructor(root, spec) {
    super(root, spec);
    this.kind = this.kindOf(spec);
    this.steps = this.opt.steps;
    this.player();
    if (this.opt.excluded) this.note(this.opt.excluded);
    this.x0 = null;
    this.build();
    this.dragStart();
    this.invalidate(true);
    this.warmContours();
  }

  /** 空闲时先算好菜单里其他曲面的等高线（缓存在 CONTOURS），读者切换曲面时不必当场计算。 */
  warmContours() {
    const sel = this.spec.definition.controls.surface, c = this.opt.contour;
    if (!sel || !c) return;
    const idle = window.requestIdleCallback || ((f) => setTimeout(f, 200));
    const todo = sel.options.map(([, name]) => name);
    const next = () => {
      const name = todo.shift();
      if (name === undefined) return;
      contoursOf(surface(name, { kappa: this.controls.values().kappa }), c);
      idle(next);
    };
    idle(next);
  }

  kindOf(spec) { return KINDS[spec.name]; }

  /** 画布：标题、等高线（可拖动起点）、损失曲线，第 1、2 章另有小收敛图。 */
  build() {
    this.header = new Panel(this.panels, { label: "当前设置" });
    this.header.canvas.classList.add("optimlab-live-header");
    this.left = new Panel(this.panels, { ratio: 0.9, touch: true, label: "等高线与轨迹：拖动改变起点" });
    this.right = new Panel(this.panels, { ratio: 0.9, label: "损失曲线" });
    const m = this.kind.map;
    if (!m) return;
    const lr = this.def.controls.lr, yc = this.def.controls[m.y];
    const nx = Math.round((lr.hi - lr.lo) / lr.step) + 1, ny = 12;
    const xs = Array.from({ length: nx }, (_, i) => pow(10, lr.lo + i * lr.step));
    const ys = Array.from({ length: ny }, (_, j) => Number((yc.lo + Math.round(((yc.hi - yc.lo) * j) / (ny - 1) / yc.step) * yc.step).toFixed(6)));
    this.map = new ConvergenceMap(this, this.panels, {
      xs, ys, xlabel: "学习率 η（点击选取）", ylabel: m.ylabel, title: `${m.opt}：${this.steps} 步后的 f − f*`,
      onPick: (i, j, ev) => { this.controls.set("lr", xs[i]); this.controls.set(m.y, ys[j]); this.changed("lr", xs[i], ev); },
    });
  }

  /** 地图上十字准星的位置（格的下标，可为小数）。 */
  cross(v) {
    const m = this.kind.map, lr = this.def.controls.lr, ys = this.map.o.ys, ny = ys.length;
    return [((Math.log10(v.lr) - lr.lo) / (lr.hi - lr.lo)) * (this.map.nx - 1), ((v[m.y] - ys[0]) / (ys[ny - 1] - ys[0])) * (ny - 1)];
  }

  note(excluded) {
    const p = document.createElement("p");
    p.className = "optimlab-live-aside";
    p.textContent = "菜单里没有 torch.optim 的另外三个优化器——" +
      Object.entries(excluded).map(([k, why]) => `${k}：${why}`).join("；") +
      "。切换优化器或曲面时，学习率跳到该组合的建议值；灰线是固定的 Adam 基准。";
    this.ui.insertBefore(p, this.bar);
  }

  onControl(name, v) {
    if (name === "surface" || name === "kappa" || name === "scale") this.x0 = null;
    if (this.spec.name === "more_optimizers" && (name === "optimizer" || name === "surface")) {
      this.controls.set("lr", pow(10, this.opt.suggested_lr[this.value("optimizer")][this.value("surface")]));
    }
  }

  /** surfaces.mjs 的 surface(name, options) 的参数。 */
  surfArgs() {
    const v = this.controls.values();
    return this.spec.name === "adamw" ? ["scaled_quadratic", { scale: v.scale }] : [v.surface, { kappa: v.kappa }];
  }

  surface() { return surface(...this.surfArgs()); }

  compute() {
    const v = this.controls.values();
    if ("kappa" in v) this.controls.disable("kappa", v.surface !== "quadratic");
    this.surf = this.surface();
    const x0 = this.x0 || this.surf.x0;
    this.runs = this.kind.specs(v, this.opt).map(([label, opt, hp]) => ({ label, opt, hp, res: run(this.surf, opt, hp, this.steps, x0) }));
    const m = this.kind.map;
    if (m) {
      const hp = m.hp(v);
      const key = JSON.stringify([this.surf.key, hp, x0, this.steps]);
      this.map.update(key, this.surfArgs(), m.opt, hp, "lr", m.yKey, this.steps, x0);
    }
  }

  total() { return this.steps; }

  /** 拖动起点（鼠标与触摸：指针事件）。 */
  dragStart() {
    const c = this.left.canvas;
    const at = (ev) => {
      const [px, py] = this.left.point(ev), b = this.box;
      if (!b || !this.sx) return null;
      const x = Math.min(Math.max(px, b.x), b.x + b.w), y = Math.min(Math.max(py, b.y), b.y + b.h);
      return [this.sx.invert(x), this.sy.invert(y)];
    };
    c.addEventListener("pointerdown", (ev) => {
      const p = at(ev);
      if (!p) return;
      c.setPointerCapture(ev.pointerId);
      this.dragging = true;
      this.x0 = p;
      this.changed("start", p, ev);
    });
    c.addEventListener("pointermove", (ev) => {
      if (!this.dragging) return;
      const p = at(ev);
      if (p) { this.x0 = p; this.changed("start", p, ev); }
    });
    const end = () => { this.dragging = false; };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener("dblclick", (ev) => { this.x0 = null; this.changed("start", null, ev); });
  }

  draw() {
    const th = this.th, v = this.controls.values(), K = this.upto();
    this.drawStep();
    // 标题：当前超参数
    const hctx = this.header.canvas.getContext("2d");
    hctx.font = font(13, true);
    const w = this.header.width();
    const lines = this.surf ? wrap(hctx, this.kind.title(v, this.opt, this.surf), w - 12) : this.failureLines().map(([t]) => t);
    this.header.ratio = (lines.length * 19 + 8) / Math.max(w, 200);
    const h = this.header.begin();
    h.font = font(13, true);
    h.fillStyle = th.fg;
    h.textAlign = "center";
    h.textBaseline = "top";
    lines.forEach((t, i) => h.fillText(t, this.header.w / 2, 4 + i * 19));
    if (!this.surf) return;
    this.drawPaths(th, K);
    if (this.right) this.drawLoss(th, K);
    if (this.map) this.map.draw(this.cross(v), th);
  }

  drawPaths(th, K) {
    const p = this.left, ctx = p.begin(), s = this.surf, b = (this.box = plotBox(p, { left: 44, bottom: 38 }));
    const sx = (this.sx = linear(s.xlim[0], s.xlim[1], b.x, b.x + b.w)), sy = (this.sy = linear(s.ylim[0], s.ylim[1], b.y + b.h, b.y));
    const c = this.opt.contour;
    const title = this.spec.name === "adamw" ? "f_s = s·f 的等高线（+ 为原点）" : s.name;
    p.layer("contours", `${this.spec.name === "adamw" ? "adamw" : s.key}|${th.dark}`, (l) => {
      // AdamW：f_s = s·f 的形状与 s 无关，等高线只按 s = 1 画（同 AdamWExplorer）
      drawContours(l, contoursOf(this.spec.name === "adamw" ? surface("scaled_quadratic", { scale: 1 }) : s, c), sx, sy, b);
      axes(l, b, sx, sy, { xlabel: "x", ylabel: "y", title, grid: false }, th);
      marker(l, sx(s.minimizer[0]), sy(s.minimizer[1]), { color: this.color("最小点", "#dc143c"), shape: "*", size: 8 });
      if (this.spec.name === "adamw") marker(l, sx(0), sy(0), { color: ink("#000000", th), shape: "+", size: 6 });
    });
    for (const r of this.runs) {
      if (r.res.error) continue;
      const color = ink(this.color(r.label), th), path = r.res.path;
      polyline(ctx, K + 1, (i) => sx(path[2 * i]), (i) => sy(path[2 * i + 1]), { color, width: 1.2, dots: 1.4, dash: this.dashed(r.label), box: b });
      let last = K;
      while (last > 0 && !Number.isFinite(path[2 * last])) last--;
      marker(ctx, sx(path[2 * last]), sy(path[2 * last + 1]), { color, size: 4 });
    }
    if (this.spec.name === "adamw") {
      const { h, target } = this.opt.l2, v = this.controls.values();
      const pt = h.map((hi, i) => (v.scale * hi * target[i]) / (v.scale * hi + v.weight_decay));
      marker(ctx, sx(pt[0]), sy(pt[1]), { color: this.color("L2", "#d62728"), shape: "D", size: 5 });
    }
    const x0 = this.x0 || s.x0;
    marker(ctx, sx(x0[0]), sy(x0[1]), { color: ink(this.color("起点"), th), size: 5.5, stroke: th.bg });
    textLines(ctx, [["拖动：改变起点（双击复位）", th.muted]], b.x + 4, b.y + b.h - 20, { th });
  }

  drawLoss(th, K) {
    const p = this.right, ctx = p.begin(), s = this.surf, b = plotBox(p, { left: 52, bottom: 38 });
    const floor = this.opt.loss_floor;
    let top;
    if (this.spec.name === "adamw") { top = 1e8; } else {
      const x0 = this.x0 || s.x0;
      top = Math.max(s.f(x0[0], x0[1]) - s.fMin, 1) * 1e4;
    }
    const lo = this.spec.name === "adamw" ? 1e-8 : floor;
    const sx = linear(0, this.steps, b.x, b.x + b.w), sy = log(lo, top, b.y + b.h, b.y);
    axes(ctx, b, sx, sy, { xlabel: "步数 t", ylabel: this.spec.name === "adamw" ? "f_s(θ_t) − f_s*" : "f(θ_t) − f*" }, th);
    const msgs = [], items = [];
    for (const r of this.runs) {
      const color = ink(this.color(r.label), th), label = this.legendLabel(r.label);
      items.push({ label, color, dash: this.dashed(r.label) });
      if (r.res.error) { msgs.push([`${r.label}：${this.errorText(r.res.error)}`, th.alarm]); continue; }
      const loss = r.res.loss;
      polyline(ctx, K + 1, (i) => sx(i), (i) => sy(Math.max(loss[i] - s.fMin, floor)), { color, dash: this.dashed(r.label), box: b });
      msgs.push(this.outcome(r, K, th));
    }
    if (this.k !== null) polyline(ctx, 2, () => sx(K), (i) => (i ? b.y : b.y + b.h), { color: th.muted, width: 0.8 });
    legend(ctx, b, items, "ll", th);
    textLines(ctx, [...this.failureLines(), ...msgs], b.x + b.w - 4, b.y + 4, { align: "right", th });
  }

  legendLabel(name) {
    return this.spec.name === "more_optimizers" && this.opt.labels[name] ? this.opt.labels[name] : name;
  }

  /** 第 K 步的结果：发散（第 k 步）/ 第 k 步到达目标 / 第 K 步（最终）f − f*。 */
  outcome(r, K, th) {
    const { loss, divergedAt } = r.res, fMin = this.surf.fMin;
    if (divergedAt !== null && divergedAt <= K) return [`${r.label}：发散（第 ${divergedAt} 步）`, th.alarm];
    let hit = -1;
    for (let i = 0; i <= K; i++) if (loss[i] - fMin < TARGET) { hit = i; break; }
    const gap = fmt(loss[K] - fMin);
    if (hit >= 0) return [`${r.label}：第 ${hit} 步到达目标（f − f* < 1e-8）`, th.fg];
    return [`${r.label}：${K === this.steps ? "最终损失" : `第 ${K} 步`} f − f* = ${gap}`, th.fg];
  }
}
