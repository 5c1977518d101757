/*
 * 让 ipywidgets 的 HTML 管理器（embed-amd.js）在离线站点上工作。
 * 本文件只在嵌入了控件状态的页面加载，位于 require.js 之后、embed-amd.js 之前（见 _config.yml）。
 *
 * 1. embed-amd.js 通过 require.js 的模块地址推算自己的位置，再据此加载图标字体；默认会算成
 *    “页面所在目录/@jupyter-widgets/html-manager/dist/”，这里把它指向 _static/vendor/html-manager/。
 * 2. 控件用 MathJax 2 的接口 MathJax.Hub.Queue(["Typeset", MathJax.Hub, node]) 排版标签里的公式，
 *    而本站加载的是 MathJax 3，没有 Hub。这里给 window.MathJax（无论何时被赋值）补上一个
 *    只转发到 MathJax 3 typesetPromise 的 Hub。
 */
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;
  if (here && window.require && window.require.config) {
    var staticBase = here.slice(0, here.lastIndexOf("/") + 1);
    window.require.config({
      paths: { "@jupyter-widgets/html-manager/dist": staticBase + "vendor/html-manager" },
    });
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
