"""测试共用的夹具：可用设备列表；浏览器测试的站点与 Chromium 在 tests/sitekit.py（作为插件加载）。"""

import itertools
import os
import re

import pytest

# 探索器的严格模式（optimlab.widgets.base.STRICT）：只有优化器的非法超参数变成图中的消息，其他异常让测试
# 失败。nbval 启动的内核继承这个环境变量，所以书中的探索器在测试里也是严格的。
os.environ.setdefault("OPTIMLAB_STRICT", "1")

pytest_plugins = ["sitekit", "jskit"]

#: 逐个测试（而不是整个文件）分给两个 worker 的文件：互不依赖的浏览器页面，以及几个最慢的测试文件。
#: 整个文件留在一个 worker 上时，排在最后的慢文件会让另一个 worker 空等一两分钟。
SPREAD = tuple(f"tests/{name}::" for name in (
    "test_site.py", "test_reader.py", "test_widgets.py", "test_widgets_more.py", "test_sweep.py",
    "test_scheduler_gallery.py", "test_validation.py", "test_oracle.py", "test_state_dict.py", "test_cuda.py",
))

DEVICES = ["cpu", "cuda"]


@pytest.fixture(params=DEVICES)
def device(request):
    """每个设备一份；没有 CUDA 时 CUDA 用例跳过。torch 在这里才导入：xdist 的主进程不运行测试，也就不必导入它。"""
    if request.param == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("没有可用的 CUDA 设备")
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
#: claims run training, the scheduler gallery pairs 15 schedulers with 15 optimizers, the device tests
#: train a network per case, distributed training spawns processes); ``make check`` leaves them out with
#: the browser tests and nbval.
SLOW = {
    "test_binder.py",
    "test_cjk_text.py",  # 读构建好的站点
    "test_cuda.py",  # 每个设备、每组选项训练一个小网络 100 步，对照 torch 的默认实现与 foreach 实现
    "test_distributed.py",
    "test_notebook_explorers.py",  # 构造每一章的探索器（画第一帧）
    "test_scheduler_gallery.py",
    "test_site_extension.py",
    "test_sweep.py",
    "test_widgets.py",
    "test_widgets_more.py",
}


#: Test files that drive Chromium: over the built site, or over the explorers' ES modules served from the repository.
BROWSER = {"test_site.py", "test_search.py", "test_reader.py", "test_browser_math.py", "test_browser_problems.py",
           "test_live_explorers.py"}


def file_marks(name):
    """The markers every test in the file ``name`` carries (a notebook, a browser file, a slow file, or none)."""
    if name.endswith(".ipynb"):
        return {"nbval"}
    if name in BROWSER:
        return {"browser"}
    if name in SLOW or name.startswith(("test_exercises_", "test_claims_")):
        return {"slow"}
    return set()


def pytest_collection_modifyitems(config, items):
    """Mark every test by kind: ``nbval`` (a notebook cell), ``browser`` (Chromium on the built site),
    ``slow`` (the files in SLOW, the exercises' checkers and the chapters' claims). ``make check`` runs the rest."""
    for item in items:
        for mark in file_marks(item.path.name):
            item.add_marker(mark)


def pytest_ignore_collect(collection_path, config):
    """Under ``-m``, do not even import a file whose every test the expression deselects by the file's own
    markers (``make check`` then skips importing what the slow and browser files need). A file is left out only
    if the expression is false whatever other markers its tests might carry, so nothing selectable is lost."""
    marks = file_marks(collection_path.name)
    expr = config.getoption("markexpr")
    if not marks or not expr:
        return None
    try:
        from _pytest.mark.expression import Expression  # pytest's own -m parser

        compiled = Expression.compile(expr)
    except Exception:  # noqa: BLE001 - an unknown pytest version: collect as usual
        return None
    others = sorted(set(re.findall(r"[A-Za-z_][\w.]*", expr)) - {"and", "or", "not"} - marks)
    for present in itertools.product((False, True), repeat=len(others)):
        on = marks | {name for name, yes in zip(others, present) if yes}
        if compiled.evaluate(lambda name, **_: name in on):
            return None
    return True
