"""optimlab：与 torch.optim 逐位一致、从数学公式写起的优化器，以及配套教材的工具。"""

from .optim import SGD, Adagrad, Adam, AdamW, NAdam, RMSprop

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "NAdam",
    "RMSprop",
    "Adagrad",
]
