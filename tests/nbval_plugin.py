"""pytest 插件：让 nbval 像 Jupyter 与 nbconvert 那样执行单元格（store_history=True）。

nbval 0.11 以 ``store_history=False`` 执行单元格，IPython 于是看不到当前单元格的源码，
末尾分号（``ax.set_title("...");``）不再抑制输出，重新运行的输出就多出一行 ``Text(...)``，
与 nbconvert 存下的输出不一致。由 Makefile 的测试命令以 ``-p nbval_plugin`` 加载。
"""

import nbval.kernel


def _execute_cell_input(self, cell_input, allow_stdin=None):
    return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)


nbval.kernel.RunningKernel.execute_cell_input = _execute_cell_input
