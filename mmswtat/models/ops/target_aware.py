"""Target-aware attention and the TaT / SW-TaT / patch-merge passes.

Notation (all maps ``(B, C, H, W)`` on the same ``H x W`` grid):
``q`` queries, ``k`` keys, ``v`` values, ``target`` the raw teacher map. Each
target position ``i`` is reconstructed as ``R_i = sum_j softmax_j(scale *
<q_i, k_j>) v_j`` over the keys it may see, and the error is ``||R - target||^2``.
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .window import (IntPair, WindowGeometry, window_attention_mask,
                     window_geometry)
from .window_gather import gather_windows, windows_to_map

Scale = Union[float, str]


def resolve_scale(scale: Scale) -> Optional[float]:
    """``'auto'`` -> ``None`` (SDPA's ``1/sqrt(head_dim)``); a number as is."""
    if scale == 'auto':
        return None
    if isinstance(scale, str) or not isinstance(scale, (int, float)):
        raise ValueError(f"scale must be a number or 'auto', got {scale!r}")
    return float(scale)


def target_aware_attention(query: Tensor,
                           key: Tensor,
                           value: Tensor,
                           attn_mask: Optional[Tensor] = None,
                           scale: Scale = 1.0) -> Tensor:
    """``softmax(scale * q k^T, masked) v`` through SDPA.

    Args:
        query: ``(..., Lq, d)``.
        key: ``(..., Lk, d)``.
        value: ``(..., Lk, dv)``.
        attn_mask: Bool, broadcastable to ``(..., Lq, Lk)``; True = attend.
            Every query row must allow at least one key.
        scale: Logit scale; ``1.0`` is the paper's plain inner product,
            ``'auto'`` is ``1/sqrt(d)``.

    Returns:
        ``(..., Lq, dv)``.
    """
    return F.scaled_dot_product_attention(
        query, key, value, attn_mask=attn_mask, scale=resolve_scale(scale))


def _check_heads(channels: int, num_heads: int) -> None:
    if num_heads <= 0 or channels % num_heads:
        raise ValueError(f'{channels} channels cannot be split into '
                         f'num_heads={num_heads} equal groups; choose a '
                         f'num_heads that divides {channels}')


def window_tat_error(query: Tensor,
                     key: Tensor,
                     value: Tensor,
                     target: Tensor,
                     window_size: IntPair,
                     shift_size: IntPair = 0,
                     num_heads: int = 1,
                     scale: Scale = 1.0) -> Tensor:
    """Per-position squared reconstruction error of one window pass.

    Implements steps 1-4 of the contract: clamp the window, zero-pad, cyclic
    shift, partition, masked target-aware attention in each window.

    Args:
        query: ``(B, Cq, H, W)``.
        key: ``(B, Cq, H, W)``.
        value: ``(B, C, H, W)``.
        target: ``(B, C, H, W)``.
        window_size: Window ``(wh, ww)`` or an int.
        shift_size: Shift ``(sh, sw)`` or an int; 0 for the plain pass.
        num_heads: Channel groups; each attends on its own slice.
        scale: Logit scale (see :func:`target_aware_attention`).

    Returns:
        ``(B, H, W)``: ``sum_c (R_c - target_c)^2`` at every real position.
    """
    return window_tat_errors(query, key, value, target, window_size,
                             [shift_size], num_heads, scale)[0]


def window_tat_errors(query: Tensor,
                      key: Tensor,
                      value: Tensor,
                      target: Tensor,
                      window_size: IntPair,
                      shift_sizes: Sequence[IntPair],
                      num_heads: int = 1,
                      scale: Scale = 1.0) -> List[Tensor]:
    """:func:`window_tat_error` for several passes (e.g. ``[0, shift]``).

    Args:
        shift_sizes: One shift per pass.
        Others: as in :func:`window_tat_error`.

    Returns:
        One ``(B, H, W)`` error map per pass, in ``shift_sizes`` order.
    """
    b, c, h, w = target.shape
    _check_heads(c, num_heads)
    _check_heads(query.shape[1], num_heads)
    return [
        _pass_error(query, key, value, target,
                    window_geometry(h, w, window_size, shift), num_heads,
                    scale) for shift in shift_sizes
    ]


def _pass_error(query: Tensor, key: Tensor, value: Tensor, target: Tensor,
                geom: WindowGeometry, num_heads: int,
                scale: Scale) -> Tensor:
    """One pass: gather channel-major windows, attend on their transposes.

    See :mod:`.window_gather` for why the windows keep channels first.

    Returns:
        ``(B, H, W)``.
    """
    windows: Dict[int, Tensor] = {}  # identical inputs gathered once
    for x in (query, key, value, target):
        if id(x) not in windows:
            windows[id(x)] = gather_windows(x, geom, num_heads)
    q, k, v, t = (windows[id(x)] for x in (query, key, value, target))
    mask = window_attention_mask(geom, t.device)
    if mask is not None:
        mask = mask.view(1, geom.num_windows, *mask.shape[2:])  # (1,nW,L,L)
    recon = target_aware_attention(q.mT, k.mT, v.mT, mask, scale)
    err = (recon.mT - t).square().sum(-2)  # (B * heads, nW, L)
    err = err.reshape(target.shape[0], num_heads, -1).sum(1)
    return windows_to_map(err, geom)


def global_tat_error(query: Tensor,
                     key: Tensor,
                     value: Tensor,
                     target: Tensor,
                     num_heads: int = 1,
                     scale: Scale = 1.0) -> Tensor:
    """Per-position error of global (one window over the whole map) TaT.

    Shapes as in :func:`window_tat_error`; memory is ``O(B * (H*W)^2)``.
    """
    h, w = target.shape[-2:]
    return window_tat_error(query, key, value, target, (h, w), 0, num_heads,
                            scale)


def error_to_loss(error: Tensor, channels: int) -> Tensor:
    """Mean squared error over real elements from a ``(B, H, W)`` error map.

    ``sum(error) / (B * C * H * W)``.
    """
    return error.sum() / (error.numel() * channels)


def resolve_num_merges(height: int, width: int, num_merges: Union[int, str],
                       max_tokens: int = 1024) -> int:
    """Number of 2x2 merges: an int as given, or ``'auto'``.

    ``'auto'`` merges until ``H * W <= max_tokens`` (sizes rounded up to even
    before each merge, as :func:`patch_merge` pads).
    """
    if num_merges == 'auto':
        if max_tokens < 1:
            raise ValueError(f'max_tokens must be >= 1, got {max_tokens}')
        k = 0
        while height * width > max_tokens:
            height, width = math.ceil(height / 2), math.ceil(width / 2)
            k += 1
        return k
    if isinstance(num_merges, bool) or not isinstance(num_merges, int) \
            or num_merges < 0:
        raise ValueError(
            f"num_merges must be an int >= 0 or 'auto', got {num_merges!r}")
    return num_merges


def patch_merge(x: Tensor, num_merges: int) -> Tensor:
    """Merge 2x2 patches ``num_merges`` times (zero-pad to even, space-to-depth).

    Args:
        x: ``(B, C, H, W)``.

    Returns:
        ``(B, C * 4**k, ceil-halved H, ceil-halved W)`` with
        ``F.pixel_unshuffle`` channel order (``c * 4 + 2 * dy + dx``).
    """
    for _ in range(num_merges):
        h, w = x.shape[-2:]
        if h % 2 or w % 2:
            x = F.pad(x, (0, w % 2, 0, h % 2))
        x = F.pixel_unshuffle(x, 2)
    return x
