/**
 * 收敛图的后台线程（Web Worker，ES 模块）：一行一行地调用 surfaces.mjs 的 convergenceMap，每算完一行发回
 * {id, j, gap}；收到新的任务（id 更大）时放弃旧的。主线程因此在算 50 × 50 × 300 步的图时仍能立即响应输入。
 */
import { convergenceMap, surface } from "./surfaces.mjs";

let current = 0;

self.onmessage = (ev) => {
  const job = ev.data;
  current = job.id;
  const surf = surface(job.surface[0], job.surface[1]);
  let j = 0;
  const row = () => {
    if (job.id !== current || j >= job.ys.length) return;
    const r = convergenceMap(surf, job.opt, job.hp, job.xKey, job.xs, job.yKey, [job.ys[j]], job.steps, job.x0);
    self.postMessage({ id: job.id, j, gap: r.gap });
    j += 1;
    setTimeout(row, 0);  // 让新任务的消息先进来
  };
  row();
};
