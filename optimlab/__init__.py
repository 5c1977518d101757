"""optimlab：与 torch.optim 逐位一致、从数学公式写起的优化器，以及配套教材的工具。"""

from .optim import *  # noqa: F403 - torch.optim 的全部 15 个优化器，名单只在 optim.__all__ 中写一次
from .optim import __all__ as OPTIMIZERS

__version__ = "0.1.0"

__all__ = [*OPTIMIZERS, "OPTIMIZERS"]
