"""在 Chromium 里调用仓库中的 ES 模块（optimlab/optim/rules.mjs、optimlab/web/*.mjs），供 JS 与 optimlab 的比对测试使用。

用法（tests/conftest.py 把本模块登记为插件，测试直接用 ``js`` 夹具）::

    def test_something(js):
        assert js("optimlab/web/surfaces.mjs", "m.DIVERGENCE_LIMIT") == 1e6
        assert js("optimlab/web/surfaces.mjs", "(a, b) => m.diverged(a, b, 0)", 1.0, 2e6) is True

仓库根目录在 127.0.0.1 的空闲端口上提供，模块按相对路径动态 ``import()``\\ （与站点上一样，模块之间用相对
路径互相导入）。每个测试模块一个页面，所有页面共用 tests/sitekit.py 的那一个 Chromium（缺 Playwright 或
Chromium 时测试失败，不跳过）。其他主机的请求一律拦截，页面里有请求被拦截或出现 JS 错误时，下一次调用失败。
"""

from __future__ import annotations

from pathlib import Path

import sys
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from localserver import served  # noqa: E402

BLANK = "__jskit__.html"

# 在页面里执行：导入模块 m，求出表达式；表达式的值是函数时，用 args 调用它（可以是 async 函数）
_CALL = """
async ([path, source, args]) => {
  const m = await import(path);
  const value = new Function("m", `"use strict"; return (${source});`)(m);
  return typeof value === "function" ? await value(...args) : value;
}
"""


class JS:
    """一个空白页面；``js(module_path, expression_or_fn, *args)`` 在其中导入模块并求值，返回 Python 对象。"""

    def __init__(self, browser, base):
        self.base = base
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(service_workers="block")
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        self.page.goto(base + BLANK)

    def _route(self, route):
        url = route.request.url
        if url == self.base + BLANK:
            route.fulfill(status=200, content_type="text/html", body="<!doctype html><meta charset='utf-8'><title>jskit</title>")
        elif url.startswith(self.base):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def __call__(self, module_path: str, expression_or_fn: str, *args):
        assert (ROOT / module_path).is_file(), f"{module_path} 不存在"
        result = self.page.evaluate(_CALL, [self.base + module_path, expression_or_fn, list(args)])
        assert self.blocked == [], f"页面请求了其他主机：{self.blocked}"
        assert self.errors == [], f"页面出错：{self.errors}"
        return result

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def js(browser):
    """仓库根目录上的一个 Chromium 页面；见模块说明。"""
    with served(ROOT) as base:
        page = JS(browser, base)
        try:
            yield page
        finally:
            page.close()
