/**
 * 第 6 章的敏感度探索器（同 optimlab.widgets.sensitivity）：左边 50 × 50 的 (η, β₁ / μ / α) 收敛图
 * （点击一格选取该设置），右边所选设置在曲面上的轨迹（起点可拖动，收敛图随之重算）。
 */
import { RULES } from "../optim/rules.mjs";
import { fmt } from "./live.mjs";
import { ConvergenceMap } from "./maps.mjs";
import { PathLive } from "./paths.mjs";
import { Panel, textLines } from "./plot.mjs";

/** 第二个超参数写进 torch 的超参数：beta1 是 betas 的第一个分量（β₂ 取默认值）。 */
function withSecond(opt, key, value) {
  return key === "beta1" ? { betas: [value, RULES[opt].defaults.betas[1]] } : { [key]: value };
}

export class SensitivityLive extends PathLive {
  kindOf() {
    return {
      specs: (v, o) => [[v.optimizer, v.optimizer, { lr: o.lrs[v.lr], ...withSecond(v.optimizer, o.second[v.optimizer][0], o.seconds[v.second]) }]],
      title: (v, o, surf) => `${v.optimizer}（${surf.name}）：η = ${fmt(o.lrs[v.lr])}，${o.second[v.optimizer][1]} = ${o.seconds[v.second].toFixed(3)}`,
    };
  }

  build() {
    this.header = new Panel(this.panels, { label: "当前设置" });
    this.header.canvas.classList.add("optimlab-live-header");
    const { lrs, seconds } = this.opt;
    this.map = new ConvergenceMap(this, this.panels, {
      xs: lrs, ys: seconds, xlabel: "学习率 η（点击选取）", ylabel: "", title: "", colorbar: true, ratio: 0.95,
      onPick: (i, j, ev) => { this.controls.set("lr", i); this.controls.set("second", j); this.changed("lr", i, ev); },
    });
    this.map.panel.canvas.classList.add("optimlab-live-bigmap");
    this.left = new Panel(this.panels, { ratio: 0.9, touch: true, label: "所选设置的轨迹：拖动改变起点" });
    this.right = null;
  }

  compute() {
    super.compute();
    const v = this.controls.values(), x0 = this.x0 || this.surf.x0, [key, label] = this.opt.second[v.optimizer];
    Object.assign(this.map.o, { ylabel: label, title: `${v.optimizer}：${this.steps} 步后的 f − f*（灰：发散）` });
    this.map.update(JSON.stringify([this.surf.key, v.optimizer, x0]), this.surfArgs(), v.optimizer, {}, "lr", key, this.steps, x0);
  }

  cross(v) { return [v.lr, v.second]; }

  draw() {
    super.draw();
    if (!this.runs || !this.box) return;
    const th = this.th, K = this.upto(), r = this.runs[0], ctx = this.left.canvas.getContext("2d"), b = this.box;
    const line = r.res.error ? [this.errorText(r.res.error), th.alarm] : this.outcome(r, K, th);
    textLines(ctx, [...this.failureLines(), [line[0].replace(`${r.label}：`, ""), line[1]]], b.x + b.w - 4, b.y + 4, { align: "right", th });
  }
}
