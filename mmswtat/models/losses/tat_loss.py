"""Global target-aware transformer loss (TaT, CVPR 2022)."""
from typing import List

from mmswtat.registry import MODELS
from ..ops import PassLayout, global_pass
from .base_tat_loss import BaseTaTLoss


@MODELS.register_module()
class TaTLoss(BaseTaTLoss):
    """One-to-all TaT: every teacher position attends to every student one.

    ``L = loss_weight * mean_{b,i,c} (R_ic - T_ic)^2`` with ``R_i =
    sum_j softmax_j(scale * <Q_i, K_j>) V_j`` over all ``H * W`` positions.
    Memory ``O(B * (H*W)^2)``: use :class:`SWTaTLoss` on large maps.

    Args: see :class:`BaseTaTLoss`.
    """

    def pass_layouts(self, height: int, width: int) -> List[PassLayout]:
        """One ``'global'`` pass: a single window over the whole map.

        Args:
            height: Teacher map height ``H``.
            width: Teacher map width ``W``.
        """
        return [global_pass('global', height, width)]
