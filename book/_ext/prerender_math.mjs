// 构建时把站点页面里的公式排版成静态 CHTML（mathjax-full，npm 固定版本），读者的浏览器不再运行 MathJax。
//
// 用法：node book/_ext/prerender_math.mjs <_build/html> <样式表相对路径> <字体目录相对样式表的路径> [页面 ...]
//
// * Sphinx（sphinx.ext.mathjax 的 HTML 写法）把公式写成
//     <span class="math notranslate nohighlight">\(...\)</span>          行内
//     <div class="math notranslate nohighlight">\[...\]</div>           行间（可能带 <span class="eqno">编号</span>）
//   这里把其中的 TeX（HTML 转义过）换成 MathJax 的 CHTML 输出 <mjx-container>，保留外层元素；
// * 所有页面共用一个 MathJax 文档，最后写出一张共用的样式表（只含用到的字符，@font-face 指向站点里
//   npm 安装的 MathJax woff 字体）；
// * 每个公式附带辅助 MathML（<mjx-assistive-mml>，屏幕阅读器读它；与浏览器里 a11y/assistive-mml 相同）；
// * TeX 包与浏览器端 input/tex 组件一致（base、ams、newcommand，加上 autoload 会按需加载的包），
//   但未定义的宏算错误；
// * \text{} 中 MathJax 字体没有的字符（汉字）由浏览器用页面字体显示；
// * 结果以 JSON 打印到标准输出：页面数、公式数、TeX 错误（由调用者报告为构建警告）。

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { CHTML } = require("mathjax-full/js/output/chtml.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
const { AssistiveMmlHandler } = require("mathjax-full/js/a11y/assistive-mml.js");
require("mathjax-full/js/input/tex/AllPackages.js"); // 注册所有包的配置；下面只启用其中一部分

const [outdir, cssRel, fontRel, ...pages] = process.argv.slice(2);
if (!outdir || !cssRel || !fontRel) {
  console.error("usage: prerender_math.mjs OUTDIR CSS_PATH FONT_URL [PAGE ...]");
  process.exit(2);
}

// 浏览器端 input/tex 组件的包（base、ams、newcommand、configmacros）加上其 autoload 按需加载的包；
// 不含 noundefined 与 noerrors（未定义的宏与 TeX 错误都要报成构建警告，而不是在页面上显示成红字）、
// physics（重定义常用宏）、textmacros（\text 内不解析宏）
const PACKAGES = [
  "base", "ams", "newcommand", "configmacros",
  "action", "amscd", "bbox", "boldsymbol", "braket", "cancel", "cases", "centernot", "color",
  "colortbl", "empheq", "enclose", "extpfeil", "gensymb", "html", "mathtools", "mhchem",
  "unicode", "upgreek", "verb",
];

// 页面正文的 ex/em：本站正文字体 16 px 时 ex 为 9 px（与浏览器端 MathJax 量出的一致，公式缩放 127.3%）
const EM = 16;
const EX = 9;
const CONTAINER_WIDTH = 80 * EM;

let current = null; // 正在排版的公式（报错用）
const errors = [];

const adaptor = liteAdaptor({ fontSize: EM });
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));
const tex = new TeX({
  packages: PACKAGES,
  formatError(jax, err) {
    errors.push({ page: current.page, tex: current.tex, message: err.message });
    return jax.formatError(err);
  },
});
const chtml = new CHTML({ fontURL: fontRel, adaptiveCSS: true });
const html = mathjax.document("", { InputJax: tex, OutputJax: chtml });
// 浏览器端 MathJax 按周围文字的 ex 高缩放公式（matchFontHeight）；这里按正文的 ex/em 算出同一个比例
const SCALE = EX / EM / chtml.font.params.x_height;

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };
function unescape(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (all, name) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[name.toLowerCase()] ?? all;
  });
}

function typeset(page, source, display) {
  current = { page, tex: source };
  const node = html.convert(source, { display, em: EM, ex: EX, containerWidth: CONTAINER_WIDTH, scale: SCALE });
  return adaptor.outerHTML(node);
}

const MATH = /<(span|div) class="math notranslate nohighlight"([^>]*)>([\s\S]*?)<\/\1>/g;
const INLINE = /^\s*\\\(([\s\S]*)\\\)\s*$/;

let formulas = 0;
const leftover = [];
for (const page of pages) {
  const file = join(outdir, page);
  const before = readFileSync(file, "utf8");
  const after = before.replace(MATH, (all, tag, attrs, inner) => {
    if (tag === "span") {
      const m = INLINE.exec(inner);
      if (!m) {
        leftover.push({ page, html: all.slice(0, 200) });
        return all;
      }
      formulas++;
      return `<span class="math notranslate nohighlight"${attrs}>${typeset(page, unescape(m[1]), false)}</span>`;
    }
    // 行间公式：\[ ... \]，前面可能有 <span class="eqno">(1)<a class="headerlink" ...>#</a></span>
    const open = inner.indexOf("\\[");
    const close = inner.lastIndexOf("\\]");
    if (open < 0 || close < open || /<(?!\/?span\b|\/?a\b)/.test(inner.slice(0, open))) {
      leftover.push({ page, html: all.slice(0, 200) });
      return all;
    }
    formulas++;
    const source = unescape(inner.slice(open + 2, close));
    const rendered = typeset(page, source, true);
    return `<div class="math notranslate nohighlight"${attrs}>${inner.slice(0, open).trim()}${rendered}${inner.slice(close + 2).trim()}</div>`;
  });
  if (after !== before) writeFileSync(file, after);
}

const css = adaptor.textContent(chtml.styleSheet(html));
const cssFile = join(outdir, cssRel);
mkdirSync(dirname(cssFile), { recursive: true });
writeFileSync(cssFile, `/* 由 book/_ext/prerender_math.mjs 生成（mathjax-full CHTML）：本站预排版公式共用的样式 */\n${css}\n`);

process.stdout.write(JSON.stringify({ pages: pages.length, formulas, css_bytes: css.length, errors, leftover }) + "\n");
