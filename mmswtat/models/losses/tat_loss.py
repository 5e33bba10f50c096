"""Global target-aware transformer loss (TaT, CVPR 2022)."""
from typing import List, Tuple

from torch import Tensor

from mmswtat.registry import MODELS
from ..ops import global_tat_error
from .base_tat_loss import BaseTaTLoss


@MODELS.register_module()
class TaTLoss(BaseTaTLoss):
    """One-to-all TaT: every teacher position attends to every student one.

    ``L = loss_weight * mean_{b,i,c} (R_ic - T_ic)^2`` with ``R_i =
    sum_j softmax_j(scale * <Q_i, K_j>) V_j`` over all ``H * W`` positions.
    Memory ``O(B * (H*W)^2)``: use :class:`SWTaTLoss` on large maps.

    Args: see :class:`BaseTaTLoss`.
    """

    def passes(self, query: Tensor, key: Tensor, value: Tensor,
               target: Tensor,
               reduction: str = 'map') -> List[Tuple[str, Tensor, int]]:
        err = global_tat_error(query, key, value, target, self.num_heads,
                               self.scale, reduction, self.attn_impl)
        return [('global', err, target.numel())]
