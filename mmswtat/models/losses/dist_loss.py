"""DIST: knowledge distillation from a stronger teacher."""
from typing import Optional

from torch import Tensor

from mmswtat.registry import MODELS
from ..ops import dist_terms
from .peer_loss import TemperedPeerLoss


@MODELS.register_module()
class DISTLoss(TemperedPeerLoss):
    """``loss_weight * tau^2 * (beta * L_inter + gamma * L_intra)``.

    Huang et al., "Knowledge Distillation from A Stronger Teacher", NeurIPS
    2022. With ``Y = softmax(z / tau)`` as ``(R, C)`` rows,
    ``L_inter = 1 - mean_r rho(Y_s[r], Y_t[r])`` (per sample, across
    classes) and ``L_intra = 1 - mean_c rho(Y_s[:, c], Y_t[:, c])`` (per
    class, across the batch), ``rho`` the Pearson correlation
    (:func:`~mmswtat.models.ops.pearson_rows`). Dense logits ``(N, C, H, W)``
    give one row per pixel over the whole batch (the official segmentation
    code); ``valid_mask`` drops ignored pixels (the official code keeps
    them; pass no mask for its exact form). A dense student is resized
    (bilinear) to the teacher's size.

    Args:
        beta: Weight of the inter-class term.
        gamma: Weight of the intra-class term.
        tau: Temperature (> 0).
        loss_weight: Multiplier of the loss.
        init_cfg: mmengine init config.
    """

    masked = True

    def __init__(self,
                 beta: float = 1.0,
                 gamma: float = 1.0,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(tau, loss_weight, init_cfg)
        self.beta = beta
        self.gamma = gamma

    def compute(self, student: Tensor, teacher: Tensor,
                valid_mask: Optional[Tensor]) -> Tensor:
        inter, intra = dist_terms(student, teacher, self.tau, valid_mask)
        return self.beta * inter + self.gamma * intra

    def extra_repr(self) -> str:
        return (f'beta={self.beta}, gamma={self.gamma}, tau={self.tau}, '
                f'loss_weight={self.loss_weight}')
