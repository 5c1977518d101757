"""《torch.optim 的其他优化器》（第 8–10 章）的探索器：代码在 :mod:`optimlab.widgets.more`，书中从这里导入。"""

from .widgets.more import (
    BASELINE,
    CHOICES,
    EXCLUDED,
    MORE_DEF,
    SUGGESTED_LR,
    MoreOptimizersExplorer,
    more_optimizers_explorer,
)

__all__ = ["CHOICES", "EXCLUDED", "SUGGESTED_LR", "BASELINE", "MORE_DEF", "MoreOptimizersExplorer",
           "more_optimizers_explorer"]
