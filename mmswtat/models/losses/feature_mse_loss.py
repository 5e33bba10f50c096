"""FitNet feature regression."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from mmswtat.registry import MODELS
from .peer_loss import PeerLoss


@MODELS.register_module()
class FeatureMSELoss(PeerLoss):
    """FitNet hint loss: ``loss_weight * mean_{n,c,h,w} (S - T)^2``.

    Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015. ``S`` is
    the student feature after a connector (a 1x1 conv + BN regressor, e.g. a
    shared ``mmswtat.ConvBNConnector`` in ``connectors``) that maps it to the
    teacher's channels; ``T`` is the raw teacher feature. The mean runs over
    every element. A student map of another size is resized (bilinear) to
    the teacher's.

    Args:
        loss_weight: Multiplier of the loss.
        init_cfg: mmengine init config.
    """

    ranks = (2, 4)
    channel_fix = ('put a connector on the student side, e.g. '
                   "dict(recorder=..., connector=dict(type='mmswtat."
                   "ConvBNConnector', in_channels=C_s, out_channels=C_t))")

    def compute(self, student: Tensor, teacher: Tensor,
                valid_mask: Optional[Tensor]) -> Tensor:
        return F.mse_loss(student, teacher)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
