"""测试共用的夹具：可用设备列表；浏览器测试的站点与 Chromium 在 tests/sitekit.py（作为插件加载）。"""

import os

import pytest
import torch

# 探索器的严格模式（optimlab.widgets.base.STRICT）：只有优化器的非法超参数变成图中的消息，其他异常让测试
# 失败。nbval 启动的内核继承这个环境变量，所以书中的探索器在测试里也是严格的。
os.environ.setdefault("OPTIMLAB_STRICT", "1")

pytest_plugins = ["sitekit"]

#: 逐个测试（而不是整个文件）分给两个 worker 的文件：互不依赖的浏览器页面，以及几个最慢的测试文件。
#: 整个文件留在一个 worker 上时，排在最后的慢文件会让另一个 worker 空等一两分钟。
SPREAD = tuple(f"tests/{name}::" for name in (
    "test_site.py", "test_reader.py", "test_widgets.py", "test_widgets_more.py", "test_sweep.py",
    "test_scheduler_gallery.py", "test_validation.py",
))

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="没有可用的 CUDA 设备")
    ),
]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def pytest_xdist_make_scheduler(config, log):
    """Under ``pytest -n 2 --dist loadscope`` (make test): each test file and each notebook stays on
    one worker, since a notebook's cells must run in order in one kernel and module fixtures should be
    set up once. The files in SPREAD are the exception: their tests are independent (browser pages, the
    slowest test files), and are spread over both workers one by one so that neither waits idle at the end."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            if nodeid.startswith(SPREAD):
                return nodeid
            return nodeid.split("::", 1)[0]

    return ByFile(config, log)


#: Test files that take more than a few seconds (explorers render pictures, exercises and the chapters'
#: claims run training, the scheduler gallery pairs 15 schedulers with 15 optimizers, distributed
#: training spawns processes); ``make check`` leaves them out with the browser tests and nbval.
SLOW = {
    "test_binder.py",
    "test_cjk_text.py",  # 读构建好的站点
    "test_distributed.py",
    "test_scheduler_gallery.py",
    "test_site_extension.py",
    "test_sweep.py",
    "test_widgets.py",
    "test_widgets_more.py",
}


def pytest_collection_modifyitems(config, items):
    """Mark every test by kind: ``nbval`` (a notebook cell), ``browser`` (Chromium on the built site),
    ``slow`` (the files in SLOW, the exercises' checkers and the chapters' claims). ``make check`` runs the rest."""
    for item in items:
        name = item.path.name
        if name.endswith(".ipynb"):
            item.add_marker(pytest.mark.nbval)
        elif name in ("test_site.py", "test_search.py", "test_reader.py"):
            item.add_marker(pytest.mark.browser)
        elif name in SLOW or name.startswith(("test_exercises_", "test_claims_")):
            item.add_marker(pytest.mark.slow)
