"""Hinton logit distillation (KD)."""
from typing import Optional

from torch import Tensor

from mmswtat.registry import MODELS
from ..ops import kd_divergence
from .peer_loss import TemperedPeerLoss


@MODELS.register_module()
class KDLoss(TemperedPeerLoss):
    """Hinton KD: ``loss_weight * tau^2 * mean KL(p_t || p_s)``.

    ``p = softmax(z / tau)`` over classes.

    Hinton et al., "Distilling the Knowledge in a Neural Network", 2015. The
    KL is taken over classes (dim 1) for each sample ``(N, C)`` or each pixel
    ``(N, C, H, W)`` and averaged over the batch and, for dense logits, over
    the pixels where ``valid_mask`` is True (``sum(mask * KL) / sum(mask)``;
    0 if no pixel is valid). A dense student is resized (bilinear) to the
    teacher's size. See :func:`~mmswtat.models.ops.kd_divergence`.

    Args:
        tau: Temperature ``T`` (> 0); the loss is scaled by ``T^2`` so its
            gradients keep their size across temperatures.
        loss_weight: Multiplier of the loss.
        init_cfg: mmengine init config.
    """

    masked = True

    def compute(self, student: Tensor, teacher: Tensor,
                valid_mask: Optional[Tensor]) -> Tensor:
        return kd_divergence(student, teacher, self.tau, valid_mask)
