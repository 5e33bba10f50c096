"""Naive windowed TaT, computed the way the official CVPR 2022 TaT code does.

The official segmentation code (``distiller_tat.py``, patch-group
distillation) cuts each map into a grid of patches with ``Tensor.unfold``,
stacks the patches as a batch, and runs attention with two ``einsum`` calls
around an explicit ``softmax``: the full ``L x L`` attention matrix of every
window is materialised and kept for the backward pass. There is no shifted
pass, no padding (sizes must divide) and no masking.

This module is our own re-implementation of that approach, kept as the
baseline of the benchmark. On shapes where both apply (no shift, sizes
divisible by the window) it computes the same numbers as the plain pass of
:class:`mmswtat.models.SWTaTLoss`; ``tests/e2e/test_benchmark.py`` checks it.
"""
import math
from typing import List, Tuple

import torch
from torch import Tensor

from mmswtat.models.losses.base_tat_loss import BaseTaTLoss
from mmswtat.models.ops import resolve_scale, to_2tuple
from mmswtat.models.ops.target_aware import Scale
from mmswtat.models.ops.window import IntPair


def _unfold_windows(x: Tensor, wh: int, ww: int, num_heads: int) -> Tensor:
    """``(B, C, H, W)`` -> ``(B * nW, heads, C // heads, wh * ww)``.

    Windows row-major over the grid (``Tensor.unfold`` on H, then W), tokens
    row-major inside a window.
    """
    b, c, h, w = x.shape
    x = x.unfold(2, wh, wh).unfold(3, ww, ww)  # (B, C, nh, nw, wh, ww)
    x = x.permute(0, 2, 3, 1, 4, 5)  # (B, nh, nw, C, wh, ww)
    return x.reshape(b * (h // wh) * (w // ww), num_heads, c // num_heads,
                     wh * ww)


def naive_window_tat_error(query: Tensor,
                           key: Tensor,
                           value: Tensor,
                           target: Tensor,
                           window_size: IntPair,
                           num_heads: int = 1,
                           scale: Scale = 1.0) -> Tensor:
    """Per-position squared error of plain (unshifted) windowed TaT.

    Args:
        query: ``(B, Cq, H, W)``.
        key: ``(B, Cq, H, W)``.
        value: ``(B, C, H, W)``.
        target: ``(B, C, H, W)``.
        window_size: ``(wh, ww)`` or an int, dividing ``H`` and ``W``.
        num_heads: Channel groups (must divide ``Cq`` and ``C``).
        scale: Logit scale; ``1.0`` or ``'auto'`` (``1/sqrt(Cq / heads)``).

    Returns:
        ``(B, H, W)``: ``sum_c (R_c - target_c)^2`` at every position.

    Raises:
        ValueError: Sizes not divisible by the window, or channels not by
            the heads.
    """
    b, c, h, w = target.shape
    wh, ww = to_2tuple(window_size, 'window_size')
    if h % wh or w % ww:
        raise ValueError(
            f'naive_window_tat needs the map {(h, w)} to be divisible by the '
            f'window {(wh, ww)} (the official code has no padding); use '
            'SWTaTLoss for other sizes')
    for ch in (c, query.shape[1]):
        if ch % num_heads:
            raise ValueError(f'{ch} channels cannot be split into '
                             f'num_heads={num_heads} groups')
    factor = resolve_scale(scale)
    if factor is None:
        factor = 1.0 / math.sqrt(query.shape[1] // num_heads)
    q, k, v, t = (
        _unfold_windows(x, wh, ww, num_heads)
        for x in (query, key, value, target))
    sim = torch.einsum('nhdi,nhdj->nhij', q, k) * factor  # (B*nW, h, L, L)
    attn = sim.softmax(dim=-1)
    recon = torch.einsum('nhij,nhdj->nhdi', attn, v)  # (B*nW, h, d, L)
    err = (recon - t).square().sum(dim=(1, 2))  # (B*nW, L)
    err = err.view(b, h // wh, w // ww, wh, ww).permute(0, 1, 3, 2, 4)
    return err.reshape(b, h, w)


def naive_window_tat(query: Tensor,
                     key: Tensor,
                     value: Tensor,
                     target: Tensor,
                     window_size: IntPair,
                     num_heads: int = 1,
                     scale: Scale = 1.0) -> Tensor:
    """Mean squared error of plain windowed TaT (the official code's loss).

    Same arguments as :func:`naive_window_tat_error`.

    Returns:
        Scalar ``mean_{b,c,h,w} (R - target)^2``.
    """
    err = naive_window_tat_error(query, key, value, target, window_size,
                                 num_heads, scale)
    return err.sum() / (err.numel() * target.shape[1])


class NaiveWindowTaTLoss(BaseTaTLoss):
    """The naive baseline as a loss module, with the same embeddings as ours.

    Projection (resize, detach, ``phi_q``/``phi_k``/``phi_v``) is inherited
    from :class:`BaseTaTLoss`; only the attention differs (unfold + einsum,
    plain windows only). Deliberately not registered: it is a benchmark
    baseline, not a training loss.

    Args:
        window_size: ``(wh, ww)`` or an int, dividing the teacher map.
        Others: see :class:`BaseTaTLoss`.
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 window_size: IntPair = 8,
                 **kwargs) -> None:
        super().__init__(student_channels, teacher_channels, **kwargs)
        self.window_size = to_2tuple(window_size, 'window_size')

    def passes(self,
               query: Tensor,
               key: Tensor,
               value: Tensor,
               target: Tensor,
               reduction: str = 'map') -> List[Tuple[str, Tensor, int]]:
        err = naive_window_tat_error(query, key, value, target,
                                     self.window_size, self.num_heads,
                                     self.scale)
        return [('naive_plain', err, target.numel())]
