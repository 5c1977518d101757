/*
 * 在静态页面上渲染嵌入的 ipywidgets 控件，且不拖慢页面加载。
 * 本文件只在嵌入了控件状态的页面加载（见 _config.yml 的 nb_ipywidgets_js）。
 *
 * 1. 页面的 load 事件之后（正文、图片与公式先显示）才加载控件管理器 _static/vendor/widgets/manager.{css,js}
 *    （构建时由 esbuild 从 book/_ext/widgets/manager.js 打包，ipywidgets 8 的 base 与 controls，约 0.8 MB；
 *    @jupyter-widgets/html-manager 的 embed-amd.js 是 3.6 MB），再渲染页面里的每个控件视图。
 * 2. 控件用 MathJax 2 的接口 MathJax.Hub.Queue(["Typeset", MathJax.Hub, node]) 排版标签里的公式（只在
 *    window.MathJax 存在时调用）。正文公式已在构建时排版（book/_ext/prerender_math.mjs），页面不加载
 *    MathJax；这里让 window.MathJax 始终带一个 Hub：标签里真有 TeX 时，才在页面 load 之后加载本站的
 *    MathJax 3（_static/vendor/mathjax/），由它的 typesetPromise 排版那个节点。
 */
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;
  var staticDir = here ? here.slice(0, here.lastIndexOf("/") + 1) : null;
  if (staticDir) {
    var dir = staticDir + "vendor/widgets/";
    var render = function () {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = dir + "manager.css";
      document.head.appendChild(css);
      var js = document.createElement("script");
      js.src = dir + "manager.js";
      js.onload = function () {
        window.optimlabWidgets.renderWidgets().catch(function (err) {
          console.error("ipywidgets: rendering failed:", err);
        });
      };
      document.head.appendChild(js);
    };
    if (document.readyState === "complete") render();
    else window.addEventListener("load", render);
  }

  function afterLoad() {
    return new Promise(function (resolve) {
      if (document.readyState === "complete") resolve();
      else window.addEventListener("load", resolve);
    });
  }

  // 标签里的 TeX：\(...\)、\[...\]、$...$
  var TEX = /\\\(|\\\[|\$[^$]+\$/;

  var loading = null;
  function loadMathJax() {
    if (!loading) {
      loading = afterLoad().then(function () {
        return new Promise(function (resolve, reject) {
          window.MathJax = {
            loader: { load: ["input/tex", "output/chtml", "a11y/assistive-mml"] },
            startup: { typeset: false },
            tex: { inlineMath: [["$", "$"], ["\\(", "\\)"]], processEscapes: true },
          };
          var js = document.createElement("script");
          js.src = staticDir + "vendor/mathjax/startup.js";
          js.onload = function () {
            window.MathJax.startup.promise.then(resolve, reject);
          };
          js.onerror = reject;
          document.head.appendChild(js);
        });
      });
    }
    return loading;
  }

  function typeset(node) {
    var mj = window.MathJax;
    var ready = mj && mj.startup && mj.startup.promise;
    if (!ready) {
      if (!staticDir || !TEX.test((node || document.body).textContent || "")) return;
      ready = loadMathJax();
    }
    ready
      .then(function () {
        return window.MathJax.typesetPromise(node ? [node] : undefined);
      })
      .catch(function (err) {
        console.warn("MathJax typeset failed:", err);
      });
  }

  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset") typeset(job[2]);
      }
    },
  };

  function attach(value) {
    if (value && typeof value === "object" && !value.Hub) {
      try {
        Object.defineProperty(value, "Hub", { value: hub, enumerable: false, configurable: true });
      } catch (e) {
        /* a frozen object: nothing to attach */
      }
    }
  }

  // 页面没有 MathJax 时给控件一个只有 Hub 的 window.MathJax（控件只在 window.MathJax 存在时排版标签）
  var current = window.MathJax || {};
  attach(current);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () {
      return current;
    },
    set: function (value) {
      current = value;
      attach(value);
    },
  });
})();
