"""PKD: feature imitation by Pearson correlation (Cao et al., NeurIPS 2022).

Notation: ``F`` an ``(N, C, H, W)`` feature map, ``M = N * H * W`` the
number of values of one channel over the batch. Channel ``c`` is
standardised over those ``M`` values:
``F'_c = (F_c - mu_c) / (sigma_c + eps)``, ``mu_c = mean F_c``,
``sigma_c = sqrt(sum (F_c - mu_c)^2 / (M - 1))`` (the sample standard
deviation, as in the published code, which uses ``torch.std``; ``M - 1`` is
floored at 1 so that a single value gives 0, not NaN), ``eps = 1e-6``;
the variance is floored at 1e-24 before its root (finite gradients on a
constant channel).
``L = mean_{n,c,h,w} (F'_s - F'_t)^2 / 2``. As ``sum F'^2 = M - 1`` per
channel (``eps`` aside), ``L = (M - 1) / M * mean_c (1 - r_c)``, ``r_c`` the
Pearson correlation of student and teacher channel ``c``: hence the name.
"""
from torch import Tensor

#: Added to the standard deviation (the published code's value).
PKD_EPS = 1e-6
#: Floor of the variance before its square root (a finite gradient).
VAR_FLOOR = 1e-24


def channel_normalize(feat: Tensor, eps: float = PKD_EPS) -> Tensor:
    """Standardise each channel over the batch and positions.

    Args:
        feat: ``(N, C, H, W)``.
        eps: Added to the standard deviation.

    Returns:
        ``(N, C, H, W)``: per channel, zero mean and (sample) standard
        deviation ``sigma / (sigma + eps)`` over its ``N * H * W`` values.
    """
    dims = (0, 2, 3)
    count = feat.numel() // max(feat.shape[1], 1)
    centred = feat - feat.mean(dims, keepdim=True)
    var = centred.square().sum(dims, keepdim=True) / max(count - 1, 1)
    # The floor keeps the gradient finite on a constant channel (and for a
    # single value, M = 1); it is far below eps, so values do not change.
    return centred / (var.clamp_min(VAR_FLOOR).sqrt() + eps)


def pkd_divergence(student: Tensor,
                   teacher: Tensor,
                   eps: float = PKD_EPS) -> Tensor:
    """PKD: ``mean (norm(S) - norm(T))^2 / 2`` with :func:`channel_normalize`.

    Args:
        student: ``(N, C, H, W)``.
        teacher: ``(N, C, H, W)``, the same shape.
        eps: See :func:`channel_normalize`.

    Returns:
        Scalar loss (before any loss weight).
    """
    diff = channel_normalize(student, eps) - channel_normalize(teacher, eps)
    return diff.square().mean() / 2
