/**
 * 可点击的收敛图：xs × ys 网格上每一格的最终 f − f*（对数色标 viridis，1e-8 … 1e2；灰色：发散或非法），
 * 由 surfaces.mjs 的 convergenceMap 一行一行地在后台线程（mapworker.mjs）里算出，点击一格调用 onPick(i, j)。
 * 第 1、2 章的小图与第 6 章的 50 × 50 敏感度图都用它。
 */
import { convergenceMap, surface } from "./surfaces.mjs";
import { Panel, axes, decade, font, linear, marker, plotBox, viridis } from "./plot.mjs";

export const NORM = [1e-8, 1e2];
const GREY = [153, 153, 153];

export class ConvergenceMap {
  /**
   * @param live   所属的探索器（Live）
   * @param parent 放画布的元素
   * @param o      {xs, ys, xlabel, ylabel, title, onPick(i, j), colorbar, ratio}
   */
  constructor(live, parent, o) {
    this.live = live;
    this.o = o;
    this.panel = new Panel(parent, { ratio: o.ratio || 1, label: o.title });
    this.panel.canvas.classList.add("optimlab-live-map");
    this.panel.canvas.tabIndex = -1;
    this.nx = o.xs.length;
    this.ny = o.ys.length;
    this.img = document.createElement("canvas");
    this.img.width = this.nx;
    this.img.height = this.ny;
    this.key = null;
    this.panel.canvas.addEventListener("click", (ev) => {
      const [x, y] = this.panel.point(ev), b = this.box;
      if (!b || x < b.x || x > b.x + b.w || y < b.y || y > b.y + b.h) return;
      const i = Math.min(this.nx - 1, Math.floor(((x - b.x) / b.w) * this.nx));
      const j = Math.min(this.ny - 1, Math.floor(((b.y + b.h - y) / b.h) * this.ny));
      o.onPick(i, j, ev);
    });
  }

  /**
   * 按需重算（key 变了才算）：surfArgs = [曲面名, {kappa, scale}]（同 surfaces.mjs 的 surface），optName、hp、
   * x0 同 convergenceMap；ys 一行一行地在后台线程里算（不能开线程时在主线程分帧算）。
   */
  update(key, surfArgs, optName, hp, xKey, yKey, steps, x0) {
    if (key === this.key) return;
    this.key = key;
    this.done = 0;
    this.gap = new Float64Array(this.nx * this.ny).fill(NaN);
    this.img.getContext("2d").clearRect(0, 0, this.nx, this.ny);
    const { xs, ys } = this.o;
    const job = { surface: surfArgs, opt: optName, hp, xKey, xs: Array.from(xs), yKey, ys: Array.from(ys), steps, x0: Array.from(x0) };
    const worker = this.worker();
    if (worker) {
      this.jobId = (this.jobId || 0) + 1;
      this.live.waiting.add(this);
      worker.postMessage({ ...job, id: this.jobId });
      return;
    }
    const self = this, surf = surface(...surfArgs);
    this.live.background(this, (function* () {
      for (let j = 0; j < ys.length; j++) {
        self.row(j, convergenceMap(surf, optName, hp, xKey, xs, yKey, [ys[j]], steps, x0).gap);
        yield;
      }
    })());
  }

  /** 后台线程（每张图一个，第一次用到时开）；浏览器不支持模块 Worker 时为 null。 */
  worker() {
    if (this._worker !== undefined) return this._worker;
    try {
      this._worker = new Worker(new URL("./mapworker.mjs", import.meta.url), { type: "module" });
      this._worker.onmessage = (ev) => {
        if (ev.data.id !== this.jobId) return;
        this.row(ev.data.j, ev.data.gap);
        if (this.done >= this.ny) this.live.waiting.delete(this);
        this.live.invalidate(false);
      };
      this._worker.onerror = (ev) => {  // 后台线程出错：报到控制台，改在主线程分帧计算
        console.error(ev.message || ev);
        this._worker = null; this.live.waiting.delete(this); this.key = null; this.live.invalidate(true);
      };
    } catch {
      this._worker = null;
    }
    return this._worker;
  }

  /** 第 j 行算好了：记下并涂到位图上。 */
  row(j, gap) {
    const im = this.img.getContext("2d").createImageData(this.nx, 1);
    for (let i = 0; i < this.nx; i++) {
      const g = gap[i];
      this.gap[j * this.nx + i] = g;
      const c = Number.isFinite(g) && g <= NORM[1] ? viridis((Math.log10(Math.max(g, NORM[0])) + 8) / 10) : GREY;
      im.data.set([...c, 255], 4 * i);
    }
    this.img.getContext("2d").putImageData(im, 0, this.ny - 1 - j);
    this.done = Math.max(this.done, j + 1);
  }

  /** 画图；cross = [x 下标（可为小数）, y 下标] 是当前设置的位置。 */
  draw(cross, th) {
    const p = this.panel, ctx = p.begin(), o = this.o;
    const right = o.colorbar ? 58 : 10;
    const b = (this.box = plotBox(p, { left: 48, right, bottom: 40, top: 22 }));
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = th.grid;
    ctx.fillRect(b.x, b.y, b.w, b.h);
    ctx.drawImage(this.img, b.x, b.y, b.w, b.h);
    const lx = linear(Math.log10(o.xs[0]), Math.log10(o.xs[this.nx - 1]), b.x + b.w / (2 * this.nx), b.x + b.w - b.w / (2 * this.nx));
    lx.ticks = () => {
      const out = [];
      for (let e = Math.ceil(lx.domain[0]); e <= Math.floor(lx.domain[1]); e++) out.push([e, decade(e)]);
      return out;
    };
    const ly = linear(o.ys[0], o.ys[this.ny - 1], b.y + b.h - b.h / (2 * this.ny), b.y + b.h / (2 * this.ny));
    axes(ctx, b, lx, ly, { xlabel: o.xlabel, ylabel: o.ylabel, title: o.title, grid: false, ny: 4 }, th);
    if (cross) {
      const cx = b.x + ((cross[0] + 0.5) / this.nx) * b.w, cy = b.y + b.h - ((cross[1] + 0.5) / this.ny) * b.h;
      marker(ctx, cx, cy, { color: "#ffffff", shape: "+", size: 8 });
      marker(ctx, cx, cy, { color: "#000000", shape: "+", size: 4 });
    }
    if (this.done < this.ny) {
      ctx.font = font(12);
      ctx.fillStyle = th.fg;
      ctx.textAlign = "center";
      ctx.fillText(`计算中… ${this.done}/${this.ny}`, b.x + b.w / 2, b.y + b.h / 2);
    }
    if (o.colorbar) this.colorbar(ctx, b, th);
  }

  colorbar(ctx, b, th) {
    const x = b.x + b.w + 10, w = 10;
    for (let k = 0; k < b.h; k++) {
      const [r, g, bl] = viridis(1 - k / b.h);
      ctx.fillStyle = `rgb(${r},${g},${bl})`;
      ctx.fillRect(x, b.y + k, w, 1);
    }
    ctx.font = font(12);
    ctx.fillStyle = th.fg;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (let e = -8; e <= 2; e += 2) ctx.fillText(decade(e), x + w + 3, b.y + b.h * (1 - (e + 8) / 10));
  }

  /** 第 (i, j) 格的最终 f − f*（NaN：发散、非法或尚未算出）。 */
  at(i, j) { return this.gap ? this.gap[j * this.nx + i] : NaN; }
}
