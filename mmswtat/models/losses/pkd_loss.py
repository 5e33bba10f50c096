"""PKD: Pearson-correlation feature imitation for detectors."""
from typing import Optional

from torch import Tensor

from mmswtat.registry import MODELS
from ..ops import pkd_divergence
from .peer_loss import PeerLoss


@MODELS.register_module()
class PKDLoss(PeerLoss):
    """PKD: MSE / 2 between per-channel standardised feature maps.

    Cao et al., "PKD: General Distillation Framework for Object Detectors
    via Pearson Correlation Coefficient", NeurIPS 2022 (MMRazor and mmdet
    ``PKDLoss``). Each map is standardised per channel over its
    ``N * H * W`` values (zero mean, unit sample standard deviation, eps
    1e-6 on the deviation; :func:`~mmswtat.models.ops.channel_normalize`),
    then ``L = loss_weight * mean_{n,c,h,w} (S' - T')^2 / 2``, which is
    ``1 - r`` (``r`` the Pearson correlation) up to the normalisation
    constants: only the teacher's pattern is imitated, not its magnitude.
    Meant for FPN levels (one loss per level, e.g. ``index=[0, 1, 2, 3]``
    in ``loss_forward_mappings``); MMRazor uses ``loss_weight`` 6 per level
    for Faster R-CNN R101 -> R50 and 10 for RetinaNet X101 -> R50. A student
    map of another size is resized (bilinear) to the teacher's.

    Args:
        loss_weight: Multiplier of the loss.
        init_cfg: mmengine init config.
    """

    ranks = (4, )
    channel_fix = ('put a connector on the student side, e.g. '
                   "dict(recorder=..., connector=dict(type='mmswtat."
                   "ConvBNConnector', in_channels=C_s, out_channels=C_t))")

    def compute(self, student: Tensor, teacher: Tensor,
                valid_mask: Optional[Tensor]) -> Tensor:
        return pkd_divergence(student, teacher)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
