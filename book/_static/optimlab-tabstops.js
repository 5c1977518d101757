/*
 * 可滚动的代码块、单元格输出与表格加进 Tab 顺序，键盘用户能把焦点移上去再用方向键滚动。
 *
 * 这是 pydata-sphinx-theme 的 addTabStopsToScrollableElements 的按需版本。本站正文最小一级的节用了
 * content-visibility: auto（见 optimlab.css）：视口以外的节浏览器不排版。主题的原版在 load 时对每个元素
 * 交替地写 tabIndex、读 scrollWidth，迫使浏览器把跳过的节全部排版（04 章要一百多毫秒，且正好挡在 load
 * 之前）。这里的做法与原版给出同样的 tabIndex，只是：
 *   1. 只检查浏览器已经排版的元素（checkVisibility），先全部读、再一起写；
 *   2. 一个节开始排版时（contentvisibilityautostatechange，节滚动到视口附近），检查其中的元素；
 *   3. 与原版一样，窗口尺寸变化、正文里增删节点（控件渲染）之后 300 ms 再检查一遍。
 * 构建时 book/_ext/optimlab_site.py 去掉主题脚本里对原版的调用（_patch_theme_tab_stops）。
 */
(function () {
  "use strict";
  var SELECTOR = [
    "pre",
    ".nboutput > .output_area",
    ".cell_output > .output",
    ".jp-RenderedHTMLCommon",
    ".pst-scrollable-table-container",
  ].join(", ");
  var canCheck = typeof Element.prototype.checkVisibility === "function";

  function laidOut(el) {
    // 在 content-visibility 跳过的子树里（或 display: none）的元素，等它排版之后再检查
    return !canCheck || el.checkVisibility({ contentVisibilityAuto: true });
  }

  function update(root) {
    var els = Array.prototype.slice.call(root.querySelectorAll(SELECTOR));
    if (root !== document && root.matches(SELECTOR)) els.push(root);
    els = els.filter(laidOut);
    var stops = els.map(function (el) {
      return el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight ? 0 : -1;
    });
    els.forEach(function (el, i) {
      if (el.getAttribute("tabindex") !== String(stops[i])) el.tabIndex = stops[i];
    });
  }

  var timer = null;
  function updateLater() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      update(document);
    }, 300);
  }

  // 非冒泡事件：在捕获阶段于 document 上接住每个节的状态变化
  document.addEventListener(
    "contentvisibilityautostatechange",
    function (event) {
      if (!event.skipped && document.readyState === "complete") update(event.target);
    },
    true
  );

  function start() {
    update(document);
    window.addEventListener("resize", updateLater);
    var main = document.getElementById("main-content");
    if (main) new MutationObserver(updateLater).observe(main, { subtree: true, childList: true });
  }
  if (document.readyState === "complete") start();
  else window.addEventListener("load", start);
})();
