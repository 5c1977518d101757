"""让 optimlab 的静态站点自成一体的 Sphinx 扩展。

读者常在访问不了国外 CDN 的网络里打开本书，所以页面读取时不得向站点以外的主机发任何请求：

* 把 npm 按固定版本安装在 ``node_modules/`` 的 MathJax 3、require.js 和 Thebe 复制到
  ``_build/html/_static/vendor/``（``_config.yml`` 中的 ``mathjax_path`` 指向这份副本；本扩展把
  sphinx-thebe 写死的 unpkg 地址换成本地副本）；
* 网页上的探索器（:mod:`optimlab.widgets.page` 写进笔记本输出的 ``<div class="optimlab-live">``）由浏览器
  计算：把 ``optimlab/optim/rules.mjs``（更新规则的 JavaScript 副本，与 Python 原本放在一起；它用到的
  ``exact.mjs`` 是 FMA 与正确舍入的 pow）与
  ``optimlab/web/``（曲面、调度器与前端）按原来的相对位置复制到 ``_static/optimlab/``，有探索器的页面
  再加载 ``explorer.mjs``（ES 模块）与 ``explorer.css``。页面不保存 ipywidgets 的控件状态：保存的控件在
  没有内核的网页上拖得动却不会重画，带着这种状态的页面报警告（``-W`` 下构建失败）；
* 不加载 pydata-sphinx-theme 的 fontawesome.js（1.5 MB 的全部图标 JS 版；主题样式表自带的
  Font Awesome 网络字体已能显示主题的图标），见 ``book/_templates/layout.html``；
* sphinx-thebe 在 Sphinx 7 下会把同一段 ``const THEBE_JS_URL = ...`` 注册两次，
  浏览器报 ``Identifier 'THEBE_JS_URL' has already been declared``：这里按内容去重；
* Thebe（点击“Launch Thebe”后）默认从 CDN 加载 MathJax 2：在页面的 Thebe 配置里关掉它；
* 公式在构建时排版：``prerender_math.mjs``（Node，npm 固定版本的 mathjax-full）把每页的 TeX 换成静态
  CHTML，所有页面共用一张样式表 ``_static/optimlab-math.css``（字体是本站的 MathJax woff）；页面不再
  加载 MathJax（sphinx.ext.mathjax 加的两个脚本在这里去掉）；
* 页面加载速度：正文的图片懒加载（``lazy_images``）；不开“边输入边搜索”时，普通页面不加载主题附带的整套搜索脚本（``drop_inline_search``）；
  正文的节用 ``content-visibility: auto``（``_static/optimlab.css``），主题在 load 时把整页排版一遍的
  ``addTabStopsToScrollableElements`` 换成按需计算的 ``_static/optimlab-tabstops.js``（``_patch_theme``）；
* 最后检查每一页：仍引用外部主机的脚本、样式表、图片等一律报警告，配合 ``-W`` 让构建失败。

另外把 ``html_search_options['dict']``（jieba 用户词典）换成绝对路径，使中文搜索与构建目录无关；搜索页
再加载 ``_static/optimlab-search.js``：按索引自己的词表切分读者的中文查询，结果的标题与摘要不显示 TeX 源码。
Sphinx 的索引只记“哪些页面有这个词”，不记次数，同分的页面只能按标题字母序排；``_rank_index_by_use`` 在
构建结束时把 searchindex.js 里每个词的页面列表按该页用这个词的次数从多到少排（列表的内容不变，只是顺序），
optimlab-search.js 用这个顺序给同分的页面排先后。
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"

#: 复制到 ``_static/vendor/`` 的文件：(node_modules 中的来源, vendor 下的目标, 要忽略的模式)
VENDOR = [
    ("mathjax/es5", "mathjax", ()),
    ("requirejs/require.js", "require.js", ()),
    ("thebe/lib", "thebe", ("*.map", "*.d.ts", "*.txt")),
]

THEBE_JS = "_static/vendor/thebe/index.js"

#: 构建时排版公式的 Node 脚本、它写出的共用样式表（相对 _build/html）与样式表里 MathJax 字体的相对地址
PRERENDER_MATH = Path(__file__).resolve().parent / "prerender_math.mjs"
MATH_CSS = "_static/optimlab-math.css"
MATH_FONTS = "vendor/mathjax/output/chtml/fonts/woff-v2"
MATH_MARKUP = 'class="math notranslate nohighlight"'

#: 网页探索器的模块：(仓库中的来源, _static 下的目标)。相对位置不变，模块之间的相对 import 照常解析
LIVE_SOURCES = [("optimlab/optim/rules.mjs", "optimlab/optim/rules.mjs"),
                ("optimlab/optim/exact.mjs", "optimlab/optim/exact.mjs"), ("optimlab/web", "optimlab/web")]
LIVE_MARKUP = 'class="optimlab-live'
LIVE_JS, LIVE_CSS = "optimlab/web/explorer.mjs", "optimlab/web/explorer.css"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# 页面加载时就会被浏览器请求的资源（<a href> 只在点击时跟随，不算）
EXTERNAL_RESOURCE = re.compile(
    r'<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?'
    r'\b(?:src|href|data)\s*=\s*["\']((?:https?:)?//[^"\']+)["\']',
    re.IGNORECASE,
)
CSS_IMPORT = re.compile(r'@import\s+(?:url\()?["\']?((?:https?:)?//[^"\')\s]+)', re.IGNORECASE)


def external_resources(html: str) -> list[str]:
    """返回 HTML 片段中页面加载时会请求的外部地址。"""
    return EXTERNAL_RESOURCE.findall(html) + CSS_IMPORT.findall(html)


#: 正文里的图片标签（还没有 loading 属性的）
IMG_WITHOUT_LOADING = re.compile(r"<img(?![^>]*\bloading=)")


def lazy_images(html: str) -> str:
    """正文的图片懒加载、异步解码：视口附近的照常立即加载，远处的等读者滚近了再取，页面的 load 事件
    不必等一章的全部图片（章节页最重的部分）。"""
    return IMG_WITHOUT_LOADING.sub('<img loading="lazy" decoding="async"', html)


def _absolute_search_dict(app, config):
    options = dict(config.html_search_options or {})
    if options.get("dict"):
        path = Path(options["dict"])
        if not path.is_absolute():
            path = Path(app.confdir) / path
        if not path.is_file():
            logger.warning("jieba 用户词典不存在：%s", path, type="optimlab", subtype="search")
        options["dict"] = str(path)
        config.html_search_options = options


#: 只在搜索页加载的脚本（book/_static/）：切分中文查询、清理结果里的 TeX
SEARCH_JS = "optimlab-search.js"


def _search_page(app, pagename, templatename, context, doctree):
    """搜索页加载 SEARCH_JS（defer：在页面模板同步加载的 searchtools.js 与 searchindex.js 之后运行）。"""
    if pagename == "search":
        app.add_js_file(SEARCH_JS, loading_method="defer")


def _live_page(app, pagename, templatename, context, doctree):
    """有网页探索器的页面加载探索器的模块与样式表（模块脚本本身就是 defer 的）。"""
    if LIVE_MARKUP in (context.get("body") or ""):
        app.add_js_file(LIVE_JS, type="module")
        app.add_css_file(LIVE_CSS)


SEARCH_INDEX_PREFIX, SEARCH_INDEX_SUFFIX = "Search.setIndex(", ")"
#: 页面正文（计数用）：article 元素里、去掉脚本与样式之后的文字
_ARTICLE = re.compile(r'<article class="bd-article"[^>]*>(.*?)</article>', re.DOTALL)
_NOT_TEXT = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def rank_terms_by_use(index: dict, texts: dict) -> dict:
    """把 ``index`` 的 ``terms`` 与 ``titleterms`` 里每个词的页面列表按页面正文里这个词出现的次数排序
    （多的在前，同样多按页号）。

    ``texts``：页号 -> 正文文字（小写）。只改列表的顺序；只有一个页面的词（存成整数）不动。
    """
    ranked = dict(index)
    for key in ("terms", "titleterms"):
        ranked[key] = {
            term: sorted(files, key=lambda f: (-texts.get(f, "").count(term), f))
            if isinstance(files, list) and len(files) > 1 else files
            for term, files in index[key].items()
        }
    return ranked


def _rank_index_by_use(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    import html as html_lib
    import json

    outdir = Path(app.outdir)
    path = outdir / "searchindex.js"
    if not path.is_file():
        return
    raw = path.read_text(encoding="utf-8")
    if not (raw.startswith(SEARCH_INDEX_PREFIX) and raw.endswith(SEARCH_INDEX_SUFFIX)):
        logger.warning("认不出 %s 的格式，没有按用词次数排序", path, type="optimlab", subtype="search")
        return
    index = json.loads(raw[len(SEARCH_INDEX_PREFIX) : -len(SEARCH_INDEX_SUFFIX)])
    texts = {}
    for i, docname in enumerate(index["docnames"]):
        page = outdir / (docname + app.builder.out_suffix)
        match = _ARTICLE.search(page.read_text(encoding="utf-8")) if page.is_file() else None
        texts[i] = html_lib.unescape(_NOT_TEXT.sub(" ", match.group(1))).lower() if match else ""
    ranked = rank_terms_by_use(index, texts)
    path.write_text(SEARCH_INDEX_PREFIX + json.dumps(ranked, sort_keys=True) + SEARCH_INDEX_SUFFIX, encoding="utf-8")


FONTAWESOME_JS = re.compile(r'[ \t]*<script[^>]*src="[^"]*_static/scripts/fontawesome\.js[^"]*"[^>]*></script>\n?')


def drop_fontawesome_js(html):
    """Jinja 过滤器（book/_templates/layout.html 用）：删掉主题的 fontawesome.js 脚本标签。"""
    from markupsafe import Markup

    return Markup(FONTAWESOME_JS.sub("", str(html)))


# pydata-sphinx-theme 在每一页（搜索页除外）的 <head> 里同步加载 Sphinx 的整套搜索脚本，供“边输入边搜索”
# （主题选项 search_as_you_type）用；本书不开这个选项，这三个脚本（含随全书增长的 searchindex.js）在普通页面上
# 只会阻塞解析。而且页面上一旦有 Search 对象，sphinx_highlight.js 就不再高亮从搜索结果点进来时的搜索词。
INLINE_SEARCH_JS = re.compile(
    r'[ \t]*<script src="[^"]*(?:_static/searchtools\.js|_static/language_data\.js|searchindex\.js)"></script>\n?'
)


def drop_inline_search(html, search_as_you_type=False):
    """Jinja 过滤器（book/_templates/layout.html 用）：不开“边输入边搜索”时删掉主题在普通页面加的搜索脚本。"""
    from markupsafe import Markup

    return Markup(str(html) if search_as_you_type else INLINE_SEARCH_JS.sub("", str(html)))


def _template_filters(app):
    templates = getattr(app.builder, "templates", None)
    if templates is not None and hasattr(templates, "environment"):
        templates.environment.filters["drop_fontawesome_js"] = drop_fontawesome_js
        as_you_type = bool((app.config.html_theme_options or {}).get("search_as_you_type"))
        templates.environment.filters["drop_inline_search"] = functools.partial(
            drop_inline_search, search_as_you_type=as_you_type
        )



def _rebuild(asset, **changes):
    """按 Sphinx 资源对象的类型重建一个（_JavaScript / _CascadingStyleSheet 是不可变的 str）。"""
    attributes = dict(asset.attributes)
    attributes.update(changes)
    return type(asset)(asset.filename, priority=asset.priority, **attributes)


def _key(asset):
    attributes = getattr(asset, "attributes", {}) or {}
    return (str(getattr(asset, "filename", asset) or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _dedupe(assets):
    seen, out = set(), []
    for asset in assets:
        key = _key(asset)
        if key not in seen:
            seen.add(key)
            out.append(asset)
    return out


def _is_mathjax(app, script):
    """sphinx.ext.mathjax 加的脚本：MathJax 本身（mathjax_path）与 window.MathJax 配置。"""
    filename = str(getattr(script, "filename", script) or "")
    body = (getattr(script, "attributes", {}) or {}).get("body", "")
    return filename.endswith(app.config.mathjax_path) or body.startswith("window.MathJax")


def _math_stylesheet():
    """共用的公式样式表，用与页面其他样式表相同的资源类型。"""
    try:
        from sphinx.builders.html._assets import _CascadingStyleSheet
    except ImportError:  # pragma: no cover - older Sphinx
        from sphinx.builders.html import Stylesheet as _CascadingStyleSheet
    return _CascadingStyleSheet(MATH_CSS, priority=500, rel="stylesheet", type="text/css")


def _page_context(app, pagename, templatename, context, doctree):
    pathto = context.get("pathto")
    # 公式在构建时排版（见 _prerender_math）：不加载 MathJax
    scripts = [s for s in _dedupe(context.get("script_files", [])) if not _is_mathjax(app, s)]
    for i, script in enumerate(scripts):
        body = (getattr(script, "attributes", {}) or {}).get("body", "")
        if "THEBE_JS_URL" in body and pathto is not None:
            local = pathto(THEBE_JS, resource=True)
            body = re.sub(r'const THEBE_JS_URL = "[^"]*"', f'const THEBE_JS_URL = "{local}"', body)
            scripts[i] = _rebuild(script, body=body)
    context["script_files"] = scripts
    context["css_files"] = _dedupe(context.get("css_files", []))
    if MATH_MARKUP in (context.get("body") or ""):
        context["css_files"].append(_math_stylesheet())

    if any(WIDGET_STATE in str((getattr(s, "attributes", {}) or {}).get("type", "")) for s in scripts):
        logger.warning(
            "页面 %s 保存了 ipywidgets 的控件状态：网页上没有内核，这些控件拖得动却不会重画。请清除笔记本元数据里的 "
            "widgets（网页上的探索器由 optimlab.widgets.page 的输出在浏览器里计算）", pagename,
            type="optimlab", subtype="widgets",
        )
    if "body" in context:
        body = lazy_images(context["body"])
        # Thebe 启动后默认从 CDN 加载 MathJax 2 来排版 text/latex 输出；本站已有 MathJax 3，不要它
        body = body.replace("requestKernel: true,", "requestKernel: true,\n        mathjaxUrl: false,", 1)
        context["body"] = body

    found = [str(getattr(a, "filename", a)) for a in scripts + context["css_files"]]
    found = [f for f in found if "://" in f or f.startswith("//")]
    for part in ("body", "metatags"):
        found += external_resources(context.get(part) or "")
    for url in sorted(set(found)):
        logger.warning(
            "页面 %s 加载时会请求外部资源：%s", pagename, url, type="optimlab", subtype="external"
        )


# pydata-sphinx-theme.js（压缩版）的最后一句：页面 load 时调用 addTabStopsToScrollableElements（压缩后的函数名不定）
THEME_TAB_STOPS_CALL = re.compile(r'"complete"===document\.readyState\?(\w+)\(\):window\.addEventListener\("load",\1\)')
THEME_TAB_STOPS_PATCHED = "/* optimlab: addTabStopsToScrollableElements -> _static/optimlab-tabstops.js */"


def patch_theme_tab_stops(script: str) -> str:
    """去掉主题脚本里 load 时对 addTabStopsToScrollableElements 的调用（由 optimlab-tabstops.js 接替）。

    原版在 load 时逐个读 scrollWidth，迫使浏览器把 content-visibility 跳过的节全部排版。只认得出确实是
    这个函数时才改；认不出（主题升级后写法变了）就抛 ValueError，由调用者报成构建警告。
    """
    if THEME_TAB_STOPS_PATCHED in script:
        return script
    calls = list(THEME_TAB_STOPS_CALL.finditer(script))
    if len(calls) != 1:
        raise ValueError(f"找到 {len(calls)} 处 load 时的调用，应为 1 处")
    name = calls[0].group(1)
    body = script.find(f"function {name}(){{")
    if body < 0 or not re.search(r'"pre".{0,200}tabIndex=\w+\.scrollWidth>', script[body : body + 600]):
        raise ValueError(f"函数 {name} 不是 addTabStopsToScrollableElements")
    start, end = calls[0].span()
    return script[:start] + "void 0" + THEME_TAB_STOPS_PATCHED + script[end:]


def _patch_theme(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    path = Path(app.outdir) / "_static" / "scripts" / "pydata-sphinx-theme.js"
    try:
        path.write_text(patch_theme_tab_stops(path.read_text(encoding="utf-8")), encoding="utf-8")
    except (OSError, ValueError) as err:
        logger.warning(
            "没能在 %s 里换掉主题的 addTabStopsToScrollableElements：%s", path, err, type="optimlab", subtype="theme"
        )


def _copy_vendor(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / "vendor"
    missing = [src for src, _, _ in VENDOR if not (NODE_MODULES / src).exists()]
    if missing:
        raise ExtensionError(
            "缺少前端资源 " + ", ".join(missing) + "：请先运行 make book（它会执行 npm ci）"
        )
    for src, target, ignore in VENDOR:
        source, out = NODE_MODULES / src, dest / target
        if source.is_dir():
            if out.exists():
                shutil.rmtree(out)
            shutil.copytree(source, out, ignore=shutil.ignore_patterns(*ignore))
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, out)
    _copy_live(Path(app.outdir) / "_static")
    _prerender_math(app)


def _copy_live(static: Path):
    """网页探索器的模块复制到 ``static``（见 LIVE_SOURCES）。"""
    for src, target in LIVE_SOURCES:
        source, out = ROOT / src, static / target
        if not source.exists():
            raise ExtensionError(f"缺少网页探索器的模块 {src}")
        if source.is_dir():
            if out.exists():
                shutil.rmtree(out)
            shutil.copytree(source, out, ignore=shutil.ignore_patterns("*.md", "__pycache__"))
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, out)


def _prerender_math(app):
    """把每页的 TeX 排版成静态 CHTML（book/_ext/prerender_math.mjs），TeX 错误报为警告。"""
    import json

    outdir = Path(app.outdir)
    skip = {"_static", "_sources", "_images", "_downloads"}
    pages = sorted(
        p.relative_to(outdir).as_posix()
        for p in outdir.rglob("*.html")
        if not (set(p.relative_to(outdir).parts) & skip) and MATH_MARKUP in p.read_text(encoding="utf-8")
    )
    if not (NODE_MODULES / "mathjax-full").is_dir():
        raise ExtensionError("缺少 mathjax-full：请先运行 make book（它会执行 npm ci）")
    done = subprocess.run(
        ["node", str(PRERENDER_MATH), str(outdir), MATH_CSS, MATH_FONTS, *pages],
        check=True, cwd=ROOT, capture_output=True, text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for error in result["errors"]:
        logger.warning(
            "页面 %s 的公式有 TeX 错误：%s（%s）", error["page"], error["message"], error["tex"].strip()[:120],
            type="optimlab", subtype="math",
        )
    for left in result["leftover"]:
        logger.warning(
            "页面 %s 有未能排版的公式：%s", left["page"], left["html"], type="optimlab", subtype="math"
        )
    for page in pages:
        if MATH_CSS.rsplit("/", 1)[-1] not in (outdir / page).read_text(encoding="utf-8"):
            logger.warning("页面 %s 有公式，却没有链接 %s", page, MATH_CSS, type="optimlab", subtype="math")
    logger.info("公式预排版：%d 页，%d 个公式", result["pages"], result["formulas"])


def setup(app):
    app.connect("config-inited", _absolute_search_dict)
    app.connect("builder-inited", _template_filters)
    # 晚于 myst-nb 与 sphinx-thebe 的处理函数运行，此时页面的脚本列表已经完整
    app.connect("html-page-context", _search_page)
    app.connect("html-page-context", _live_page)
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _copy_vendor)
    app.connect("build-finished", _patch_theme)
    app.connect("build-finished", _rank_index_by_use)
    # 可滚动元素的 Tab 顺序，按需计算（book/_static/optimlab-tabstops.js，替代主题在 load 时的做法）
    app.add_js_file("optimlab-tabstops.js", loading_method="defer")
    # 页首看得见的侧栏按钮转给主题装了处理函数的那一个（book/_static/optimlab-toggles.js）
    app.add_js_file("optimlab-toggles.js", loading_method="defer")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
