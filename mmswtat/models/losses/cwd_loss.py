"""Channel-wise distillation (CWD) for dense prediction."""
from typing import Optional

from torch import Tensor

from mmswtat.registry import MODELS
from ..ops import channel_wise_divergence
from .peer_loss import TemperedPeerLoss


@MODELS.register_module()
class ChannelWiseDivergence(TemperedPeerLoss):
    """CWD: per-channel spatial softmax, KL(teacher || student), x tau^2.

    Shu et al., "Channel-wise Knowledge Distillation for Dense Prediction",
    ICCV 2021. ``L = loss_weight * tau^2 / (N C) * sum_{n,c} sum_i
    p^t_nci (log p^t_nci - log p^s_nci)`` with ``p_nc = softmax over the H*W
    positions of z_nc / tau``; the normalisation of the official code and
    MMRazor. Works on feature maps (project the student to the teacher's
    channels with a connector first) and on logits. A student map of another
    size is resized (bilinear) to the teacher's.

    Args:
        tau: Temperature (> 0).
        loss_weight: Multiplier of the loss.
        init_cfg: mmengine init config.
    """

    ranks = (4, )
    channel_fix = ('project the student with a connector, e.g. '
                   "dict(recorder=..., connector=dict(type='mmswtat."
                   "ConvBNConnector', in_channels=C_s, out_channels=C_t))")

    def compute(self, student: Tensor, teacher: Tensor,
                valid_mask: Optional[Tensor]) -> Tensor:
        return channel_wise_divergence(student, teacher, self.tau)
