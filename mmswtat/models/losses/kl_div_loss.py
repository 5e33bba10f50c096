"""``KLDivLoss``: the former name of :class:`KDLoss`, kept for configs."""
from mmswtat.registry import MODELS
from .kd_loss import KDLoss


@MODELS.register_module()
class KLDivLoss(KDLoss):
    """``tau^2 * KL(p_t || p_s)`` per sample/pixel, ``p = softmax(z / tau)``.

    The same loss as :class:`KDLoss` (one implementation,
    :func:`~mmswtat.models.ops.kd_divergence`), under the name existing
    configs use. Computed in fp32 with ``log_softmax`` on both sides (mmseg
    1.2.2's ``KLDivLoss`` passes probabilities where ``F.kl_div`` wants
    log-probabilities). Args: see :class:`KDLoss`.
    """
