"""optimlab：与 torch.optim 逐位一致、从数学公式写起的优化器，以及配套教材的工具。"""

from .optim import (
    ASGD,
    LBFGS,
    SGD,
    Adadelta,
    Adafactor,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Muon,
    NAdam,
    RAdam,
    RMSprop,
    Rprop,
    SparseAdam,
)
from .optim import __all__ as OPTIMIZERS

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "NAdam",
    "RMSprop",
    "Adagrad",
    "RAdam",
    "Adamax",
    "Adadelta",
    "ASGD",
    "Rprop",
    "LBFGS",
    "SparseAdam",
    "Adafactor",
    "Muon",
    "OPTIMIZERS",
]
