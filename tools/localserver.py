"""本地静态文件服务器：一个目录放在 127.0.0.1 的空闲端口上。

打印 PDF（``tools/make_pdf.py``）、浏览器测试（``tests/sitekit.py``、``tests/jskit.py``、
``tests/test_live_explorers.py``）与基准脚本（``benchmarks/``）共用它。``.mjs`` 以 JavaScript 的类型送出
（浏览器只执行这种类型的 ES 模块）；不写访问日志。
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def log_message(self, *args):
        pass


def serve(directory: Path | str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """在后台线程里提供 ``directory``；返回 (server, 以 / 结尾的地址)。用完调用 ``server.shutdown()``。"""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@contextlib.contextmanager
def served(directory: Path | str) -> Iterator[str]:
    """``with served(d) as base: ...``：离开时关掉服务器。"""
    server, base = serve(directory)
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
