"""Channel-wise distillation (CWD, Shu et al., ICCV 2021)."""
from torch import Tensor

from .kd import softmax_kl


def channel_wise_divergence(student: Tensor,
                            teacher: Tensor,
                            tau: float = 1.0) -> Tensor:
    """CWD: ``tau^2 / (N C) * sum_{n,c} KL(q^t_nc || q^s_nc)``.

    ``q_nc = softmax_hw(z_nc / tau)`` is channel ``c`` of sample ``n`` as a
    distribution over positions.

    Each channel of each sample becomes a distribution over its ``H * W``
    positions (softmax at temperature ``tau``); the KL of teacher to student
    is summed over positions, averaged over channels and batch (the division
    by ``N * C`` of the official code and MMRazor), and scaled by ``tau^2``.
    Features and logits alike.

    Args:
        student: ``(N, C, H, W)``.
        teacher: ``(N, C, H, W)``.
        tau: Temperature (> 0).

    Returns:
        Scalar loss (before any loss weight).
    """
    kl = softmax_kl(student.flatten(2), teacher.flatten(2), tau, dim=-1)
    return kl.mean() * tau**2
