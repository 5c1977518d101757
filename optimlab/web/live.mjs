/**
 * 实时探索器的公共部分（各探索器是 Live 的子类）：控件、播放条、画布、重画的调度与消息。
 *
 * 控件变化 → invalidate(true)：下一帧（requestAnimationFrame，多次输入合并成一次）先 compute() 再 draw()；
 * 只换画面（播放、主题、宽度）→ invalidate(false)。耗时的背景计算（收敛图）用 background(gen) 分帧进行，
 * 每帧不超过 BUDGET 毫秒；收敛图在后台线程里算（maps.mjs）。每画完一帧在根元素上发出 "optimlab-drawn" 事件；
 * 主线程还有分帧的工作或正在播放时根元素带 data-busy="1"，后台线程还在算收敛图时带 data-computing="1"
 * （测试与基准脚本用它们）。
 * compute()/draw() 中的任何异常都画成图中的消息，不抛出。
 */
import { buildControls, fmt } from "./controls.mjs";
import { theme } from "./plot.mjs";

export const BUDGET = 8;

export class Live {
  constructor(root, spec) {
    this.root = root;
    this.spec = spec;
    this.def = spec.definition;
    this.opt = spec.options || {};
    this.data = spec.data || {};
    this.th = theme();
    this.k = null;          // 播放位置：null 表示整条轨迹
    this.playing = false;
    this.needCompute = true;
    this.jobs = [];
    this.waiting = new Set();  // 后台线程里还没算完的收敛图
    this.ui = document.createElement("div");
    this.ui.className = "optimlab-live-ui";
    const note = root.querySelector(".optimlab-live-note");
    root.insertBefore(this.ui, note);
    const grids = { lr: this.opt.lrs, second: this.opt.seconds };
    this.controls = buildControls(this.ui, this.def.controls, spec.values, (n, v, ev) => this.changed(n, v, ev), { grids });
    this.bar = document.createElement("div");
    this.bar.className = "optimlab-live-player";
    this.ui.appendChild(this.bar);
    this.panels = document.createElement("div");
    this.panels.className = "optimlab-live-panels";
    this.ui.appendChild(this.panels);
    root.addEventListener("optimlab-resize", () => this.invalidate(false));
  }

  color(key, fallback = "#000000") { return (this.spec.colors || {})[key] || fallback; }
  dashed(key) { return (this.spec.dashed || []).includes(key); }
  value(name) { return this.controls.value(name); }

  /** 控件变化：子类的 onControl 可以连带改别的控件（如建议学习率），然后重算。 */
  changed(name, v, ev) {
    try { this.onControl(name, v, ev); } catch (err) { this.fail(err); }
    this.k = this.playing ? 0 : null;
    this.invalidate(true);
  }
  onControl() {}

  invalidate(compute = false) {
    this.needCompute = this.needCompute || compute;
    if (!this.raf) this.raf = requestAnimationFrame((t) => this.frame(t));
  }

  frame(t) {
    this.raf = 0;
    this.th = theme();
    try {
      if (this.needCompute) { this.needCompute = false; this.failure = null; this.compute(); }
    } catch (err) { this.fail(err); }
    try { this.draw(); } catch (err) { this.fail(err); try { this.draw(); } catch { /* 画不出来：留下上一帧 */ } }
    this.root.dispatchEvent(new CustomEvent("optimlab-drawn"));
    if (this.playing) this.advance(t);
    if (this.jobs.length) this.runJobs();
    this.root.dataset.busy = this.jobs.length || this.playing ? "1" : "";
    this.root.dataset.computing = this.waiting.size ? "1" : "";
  }

  /** 出错了：非法超参数不走这里（rules.mjs 的 validate 给出 torch 的信息，作为结果的 error 画出），走到这里的都是
   *  程序错误。图中写出“无法运行：……”（探索器不会就此停住），同时报到控制台，不吞掉（浏览器测试因此失败）。 */
  fail(err) {
    this.failure = err;
    console.error(err);
  }

  /** 计算失败时图中显示的消息（同 optimlab.widgets.base.error_message）。 */
  failureLines() {
    return this.failure ? [[`无法运行：${this.failure.message || this.failure}`, this.th.alarm]] : [];
  }

  errorText(msg) {
    const m = (this.opt.messages || {})[msg];
    return `无法运行：${m || msg}`;
  }

  // ------------------------------------------------------------ background work (maps)

  /** 分帧运行生成器 gen（每个 yield 之后看时间）；key 相同的旧任务被替换。 */
  background(key, gen) {
    this.jobs = this.jobs.filter((j) => j.key !== key);
    this.jobs.push({ key, gen });
    this.invalidate(false);
  }

  runJobs() {
    const t0 = performance.now();
    while (this.jobs.length && performance.now() - t0 < BUDGET) {
      const job = this.jobs[0];
      let r;
      try { r = job.gen.next(); } catch (err) { this.fail(err); r = { done: true }; }
      if (r.done) this.jobs.shift();
    }
    this.invalidate(false);
  }

  // ------------------------------------------------------------ player

  /** 播放条：播放 / 暂停、单步、从头，与“第 k / N 步”读数。total() 是可播放的步数。 */
  player(unit = "步") {
    const button = (text, title, fn) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.title = title;
      b.addEventListener("click", (ev) => { fn(ev); this.invalidate(false); });
      this.bar.appendChild(b);
      return b;
    };
    this.playButton = button("▶ 播放", "逐步播放", () => this.toggle());
    button("单步 ›", "前进一步", () => { this.pause(); this.k = this.k === null || this.k >= this.total() ? this.first() : this.k + 1; });
    button("« 从头", "回到开头", () => { this.pause(); this.k = this.first(); });
    button("全部 »", "显示整条轨迹", () => { this.pause(); this.k = null; });
    this.stepOut = document.createElement("span");
    this.stepOut.className = "optimlab-live-step";
    this.bar.appendChild(this.stepOut);
    this.unit = unit;
  }

  /** 播放的起点（偏差校正从第 1 步起，其余从第 0 步起）。 */
  first() { return 0; }

  toggle() {
    if (this.playing) return this.pause();
    this.playing = true;
    if (this.k === null || this.k >= this.total()) this.k = this.first();
    this.lastTick = null;
    this.playButton.textContent = "‖ 暂停";
  }

  pause() {
    this.playing = false;
    if (this.playButton) this.playButton.textContent = "▶ 播放";
  }

  /** 播放：约 4 秒走完全程。 */
  advance(t) {
    const n = this.total();
    if (this.lastTick === null) this.lastTick = t;
    const dk = Math.floor(((t - this.lastTick) * n) / 4000);
    if (dk >= 1) { this.k = Math.min(n, this.k + dk); this.lastTick = t; }
    if (this.k >= n) { this.pause(); this.k = null; }
    this.invalidate(false);
  }

  /** 当前显示到第几步（播放中为 k，否则为全程）。 */
  upto() { return this.k === null ? this.total() : this.k; }

  drawStep() {
    if (this.stepOut) this.stepOut.textContent = `第 ${this.upto()} / ${this.total()} ${this.unit}`;
  }
}

export { fmt };
