/*
 * 在静态页面上渲染嵌入的 ipywidgets 控件，且不拖慢页面加载。
 * 本文件只在嵌入了控件状态的页面加载（见 _config.yml 的 nb_ipywidgets_js）。
 *
 * 1. 页面的 load 事件之后（正文、图片与公式先显示）才加载控件管理器 _static/vendor/widgets/manager.{css,js}
 *    （构建时由 esbuild 从 book/_ext/widgets/manager.js 打包，ipywidgets 8 的 base 与 controls，约 0.8 MB；
 *    @jupyter-widgets/html-manager 的 embed-amd.js 是 3.6 MB），再渲染页面里的每个控件视图。
 * 2. 控件用 MathJax 2 的接口 MathJax.Hub.Queue(["Typeset", MathJax.Hub, node]) 排版标签里的公式，
 *    而本站加载的是 MathJax 3，没有 Hub。这里给 window.MathJax（无论何时被赋值）补上一个
 *    只转发到 MathJax 3 typesetPromise 的 Hub。
 */
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;
  if (here) {
    var dir = here.slice(0, here.lastIndexOf("/") + 1) + "vendor/widgets/";
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

  function typeset(node) {
    var run = function () {
      var mj = window.MathJax;
      if (mj && typeof mj.typesetPromise === "function") {
        mj.typesetPromise(node ? [node] : undefined).catch(function (err) {
          console.warn("MathJax typeset failed:", err);
        });
      }
    };
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(run);
    } else {
      window.addEventListener("load", function () {
        var later = window.MathJax;
        if (later && later.startup && later.startup.promise) later.startup.promise.then(run);
      });
    }
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

  var current = window.MathJax;
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
