"""DIST: relation distillation by Pearson correlation (Huang et al., 2022).

Notation: ``Y_s``, ``Y_t`` are ``(R, C)`` probability matrices (``R`` rows =
samples, or pixels for dense predictions; ``C`` classes),
``Y = softmax(z / tau)`` per row.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor


def pearson_rows(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """Pearson correlation of matching rows: ``cos(a - mean a, b - mean b)``.

    As the official code: ``<a', b'> / (|a'| |b'| + eps)`` with ``a'`` the
    row minus its mean, so a constant row gives 0, not NaN.

    Args:
        a: ``(R, K)``.
        b: ``(R, K)``.
        eps: Added to the norm product.

    Returns:
        ``(R,)``.
    """
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def dist_rows(logits: Tensor, valid_mask: Optional[Tensor] = None) -> Tensor:
    """Logits as ``(R, C)`` rows: ``(N, C)`` as is, else one row per pixel.

    Args:
        logits: ``(N, C)`` or ``(N, C, H, W)``.
        valid_mask: Dense only, ``(N, H, W)`` bool; keeps the True pixels.

    Returns:
        ``(R, C)`` with ``R = N``, ``N * H * W`` or the number of True pixels.
    """
    if logits.dim() == 2:
        return logits
    rows = logits.permute(0, 2, 3, 1)  # (N, H, W, C)
    if valid_mask is not None:
        return rows[valid_mask]
    return rows.reshape(-1, logits.shape[1])


def dist_terms(student: Tensor,
               teacher: Tensor,
               tau: float = 1.0,
               valid_mask: Optional[Tensor] = None,
               eps: float = 1e-8) -> Tuple[Tensor, Tensor]:
    """DIST's inter- and intra-class relation losses, each times ``tau^2``.

    ``inter = 1 - mean_r rho(Y_s[r, :], Y_t[r, :])`` (each sample's class
    distribution); ``intra = 1 - mean_c rho(Y_s[:, c], Y_t[:, c])`` (each
    class's scores across the rows of the batch). Dense logits are flattened
    to one row per pixel (over the whole batch), as the official
    segmentation code does.

    Args:
        student: ``(N, C)`` or ``(N, C, H, W)`` logits.
        teacher: Same shape.
        tau: Temperature (> 0).
        valid_mask: Dense only, ``(N, H, W)`` bool: only True pixels are rows.
        eps: See :func:`pearson_rows`.

    Returns:
        ``(inter, intra)`` scalars; both 0 when the mask keeps no pixel.
    """
    y_s = torch.softmax(dist_rows(student, valid_mask) / tau, dim=1)
    y_t = torch.softmax(dist_rows(teacher, valid_mask) / tau, dim=1)
    if y_s.shape[0] == 0:  # every pixel masked out: nothing to match
        zero = student.sum() * 0
        return zero, zero
    inter = 1 - pearson_rows(y_s, y_t, eps).mean()
    intra = 1 - pearson_rows(y_s.T, y_t.T, eps).mean()
    return inter * tau**2, intra * tau**2
