"""optimlab 的优化器：每个算法一个文件，公共部分在 ``_base``。"""

from .adagrad import Adagrad
from .adam import Adam, AdamW
from .nadam import NAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "NAdam",
    "RMSprop",
    "Adagrad",
]
