/**
 * 网页上的实时探索器（入口模块）：找出页面上每个 <div class="optimlab-live">（optimlab.widgets.page.live_html
 * 写出），读其中的 JSON（定义、当前值、构造参数、配色、数据），建出控件与画布，在浏览器里计算并画图。
 * 没有依赖，不联网；计算来自 ../optim/rules.mjs、surfaces.mjs 与 problems.mjs。
 *
 *   <div class="optimlab-live-tabs"> 里的几个探索器显示成标签页（第 4 章）。
 *   每个探索器运行后根元素带 data-live（启动时刻，ms），.optimlab-live-fallback 隐藏。
 *   主题切换（<html data-theme>）与画布宽度变化（plot.mjs 的 Panel）时重画。
 *   在页面的 load 事件之后才启动（不拖慢页面加载）；启动失败时在原处写出原因，并报到控制台。
 */
import { BiasLive, ReddiLive, SchedulerLive } from "./curves.mjs";
import { PathLive } from "./paths.mjs";
import { SensitivityLive } from "./sensitivity.mjs";

export const EXPLORERS = {
  sgd: PathLive, adam: PathLive, nadam: PathLive, adamw: PathLive, more_optimizers: PathLive,
  bias_correction: BiasLive, reddi: ReddiLive, scheduler: SchedulerLive, sensitivity: SensitivityLive,
};

const live = [];

/** 启动一个探索器；失败时在原处写出原因（不抛出）。 */
export function mount(root) {
  if (root.dataset.live) return null;
  const fallback = root.querySelector(".optimlab-live-fallback");
  try {
    const spec = JSON.parse(root.querySelector("script.optimlab-live-spec").textContent);
    const Kind = EXPLORERS[spec.name];
    if (!Kind) throw new Error(`没有名为 ${spec.name} 的网页探索器`);
    const ex = new Kind(root, spec);
    root.dataset.live = performance.now().toFixed(1);
    root.classList.add("optimlab-live-running");
    if (fallback) fallback.hidden = true;
    live.push(ex);
    return ex;
  } catch (err) {
    if (fallback) fallback.textContent = `（交互图无法启动：${err.message}）`;
    console.error(err); // 不吞掉：页面上写出原因，控制台（与浏览器测试）也看得到
    return null;
  }
}

function tabs(group) {
  if (group.dataset.live) return;
  group.dataset.live = "1";
  const panes = Array.from(group.querySelectorAll(":scope > .optimlab-live"));
  const bar = document.createElement("div");
  bar.className = "optimlab-live-tabbar";
  bar.setAttribute("role", "tablist");
  const show = (i) => panes.forEach((p, k) => {
    p.hidden = k !== i;
    bar.children[k].setAttribute("aria-selected", String(k === i));
  });
  panes.forEach((p, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.setAttribute("role", "tab");
    b.textContent = p.dataset.tab || p.dataset.explorer;
    b.addEventListener("click", () => show(i));
    bar.appendChild(b);
  });
  group.prepend(bar);
  show(0);
}

export function mountAll(doc = document) {
  doc.querySelectorAll(".optimlab-live-tabs").forEach(tabs);
  doc.querySelectorAll(".optimlab-live").forEach(mount);
}

// 页面的 load 事件之后再启动：正文、图与公式先显示，探索器（多在章末）的第一次计算不拖慢页面加载
if (document.readyState === "complete") mountAll();
else window.addEventListener("load", () => mountAll(), { once: true });
new MutationObserver(() => live.forEach((ex) => ex.invalidate(false)))
  .observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
