// optimlab 静态站点的 ipywidgets 管理器：构建时由 esbuild 打包成 _static/vendor/widgets/manager.{js,css}
// （见 book/_ext/optimlab_site.py），只在嵌入了控件状态的页面、页面 load 之后由 optimlab-widgets.js 加载。
//
// 它做的事与 @jupyter-widgets/html-manager 的 embed-amd.js 相同（HTMLManager + libembed 的
// renderWidgets：读页面里的控件状态，把每个视图渲染在它的 <script> 标签处），但只带
// ipywidgets 8 的 base 与 controls 及同样的样式表：不带 ipywidgets 7 的兼容模块、Output 控件所需的
// JupyterLab 渲染器、按 JSON Schema 校验状态的 ajv 和 Font Awesome，因此是约 1 MB 而非 3.6 MB。
// 页面出现其他模块的控件时在控制台报错，而不是去 CDN 加载。
import { ManagerBase } from "@jupyter-widgets/base-manager";
import * as base from "@jupyter-widgets/base";
import * as controls from "@jupyter-widgets/controls";
import { MessageLoop } from "@lumino/messaging";
import { Widget } from "@lumino/widgets";

import "@lumino/widgets/style/index.css";
import "@jupyter-widgets/controls/css/widgets-base.css";
import "@jupyter-widgets/controls/css/labvariables.css";

const MODULES = { "@jupyter-widgets/base": base, "@jupyter-widgets/controls": controls };

class StaticManager extends ManagerBase {
  constructor() {
    super();
    this.views = new Set();
    window.addEventListener("resize", () => {
      this.views.forEach((view) => MessageLoop.postMessage(view.luminoWidget, Widget.ResizeMessage.UnknownSize));
    });
  }

  async loadClass(className, moduleName, moduleVersion) {
    const module = MODULES[moduleName];
    if (module === undefined || !/^2\./.test(moduleVersion)) {
      throw new Error(`Could not load module ${moduleName}@${moduleVersion}`);
    }
    if (!module[className]) throw new Error(`Class ${className} not found in module ${moduleName}@${moduleVersion}`);
    return module[className];
  }

  async display_view(view, el) {
    const v = await view;
    Widget.attach(v.luminoWidget, el);
    this.views.add(v);
    v.once("remove", () => this.views.delete(v));
    return v;
  }

  _get_comm_info() {
    return Promise.resolve({});
  }

  _create_comm() {
    return Promise.resolve({ on_close() {}, on_msg() {}, close() {} });
  }
}

async function renderManager(element, state) {
  const manager = new StaticManager();
  const models = await manager.set_state(state);
  const tags = element.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
  await Promise.all(
    Array.from(tags).map(async (tag) => {
      const { model_id } = JSON.parse(tag.innerHTML);
      const model = models.find((m) => m.model_id === model_id);
      if (model === undefined || tag.parentElement === null) return;
      const prev = tag.previousElementSibling;
      if (prev && prev.tagName === "IMG" && prev.classList.contains("jupyter-widget")) prev.remove();
      const area = document.createElement("div");
      area.className = "widget-subarea";
      tag.parentElement.insertBefore(area, tag);
      await manager.display_view(manager.create_view(model), area);
    }),
  );
}

export function renderWidgets(element = document.documentElement) {
  const tags = element.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]');
  return Promise.all(Array.from(tags).map((tag) => renderManager(element, JSON.parse(tag.innerHTML))));
}
