"""Hinton knowledge distillation (KD) on logits, and its ignore mask.

Notation: ``z_s``, ``z_t`` student and teacher logits, ``tau`` the
temperature, ``p = softmax(z / tau)`` over the class dim.
``KL(p_t || p_s) = sum_k p_t,k (log p_t,k - log p_s,k)``.
"""
from typing import Optional, Sequence

import torch.nn.functional as F
from torch import Tensor


def softmax_kl(student: Tensor, teacher: Tensor, tau: float,
               dim: int) -> Tensor:
    """``KL(softmax(t / tau) || softmax(s / tau))`` along ``dim``.

    Shared by :func:`kd_divergence` (softmax over classes) and
    :func:`~.cwd.channel_wise_divergence` (softmax over positions).

    Args:
        student: Student logits, any shape.
        teacher: Teacher logits, the same shape.
        tau: Temperature (> 0).
        dim: The softmax dim; it is summed out.

    Returns:
        The KL per slice: the input shape without ``dim``.
    """
    log_p_t = F.log_softmax(teacher / tau, dim=dim)
    log_p_s = F.log_softmax(student / tau, dim=dim)
    return (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim)


def kd_divergence(student: Tensor,
                  teacher: Tensor,
                  tau: float = 1.0,
                  valid_mask: Optional[Tensor] = None) -> Tensor:
    """Hinton KD: ``tau^2 * mean KL(p_t || p_s)`` over samples or pixels.

    Reduction: the KL of each sample ``(N, C)``, or of each pixel
    ``(N, C, H, W)``, is averaged over the batch and, for dense logits, over
    the positions where ``valid_mask`` is True (all positions without a
    mask): ``sum_{n,h,w} m KL / sum m``. A mask with no True entry gives 0.

    Args:
        student: ``(N, C)`` or ``(N, C, H, W)`` logits.
        teacher: Same shape as ``student``.
        tau: Temperature (> 0).
        valid_mask: Dense only: ``(N, H, W)`` bool, False at ignored pixels.

    Returns:
        Scalar loss (before any loss weight).
    """
    kl = softmax_kl(student, teacher, tau, dim=1)  # (N[, H, W])
    if valid_mask is None:
        return kl.mean() * tau**2
    mask = valid_mask.to(kl.dtype)
    return (kl * mask).sum() / mask.sum().clamp_min(1) * tau**2


def valid_mask_from_labels(labels: Tensor, ignore_index: int,
                           size: Sequence[int]) -> Tensor:
    """``labels != ignore_index`` on a logit grid (nearest-neighbour resize).

    Use it to build :func:`kd_divergence`'s ``valid_mask`` from segmentation
    labels at image resolution (mmseg pads labels with ``seg_pad_val``, 255
    by default, which is also the usual ``ignore_index``, so padding counts
    as ignored).

    Args:
        labels: ``(N, H, W)`` or ``(N, 1, H, W)`` integer labels.
        ignore_index: Label of ignored pixels.
        size: ``(H', W')`` of the logits.

    Returns:
        ``(N, H', W')`` bool.
    """
    if labels.dim() == 4 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.dim() != 3 or labels.is_floating_point():
        raise ValueError(
            'valid_mask_from_labels expects integer labels (N, H, W) or '
            f'(N, 1, H, W), got {labels.dtype} {tuple(labels.shape)}; stack '
            'the data samples\' gt_sem_seg.data')
    size = tuple(int(s) for s in size)
    if tuple(labels.shape[-2:]) != size:
        labels = F.interpolate(
            labels[:, None].float(), size=size, mode='nearest')[:, 0].long()
    return labels != ignore_index
