/**
 * 探索器的画布：HiDPI 画布、主题配色（深色模式）、线性与对数坐标轴、刻度、图例、等高线（行进方块法）、
 * viridis 色标与图中文字。只画图，不计算优化（计算在 ../optim/rules.mjs、surfaces.mjs、problems.mjs）。
 *
 *   new Panel(parent, {ratio, touch}) — 一块画布；panel.begin() 按当前宽度与 devicePixelRatio 重设画布，
 *     返回 2D 上下文（单位为 CSS 像素）；panel.layer(key, draw) 把不常变的部分（等高线、坐标轴）缓存成位图。
 *   linear(d0, d1, r0, r1)、log(d0, d1, r0, r1) — 坐标变换，带 ticks() 与 invert()。
 *   axes(ctx, box, sx, sy, {xlabel, ylabel, title}, th) — 坐标轴、刻度、网格与标签。
 *   contourSegments(f, xlim, ylim, n, levels, offset, fMin) — 等高线（同 optimlab.plotting.draw_contour 的取法）。
 */

export const FONT = '"Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif';
export const RED = "#c0392b";

/** 主题：浅色或深色（读 <html data-theme>）。图的颜色与 matplotlib 的图相同，黑色与灰色随主题换成前景色。 */
export function theme() {
  const dark = document.documentElement.dataset.theme === "dark";
  const css = getComputedStyle(document.documentElement);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return dark
    ? { dark, fg: v("--pst-color-text-base", "#ced6dd"), bg: v("--pst-color-background", "#14181e"),
        muted: "#9aa4ad", grid: "rgba(255,255,255,0.14)", alarm: "#ff7b6b", panel: "rgba(20,24,30,0.82)" }
    : { dark, fg: "#222", bg: "#fff", muted: "#555", grid: "rgba(0,0,0,0.12)", alarm: RED,
        panel: "rgba(255,255,255,0.82)" };
}

/** matplotlib 的黑色与灰色在深色模式下换成前景色（彩色不变：与书中的静态图一致）。 */
export function ink(color, th) {
  if (!th.dark) return color;
  if (color === "#000000") return th.fg;
  if (/^#([0-9a-f]{2})\1\1$/i.test(color)) {  // 灰色：亮度反转
    const g = 255 - parseInt(color.slice(1, 3), 16);
    const c = Math.max(90, Math.min(235, g + 40)).toString(16).padStart(2, "0");
    return `#${c}${c}${c}`;
  }
  return color;
}

export class Panel {
  constructor(parent, { ratio = 0.8, touch = false, label = "" } = {}) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "optimlab-live-canvas";
    if (touch) this.canvas.style.touchAction = "none";
    if (label) this.canvas.setAttribute("aria-label", label);
    this.canvas.setAttribute("role", "img");
    parent.appendChild(this.canvas);
    this.ratio = ratio;
    this.layers = new Map();
    // 宽度来自 ResizeObserver（每帧读 clientWidth 会迫使整页重新排版）；变了就发出 optimlab-resize（冒泡）
    this.cssW = 0;
    new ResizeObserver(([e]) => {
      const w = Math.round(e.contentRect.width);
      if (w && w !== this.cssW) {
        this.cssW = w;
        this.canvas.dispatchEvent(new CustomEvent("optimlab-resize", { bubbles: true }));
      }
    }).observe(this.canvas);
  }

  /** 画布的 CSS 宽度（尚未排版时读一次 clientWidth）。 */
  width() {
    if (!this.cssW) this.cssW = Math.round(this.canvas.clientWidth || this.canvas.parentElement.clientWidth || 300);
    return this.cssW;
  }

  /** 按当前宽度与 devicePixelRatio 准备画布；返回 CSS 像素坐标的上下文。 */
  begin() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(200, this.width());
    const h = Math.round(w * this.ratio);
    if (this.w !== w || this.h !== h || this.dpr !== dpr) {
      this.w = w; this.h = h; this.dpr = dpr;
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
      this.canvas.style.height = `${h}px`;
      this.layers.clear();
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return ctx;
  }

  /** 画一层缓存的位图：key 不变时直接贴上，变了才调用 draw(ctx) 重画。 */
  layer(name, key, draw) {
    let l = this.layers.get(name);
    if (!l || l.key !== key) {
      const c = l ? l.canvas : document.createElement("canvas");
      c.width = this.canvas.width; c.height = this.canvas.height;
      const ctx = c.getContext("2d");
      ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      ctx.clearRect(0, 0, this.w, this.h);
      draw(ctx);
      l = { key, canvas: c };
      this.layers.set(name, l);
    }
    const ctx = this.canvas.getContext("2d");
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(l.canvas, 0, 0);
    ctx.restore();
  }

  /** 指针事件在画布上的 CSS 像素坐标。 */
  point(ev) {
    const r = this.canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }
}

// ---------------------------------------------------------------- scales and ticks

const SUP = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
export const decade = (k) => "10" + String(k).split("").map((c) => SUP[c]).join("");

function niceStep(span, n) {
  const raw = span / n, p = 10 ** Math.floor(Math.log10(raw)), m = raw / p;
  return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}

export function linear(d0, d1, r0, r1) {
  const k = (r1 - r0) / (d1 - d0);
  const s = (v) => r0 + (v - d0) * k;
  s.invert = (r) => d0 + (r - r0) / k;
  s.domain = [d0, d1];
  s.ticks = (n = 5) => {
    const lo = Math.min(d0, d1), hi = Math.max(d0, d1), step = niceStep(hi - lo, n);
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
      const r = Math.abs(v) < step * 1e-9 ? 0 : v;
      out.push([r, +r.toPrecision(12) + ""]);
    }
    return out;
  };
  return s;
}

export function log(d0, d1, r0, r1) {
  const l0 = Math.log10(d0), l1 = Math.log10(d1), k = (r1 - r0) / (l1 - l0);
  const s = (v) => r0 + (Math.log10(Math.max(v, 1e-300)) - l0) * k;
  s.invert = (r) => 10 ** (l0 + (r - r0) / k);
  s.domain = [d0, d1];
  s.ticks = (n = 5) => {
    const a = Math.ceil(Math.min(l0, l1) - 1e-9), b = Math.floor(Math.max(l0, l1) + 1e-9);
    const every = Math.max(1, Math.ceil((b - a + 1) / n));
    const out = [];
    for (let e = a; e <= b; e++) if ((e - a) % every === 0) out.push([10 ** e, decade(e)]);
    return out;
  };
  return s;
}

// ---------------------------------------------------------------- drawing

export const font = (px, bold = false) => `${bold ? "600 " : ""}${px}px ${FONT}`;

/** 画图区 box = {x, y, w, h}（CSS 像素）的坐标轴、刻度、网格与标签。 */
export function axes(ctx, box, sx, sy, { xlabel = "", ylabel = "", title = "", grid = true, nx = 5, ny = 5 } = {}, th) {
  ctx.save();
  ctx.font = font(12);
  ctx.fillStyle = th.fg;
  ctx.strokeStyle = th.grid;
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const [v, label] of sx.ticks(nx)) {
    const x = Math.round(sx(v)) + 0.5;
    if (grid) { ctx.beginPath(); ctx.moveTo(x, box.y); ctx.lineTo(x, box.y + box.h); ctx.stroke(); }
    ctx.fillText(label, x, box.y + box.h + 4);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const [v, label] of sy.ticks(ny)) {
    const y = Math.round(sy(v)) + 0.5;
    if (grid) { ctx.beginPath(); ctx.moveTo(box.x, y); ctx.lineTo(box.x + box.w, y); ctx.stroke(); }
    ctx.fillText(label, box.x - 4, y);
  }
  ctx.strokeStyle = th.muted;
  ctx.strokeRect(box.x + 0.5, box.y + 0.5, box.w - 1, box.h - 1);
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  if (xlabel) ctx.fillText(xlabel, box.x + box.w / 2, box.y + box.h + 34);
  if (title) { ctx.font = font(13, true); ctx.fillText(title, box.x + box.w / 2, box.y - 5); }
  if (ylabel) {
    ctx.font = font(12);
    ctx.translate(14, box.y + box.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(ylabel, 0, 0);
  }
  ctx.restore();
}

/** 画图区：左 56、下 42、上 22、右 10 像素留给刻度与标签。 */
export const plotBox = (p, { left = 56, bottom = 42, top = 22, right = 10 } = {}) =>
  ({ x: left, y: top, w: p.w - left - right, h: p.h - top - bottom });

/** 折线（NaN 处断开）：xs、ys 为数组或函数 i → 值，画前 n 个点。 */
export function polyline(ctx, n, X, Y, { color, width = 1.3, dash = false, dots = 0, box } = {}) {
  ctx.save();
  if (box) { ctx.beginPath(); ctx.rect(box.x, box.y, box.w, box.h); ctx.clip(); }
  ctx.strokeStyle = ctx.fillStyle = color;
  ctx.lineWidth = width;
  ctx.setLineDash(dash ? [5, 3] : []);
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < n; i++) {
    const x = X(i), y = Y(i);
    if (!Number.isFinite(x) || !Number.isFinite(y)) { pen = false; continue; }
    if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    pen = true;
  }
  ctx.stroke();
  if (dots > 0) {
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const x = X(i), y = Y(i);
      if (Number.isFinite(x) && Number.isFinite(y)) { ctx.moveTo(x + dots, y); ctx.arc(x, y, dots, 0, 2 * Math.PI); }
    }
    ctx.fill();
  }
  ctx.restore();
}

export function marker(ctx, x, y, { color, shape = "o", size = 5, stroke = null } = {}) {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return;
  ctx.save();
  ctx.fillStyle = color;
  ctx.strokeStyle = stroke || color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  if (shape === "*") {
    for (let k = 0; k < 10; k++) {
      const r = k % 2 ? size * 0.45 : size, a = -Math.PI / 2 + (k * Math.PI) / 5;
      ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
    }
    ctx.closePath(); ctx.fill();
  } else if (shape === "D") {
    ctx.moveTo(x, y - size); ctx.lineTo(x + size, y); ctx.lineTo(x, y + size); ctx.lineTo(x - size, y);
    ctx.closePath(); ctx.stroke();
  } else if (shape === "+") {
    ctx.lineWidth = 2;
    ctx.moveTo(x - size, y); ctx.lineTo(x + size, y); ctx.moveTo(x, y - size); ctx.lineTo(x, y + size); ctx.stroke();
  } else {
    ctx.arc(x, y, size, 0, 2 * Math.PI); ctx.fill();
    if (stroke) ctx.stroke();
  }
  ctx.restore();
}

/** 几行文字，带半透明底；align "left" | "right"。返回下一行的 y。 */
export function textLines(ctx, lines, x, y, { align = "left", th, size = 12 } = {}) {
  ctx.save();
  ctx.font = font(size);
  ctx.textAlign = align;
  ctx.textBaseline = "top";
  const lh = Math.round(size * 1.35);
  const w = Math.max(0, ...lines.map(([t]) => ctx.measureText(t).width));
  if (lines.length) {
    ctx.fillStyle = th.panel;
    ctx.fillRect(align === "right" ? x - w - 3 : x - 3, y - 2, w + 6, lines.length * lh + 3);
  }
  lines.forEach(([t, color], i) => { ctx.fillStyle = color || th.fg; ctx.fillText(t, x, y + i * lh); });
  ctx.restore();
  return y + lines.length * lh;
}

/** 图例：items = [{label, color, dash, dots, shape}]，放在 box 的某个角（"ll"、"ul"、"ur"、"lr"）。 */
export function legend(ctx, box, items, corner, th) {
  ctx.save();
  ctx.font = font(12);
  const lh = 17, w = Math.max(...items.map((it) => ctx.measureText(it.label).width)) + 34, h = items.length * lh + 6;
  const x = corner.endsWith("l") ? box.x + 6 : box.x + box.w - w - 6;
  const y = corner.startsWith("u") ? box.y + 6 : box.y + box.h - h - 6;
  ctx.fillStyle = th.panel;
  ctx.strokeStyle = th.grid;
  ctx.fillRect(x, y, w, h);
  ctx.strokeRect(x + 0.5, y + 0.5, w, h);
  items.forEach((it, i) => {
    const cy = y + 3 + i * lh + lh / 2;
    if (it.shape) marker(ctx, x + 14, cy, { color: it.color, shape: it.shape, size: 5 });
    else polyline(ctx, 2, (k) => x + 5 + k * 18, () => cy, { color: it.color, dash: it.dash, width: 1.6 });
    ctx.fillStyle = th.fg;
    ctx.textBaseline = "middle";
    ctx.fillText(it.label, x + 28, cy + 1);
  });
  ctx.restore();
}

// ---------------------------------------------------------------- colours

const VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70",
  "#7ad151", "#bddf26", "#fde725"].map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));

/** matplotlib 的 viridis，t ∈ [0, 1] → [r, g, b]。 */
export function viridis(t) {
  const u = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1), i = Math.min(VIRIDIS.length - 2, Math.floor(u)), a = u - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + (VIRIDIS[i + 1][k] - c) * a));
}
export const rgb = ([r, g, b], alpha = 1) => `rgba(${r},${g},${b},${alpha})`;

// ---------------------------------------------------------------- contours

/**
 * 等高线：在 n × n 网格上求 f，按 f − f* + offset 的最小值到最大值对数等分 levels 条（同
 * optimlab.plotting.contour_levels），行进方块法给出每条的线段 [x0, y0, x1, y1, …]（数据坐标）。
 */
export function contourSegments(f, xlim, ylim, n, levels, offset, fMin) {
  const z = new Float64Array(n * n), xs = new Float64Array(n), ys = new Float64Array(n);
  for (let i = 0; i < n; i++) { xs[i] = xlim[0] + ((xlim[1] - xlim[0]) * i) / (n - 1); ys[i] = ylim[0] + ((ylim[1] - ylim[0]) * i) / (n - 1); }
  let lo = Infinity, hi = -Infinity;
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) {
    const v = Math.log10(f(xs[i], ys[j]) - fMin + offset);
    z[j * n + i] = v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = [];
  for (let l = 0; l < levels; l++) {
    const c = lo + ((hi - lo) * l) / (levels - 1), seg = [];
    for (let j = 0; j < n - 1; j++) for (let i = 0; i < n - 1; i++) {
      const a = z[j * n + i], b = z[j * n + i + 1], d = z[(j + 1) * n + i], e = z[(j + 1) * n + i + 1];
      const pts = [];
      const edge = (v0, v1, x0, y0, x1, y1) => {
        if ((v0 < c) !== (v1 < c)) { const t = (c - v0) / (v1 - v0); pts.push(x0 + t * (x1 - x0), y0 + t * (y1 - y0)); }
      };
      edge(a, b, xs[i], ys[j], xs[i + 1], ys[j]);
      edge(b, e, xs[i + 1], ys[j], xs[i + 1], ys[j + 1]);
      edge(e, d, xs[i + 1], ys[j + 1], xs[i], ys[j + 1]);
      edge(d, a, xs[i], ys[j + 1], xs[i], ys[j]);
      for (let k = 0; k + 3 < pts.length; k += 4) seg.push(pts[k], pts[k + 1], pts[k + 2], pts[k + 3]);
    }
    out.push({ t: l / (levels - 1), seg });
  }
  return out;
}

export function drawContours(ctx, sets, sx, sy, box) {
  ctx.save();
  ctx.beginPath(); ctx.rect(box.x, box.y, box.w, box.h); ctx.clip();
  ctx.lineWidth = 0.8;
  for (const { t, seg } of sets) {
    ctx.strokeStyle = rgb(viridis(t), 0.8);
    ctx.beginPath();
    for (let k = 0; k < seg.length; k += 4) { ctx.moveTo(sx(seg[k]), sy(seg[k + 1])); ctx.lineTo(sx(seg[k + 2]), sy(seg[k + 3])); }
    ctx.stroke();
  }
  ctx.restore();
}
