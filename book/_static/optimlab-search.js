/* optimlab：中文搜索（只在搜索页加载，排在 searchtools.js、language_data.js 之后，见 book/_ext/optimlab_site.py）。
 *
 * 构建时 jieba（加 book/zh_dict.txt）把正文切成词写进 searchindex.js；浏览器端的 Sphinx 却不切分查询，
 * “偏差校正学习率”被当成一个词，什么也找不到。这里：
 *   1. splitQuery：按索引自己的词表切分查询里的汉字串（动态规划：词数最少，同样多时取更长的词；
 *      索引里没有的单字丢掉），拉丁词（Adam、weight_decay）原样保留，汉字与拉丁字母相连时先分开；
 *   2. Stemmer：索引里原样有的词（weight_decay）不再做 Porter 词干化（Python 一侧也没有），其余照旧；
 *   3. Scorer.score：同分的页面按查询词出现在页面各节标题里的个数排先后（Sphinx 的索引不记词频，
 *      不然同分只按标题字母序）；
 *   4. 结果的标题与摘要不显示 TeX 源码：节标题里的 \eta、代码里的 $\frac{a}{b}$ 换成 η、a/b。
 * 切分与 TeX 清理是纯函数，挂在 window.optimlabSearch 上（tests/test_search.py 用它们和 Sphinx 自己的
 * Search._parseQuery / _performSearch 算排名）。
 */
"use strict";

(() => {
  const CJK = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;
  const CJK_RUNS = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+/gu;
  const SPLIT = /[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu; // 与 searchtools.js 的默认 splitQuery 相同

  /** 一串汉字按词表切分：词数最少；一样多时各词长度的平方和最大（偏向长词）；词表外的单字丢掉。 */
  function segment(run, vocab, maxLen) {
    const n = run.length;
    const best = [{ cost: 0, fit: 0, words: [] }];
    for (let i = 1; i <= n; i++) {
      let choice = null;
      for (let len = 1; len <= Math.min(maxLen, i); len++) {
        const prev = best[i - len];
        const word = run.slice(i - len, i);
        const known = vocab.has(word);
        if (!known && len > 1) continue;
        const cand = {
          cost: prev.cost + (known ? 1 : 100),
          fit: prev.fit + (known ? len * len : 0),
          words: known ? prev.words.concat([word]) : prev.words,
        };
        if (!choice || cand.cost < choice.cost || (cand.cost === choice.cost && cand.fit > choice.fit)) choice = cand;
      }
      best[i] = choice;
    }
    return best[n].words;
  }

  /** 查询 -> 词：先按非字母数字切开，再把汉字串与拉丁串分开，汉字串按词表切分。 */
  function splitQuery(query, vocab, maxLen) {
    const out = [];
    for (const chunk of query.split(SPLIT)) {
      if (!chunk) continue;
      for (const run of chunk.match(CJK_RUNS) || []) {
        if (CJK.test(run[0])) out.push(...segment(run, vocab, maxLen));
        else out.push(run);
      }
    }
    return out;
  }

  const TEX_SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ϵ", varepsilon: "ε", zeta: "ζ", eta: "η",
    theta: "θ", iota: "ι", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π", rho: "ρ",
    sigma: "σ", tau: "τ", phi: "ϕ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω", Gamma: "Γ", Delta: "Δ",
    Theta: "Θ", Lambda: "Λ", Sigma: "Σ", Phi: "Φ", Psi: "Ψ", Omega: "Ω", nabla: "∇", partial: "∂",
    infty: "∞", cdot: "·", times: "×", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠",
    approx: "≈", sim: "∼", to: "→", rightarrow: "→", leftarrow: "←", gets: "←", in: "∈", sum: "∑",
    prod: "∏", sqrt: "√", odot: "⊙", circ: "∘", pm: "±", max: "max", min: "min", log: "log",
    exp: "exp", sign: "sign", quad: " ", qquad: " ", ",": " ", ";": " ", "!": "", " ": " ",
    left: "", right: "", big: "", Big: "", bigl: "", bigr: "", displaystyle: "", lvert: "|", rvert: "|",
    "|": "‖", lVert: "‖", rVert: "‖", ldots: "…", dots: "…", cdots: "⋯", "{": "{", "}": "}", "%": "%",
    propto: "∝", forall: "∀", exists: "∃", prime: "′", ell: "ℓ", top: "⊤", mid: "|", lfloor: "⌊", rfloor: "⌋",
    lceil: "⌈", rceil: "⌉", langle: "⟨", rangle: "⟩", mathbb: "", mathsf: "", mathtt: "", operatorname: "",
  };
  const SUB = { 0: "₀", 1: "₁", 2: "₂", 3: "₃", 4: "₄", 5: "₅", 6: "₆", 7: "₇", 8: "₈", 9: "₉", "+": "₊",
    "-": "₋", "=": "₌", "(": "₍", ")": "₎", a: "ₐ", e: "ₑ", h: "ₕ", i: "ᵢ", j: "ⱼ", k: "ₖ", l: "ₗ",
    m: "ₘ", n: "ₙ", o: "ₒ", p: "ₚ", r: "ᵣ", s: "ₛ", t: "ₜ", u: "ᵤ", v: "ᵥ", x: "ₓ" };
  const SUP = { 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹", "+": "⁺",
    "-": "⁻", "=": "⁼", "(": "⁽", ")": "⁾", i: "ⁱ", n: "ⁿ", t: "ᵗ", T: "ᵀ", k: "ᵏ", s: "ˢ" };
  const GROUP = "(\\{[^{}]*\\}|\\\\[A-Za-z]+|[^\\s{}\\\\])";

  const atom = (a) => (/^(?:[\p{L}\p{N}]+|\\[A-Za-z]+)$/u.test(a.trim()) ? a.trim() : `(${a})`);
  const ungroup = (g) => (g.startsWith("{") ? g.slice(1, -1) : g);
  const script = (table, mark) => (_, g) => {
    const body = ungroup(g);
    return [...body].every((c) => table[c]) ? [...body].map((c) => table[c]).join("") : mark + (body.length > 1 ? `(${body})` : body);
  };

  /** 一段 TeX -> 可读文本：命令换成 Unicode，\frac{a}{b} -> a/b，上下标尽量用 Unicode 上下标字符。 */
  function texToText(tex) {
    let s = tex;
    for (let i = 0; i < 4; i++) {
      s = s
        .replace(/\\(?:mathrm|mathbf|mathit|mathcal|boldsymbol|operatorname|text|textrm|textbf|mbox)\s*\{([^{}]*)\}/g, "$1")
        .replace(/\\(?:hat|bar|tilde)\s*\{([^{}]*)\}/g, "$1")
        .replace(/\\d?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, (_, a, b) => `${atom(a)}/${atom(b)}`)
        .replace(/\\sqrt\s*\{([^{}]*)\}/g, (_, a) => `√${atom(a)}`);
    }
    // 认识的命令换成符号；其余（\mathbb、\boldsymbol 一类字体命令）去掉命令名，留下它作用的内容
    s = s.replace(/\\([A-Za-z]+|[,;!| {}%])/g, (m, name) => (name in TEX_SYMBOLS ? TEX_SYMBOLS[name] : ""));
    s = s.replace(new RegExp("_" + GROUP, "g"), script(SUB, "_")).replace(new RegExp("\\^" + GROUP, "g"), script(SUP, "^"));
    return s.replace(/[{}]/g, "").replace(/\s{2,}/g, " ");
  }

  /** 文本里的 TeX（$...$、$$...$$、\(...\)、\[...\] 以及不在定界符里的 \eta 一类命令）换成可读文本。 */
  function cleanTex(text) {
    return text
      .replace(/\$\$([\s\S]+?)\$\$|\$([^$\n]+?)\$|\\\(([\s\S]+?)\\\)|\\\[([\s\S]+?)\\\]/g, (_, a, b, c, d) => texToText(a || b || c || d))
      .replace(/\\(?:[A-Za-z]+)(?:\s*\{[^{}]*\})*/g, (m) => {
        const name = m.match(/^\\([A-Za-z]+)/)[1];
        return name in TEX_SYMBOLS || /^(?:d?frac|sqrt|mathrm|text|hat|bar|tilde|operatorname)$/.test(name) ? texToText(m) : m;
      })
      // 定界符外只认不会与标识符（weight_decay）混淆的上下标：带花括号的 _{..}、^{..} 与 ^ 后的单个字符
      .replace(/_\{[^{}]*\}/g, (m) => texToText(m))
      .replace(/\^(?:\{[^{}]*\}|[^\s{}\\])/g, (m) => texToText(m));
  }

  const api = { segment, splitQuery, texToText, cleanTex, vocab: null, maxLen: 1, titleText: null, lastTerms: [], lastQuery: "", stems: {} };
  window.optimlabSearch = api;
  if (typeof Search === "undefined") return; // 不在搜索页（或 searchtools.js 没有加载）：只提供纯函数

  /** 载入索引时：建词表，清理标题里的 TeX，记下每页各节标题的文本。 */
  function prepare(index) {
    const vocab = new Set();
    let maxLen = 1;
    for (const key of [...Object.keys(index.terms), ...Object.keys(index.titleterms)]) {
      if (CJK.test(key)) {
        vocab.add(key);
        maxLen = Math.max(maxLen, key.length);
      }
    }
    index.titles = index.titles.map(cleanTex);
    const alltitles = {};
    const titleText = index.docnames.map(() => "");
    for (const [title, found] of Object.entries(index.alltitles)) {
      const clean = cleanTex(title);
      alltitles[clean] = (alltitles[clean] || []).concat(found);
      for (const [file] of found) titleText[file] += " " + clean.toLowerCase();
    }
    index.alltitles = alltitles;
    Object.assign(api, { vocab, maxLen, titleText, index });
  }

  // 本脚本以 defer 加载：同步加载的 searchindex.js 多半已经调用过 Search.setIndex
  if (Search._index) prepare(Search._index);
  const setIndex = Search.setIndex;
  Search.setIndex = (index) => {
    prepare(index);
    setIndex(index);
  };

  window.splitQuery = (query) => {
    const words = api.vocab ? splitQuery(query, api.vocab, api.maxLen) : query.split(SPLIT).filter((w) => w);
    // 构建时的索引不收一个字符的词（Sphinx 的 word_filter），查询里的也就不可能匹配；留着它，Sphinx 会因为
    // “必须的词”数目对不上而把同时含其余各词的页面排除掉（“L-BFGS 闭包”切成 l、bfgs、闭包）
    const kept = words.filter((w) => w.length > 1);
    api.lastTerms = [...new Set(kept.map((w) => w.toLowerCase()))];
    api.lastQuery = query.toLowerCase().trim();
    return kept;
  };

  const Porter = window.Stemmer;
  window.Stemmer = function Stemmer() {
    const porter = new Porter();
    const known = (w) => api.index && (w in api.index.terms || w in api.index.titleterms);
    this.stemWord = (w) => {
      const stem = known(w) ? w : porter.stemWord(w);
      api.stems[w] = stem;
      return stem;
    };
  };

  /** 页面 file 在词 term 的页面列表里的位置换成 0-1 的分（构建时已按用词次数从多到少排好，见 optimlab_site.py）。 */
  const use = (term, file) => {
    for (const table of [api.index.terms, api.index.titleterms]) {
      const files = table[term];
      if (files === file) return 1;
      if (Array.isArray(files) && files.includes(file)) return 1 - files.indexOf(file) / files.length;
    }
    return 0;
  };

  // 同分时的先后：每个查询词按“这一页用它多不多”（一半）、“页面标题里有它”（0.3）、“某一节的标题里有它”（0.2）
  // 加分，整个查询原样出现在某一节的标题里再加 1（短语匹配）；总和除以词数加二，小于 1：只在 Sphinx 的整数分
  // 相同时起作用
  Scorer.score = (result) => {
    const file = api.index ? api.index.docnames.indexOf(result[0]) : -1;
    if (file < 0 || !api.lastTerms.length) return result[4];
    const title = api.index.titles[file].toLowerCase();
    const bonus = api.lastTerms.reduce(
      (sum, t) => sum + 0.5 * use(api.stems[t] || t, file) + 0.3 * title.includes(t) + 0.2 * api.titleText[file].includes(t),
      0,
    );
    const phrase = api.lastQuery && api.titleText[file].includes(api.lastQuery) ? 1 : 0;
    return result[4] + (bonus + phrase) / (api.lastTerms.length + 2);
  };

  // 摘要：与 Sphinx 的 htmlToText 相同地取 [role=main] 的文字，另外去掉页首按钮与页内目录，TeX 换成可读文本
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc.querySelectorAll(".headerlink, script, style, .bd-header-article, .bd-sidebar-secondary, nav")
      .forEach((el) => el.remove());
    const main = (anchor && doc.querySelector(`[role="main"] ${anchor}`)) || doc.querySelector('[role="main"]');
    return main ? cleanTex(main.textContent) : "";
  };

  /** 查询 -> 切分后的词与页面的排名（与结果列表显示的顺序相同：Sphinx 从数组末尾取出显示）。 */
  api.rank = (query) => {
    const [q, terms, excluded, highlight, objects] = Search._parseQuery(query);
    const results = Search._performSearch(q, terms, excluded, highlight, objects);
    const docs = [];
    for (const r of results.slice().reverse()) if (!docs.includes(r[0])) docs.push(r[0]);
    return { terms: [...terms], docs };
  };
})();
