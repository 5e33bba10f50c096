"""Scale options of the TaT losses (``normalize=``).

The raw TaT error ``||R - T||^2`` follows the teacher feature's magnitude,
so a loss weight tuned on one teacher means nothing on another. Modes:

- ``'none'``: the paper's raw form.
- ``'channel'``: the value ``V`` and the target ``T`` are standardised per
  sample and channel with the *teacher's* statistics over the map:
  ``x' = (x - mu_bc) / sqrt(d_bc)``, ``mu_bc = mean_hw T``,
  ``var_bc = mean_hw (T - mu_bc)^2``, ``d_bc = var_bc + eps * mean_c var_bc
  + 1e-12`` (``eps = CHANNEL_EPS``: a relative floor, so near-constant
  channels are not blown up and the result stays scale-free). Queries and
  keys are untouched, so the attention is unchanged; as the softmax
  weights sum to 1, ``R' = (R - mu) / sqrt(d)`` and the error becomes
  ``sum_c (R_c - T_c)^2 / d_bc``.
- ``'teacher_rms'``: the loss is divided by the teacher's mean squared
  activation ``mean_{b,c,h,w} T^2`` (detached; floored at 1e-12).
- ``'self'``: PKD's standardisation (:func:`~mmswtat.models.ops.pkd.
  channel_normalize`) on each of ``Q``, ``K``, ``V`` and ``T`` with its
  **own** per-channel statistics over the batch and the positions
  (``M = B * H * W`` values a channel): ``x' = (x - mu_c) / (sigma_c +
  1e-6)``, ``sigma_c`` the sample standard deviation. The student's
  statistics carry gradients (as in PKD), the teacher's are detached with
  it. The loss is then invariant to a per-channel scale and offset of
  either network, and the attention logits ``<q', k'>`` are too. With
  ``embed=False`` (``Q = T``, ``K = V = S``) it standardises the student
  and the teacher maps once each.
"""
from typing import Tuple

import torch
from torch import Tensor

from .pkd import channel_normalize

TAT_NORMALIZE = ('none', 'channel', 'teacher_rms', 'self')
CHANNEL_EPS = 1e-2


def channel_standardize(value: Tensor,
                        target: Tensor,
                        eps: float = CHANNEL_EPS) -> Tuple[Tensor, Tensor]:
    """Standardise ``value`` and ``target`` with the target's channel stats.

    Args:
        value: ``(B, C, H, W)``.
        target: ``(B, C, H, W)`` (the teacher; its statistics are detached).
        eps: Relative variance floor (see the module docstring).

    Returns:
        ``(value', target')``, same shapes.
    """
    stats = target.detach()
    mu = stats.mean((2, 3), keepdim=True)
    var = (stats - mu).square().mean((2, 3), keepdim=True)  # (B, C, 1, 1)
    d = var + eps * var.mean(1, keepdim=True) + 1e-12
    inv = d.rsqrt()
    return (value - mu) * inv, (target - mu) * inv


def teacher_mean_square(target: Tensor) -> Tensor:
    """``mean(T^2)`` over all elements, detached, floored at 1e-12."""
    return target.detach().square().mean().clamp_min(1e-12)


def tat_normalize(query: Tensor, key: Tensor, value: Tensor, target: Tensor,
                  mode: str) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Apply a ``normalize`` mode to projected TaT maps.

    Args:
        query, key, value, target: ``(B, C, H, W)`` maps of a TaT loss.
        mode: One of :data:`TAT_NORMALIZE`.

    Returns:
        ``(query, key, value, target, divisor)``: the loss (or error map)
        computed on the returned maps is divided by ``divisor`` (a scalar
        tensor; 1 except for ``'teacher_rms'``).
    """
    if mode not in TAT_NORMALIZE:
        raise ValueError(f'normalize must be one of {TAT_NORMALIZE}, got '
                         f'{mode!r}')
    one = torch.ones((), dtype=target.dtype, device=target.device)
    if mode == 'channel':
        if target.shape[-2] * target.shape[-1] == 1:
            # Measured: RetinaNet's P7 at 128 px is 1x1; var = 0 gave an
            # infinite loss at the first step.
            raise ValueError(
                "normalize='channel' standardises each channel over the "
                'positions of the map, and this map has one position '
                f'({tuple(target.shape)}): its variance is 0 and the loss '
                "would be infinite. Use normalize='none' or 'teacher_rms' "
                "on this level (e.g. per_level=dict(normalize=['channel', "
                "..., 'none'])) or leave the level out of index")
        value, target = channel_standardize(value, target)
        return query, key, value, target, one
    if mode == 'teacher_rms':
        return query, key, value, target, teacher_mean_square(target)
    if mode == 'self':
        if target.numel() == target.shape[1]:
            raise ValueError(
                "normalize='self' standardises each channel over the batch "
                'and the positions of the map, and this map has one value '
                f'per channel ({tuple(target.shape)}: batch 1 and one '
                'position): its variance is 0. Use a batch of 2 or more, '
                "normalize='none' on this level (e.g. per_level=dict("
                "normalize=['self', ..., 'none'])) or leave the level out "
                'of index')
        # With embed=False, Q is T and K is V: standardise each map once.
        done = {}

        def norm(x: Tensor) -> Tensor:
            if id(x) not in done:
                done[id(x)] = channel_normalize(x)
            return done[id(x)]

        return norm(query), norm(key), norm(value), norm(target), one
    return query, key, value, target, one
