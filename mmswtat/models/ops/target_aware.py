"""Target-aware attention and the TaT / SW-TaT / patch-merge passes.

Notation (all maps ``(B, C, H, W)`` on the same ``H x W`` grid):
``q`` queries, ``k`` keys, ``v`` values, ``target`` the raw teacher map. Each
target position ``i`` is reconstructed as ``R_i = sum_j softmax_j(scale *
<q_i, k_j>) v_j`` over the keys it may see, and the error is
``||R - target||^2``.
"""
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmswtat.utils.value_checks import ConfigTypeError, check_number
from .pass_layout import PassLayout, patch_merge
from .window import (WindowGeometry, window_attention_bias,
                     window_attention_mask)
from .window_gather import gather_windows, windows_to_map

Scale = Union[float, str]
ATTENTION_IMPLS = ('auto', 'sdpa', 'matmul')


def resolve_scale(scale: Scale,
                  owner: str = 'TaT attention') -> Optional[float]:
    """``'auto'`` -> ``None`` (SDPA's ``1/sqrt(head_dim)``); a number > 0 as
    a float.

    The one check of a logit scale: the losses call it when ``scale`` is set
    (``owner`` their class name), the attention functions per call.

    Raises:
        ConfigTypeError: Neither ``'auto'`` nor a number.
        ValueError: A number that is not finite and > 0.
    """
    if isinstance(scale, str) and scale != 'auto' or scale is None:
        raise ConfigTypeError(f"{owner}: scale must be a number or 'auto', "
                              f'got {scale!r}')
    if scale == 'auto':
        return None
    return float(check_number(owner, 'scale', scale, positive=True))


def resolve_attention_impl(impl: str, owner: str = 'TaT attention') -> str:
    """``'auto'`` -> ``'matmul'``; ``'sdpa'`` and ``'matmul'`` as given.

    The one check of an attention implementation (the losses call it when
    ``attn_impl`` is set, ``owner`` their class name).

    The windows of a pass are channel-first (see :mod:`.window_gather`), so
    SDPA gets transposed operands. Every fused SDPA kernel (flash,
    memory-efficient, CPU flash) requires the last dim to have stride 1, so
    SDPA takes its math path on any device, which also multiplies Q and K
    by ``sqrt(scale)`` (two extra passes over the largest tensors) and turns
    the boolean mask into an additive one on every call. ``'matmul'`` is the
    same math written out: ``softmax(scale * Q^T K + bias) V^T`` with the
    scale applied to the small ``L x L`` logits and the additive mask cached
    (measured 20-25% faster per SW-TaT step on the CPU; not measured on a
    GPU).

    Raises:
        ValueError: Not one of :data:`ATTENTION_IMPLS`.
    """
    if impl not in ATTENTION_IMPLS:
        raise ValueError(f'{owner}: attn_impl must be one of '
                         f'{ATTENTION_IMPLS}, got {impl!r}')
    return 'matmul' if impl == 'auto' else impl


def channel_first_attention(query: Tensor,
                            key: Tensor,
                            value: Tensor,
                            geom: Optional[WindowGeometry] = None,
                            scale: Scale = 1.0,
                            impl: str = 'auto') -> Tensor:
    """Target-aware attention on channel-first windows.

    ``R[:, i] = sum_j softmax_j(scale * <q[:, i], k[:, j]>) v[:, j]`` over
    the keys allowed by the pass's mask
    (:func:`~.window.window_attention_mask`).

    Args:
        query: ``(N, nW, d, L)``.
        key: ``(N, nW, d, L)``.
        value: ``(N, nW, dv, L)``.
        geom: The pass geometry (for its mask); ``None`` = no mask.
        scale: Logit scale; ``1.0`` is the paper's plain inner product,
            ``'auto'`` is ``1/sqrt(d)``.
        impl: ``'sdpa'``, ``'matmul'`` or ``'auto'``
            (:func:`resolve_attention_impl`); both give the same values.

    Returns:
        ``(N, nW, dv, L)``.
    """
    return resolved_attention(query, key, value, geom, resolve_scale(scale),
                              resolve_attention_impl(impl))


def resolved_attention(query: Tensor, key: Tensor, value: Tensor,
                       geom: Optional[WindowGeometry], factor: Optional[float],
                       impl: str) -> Tensor:
    """:func:`channel_first_attention` with its arguments already resolved.

    No checks: the losses resolve scale and implementation once, at build.

    Args:
        query, key, value, geom: As in :func:`channel_first_attention`.
        factor: :func:`resolve_scale` of the scale (``None``:
            ``1/sqrt(d)``).
        impl: ``'sdpa'`` or ``'matmul'`` (:func:`resolve_attention_impl`).

    Returns:
        ``(N, nW, dv, L)``.
    """
    if impl == 'sdpa':
        mask = None if geom is None else window_attention_mask(
            geom, query.device)
        if mask is not None:
            mask = mask.view(1, geom.num_windows, *mask.shape[2:])
        return F.scaled_dot_product_attention(
            query.mT, key.mT, value.mT, attn_mask=mask, scale=factor).mT
    logits = torch.matmul(query.mT, key)  # (N, nW, L, L)
    if factor is None:
        factor = query.shape[-2]**-0.5
    if factor != 1.0:
        logits = logits * factor
    bias = None if geom is None else window_attention_bias(geom, query.device)
    if bias is not None:
        logits = logits + bias
    return torch.matmul(value, torch.softmax(logits, -1).mT)


def map_distinct(fn: Callable[[Tensor], Tensor],
                 maps: Sequence[Tensor]) -> List[Tensor]:
    """``[fn(x) for x in maps]``, computing ``fn`` once per distinct tensor.

    With ``embed=False`` the query is the target and the key is the value
    (the same tensors), so their windows or merged tokens are made once.
    """
    done: Dict[int, Tensor] = {}
    for x in maps:
        if id(x) not in done:
            done[id(x)] = fn(x)
    return [done[id(x)] for x in maps]


def check_reduction(reduction: str) -> None:
    """Raise unless ``reduction`` is ``'map'`` or ``'sum'``."""
    if reduction not in ('map', 'sum'):
        raise ValueError(f"reduction must be 'map' or 'sum', got "
                         f'{reduction!r}')


def pass_error(query: Tensor, key: Tensor, value: Tensor, target: Tensor,
               layout: PassLayout, num_heads: int, factor: Optional[float],
               reduction: str, impl: str) -> Tensor:
    """Error of one pass: merge, gather channel-major windows, attend.

    The one implementation of every pass (what the losses run). No checks:
    the arguments are resolved once, by the loss at build. See
    :mod:`.window_gather` for why the windows keep channels first.

    Args:
        query: ``(B, Cq, H, W)``.
        key: ``(B, Cq, H, W)``.
        value: ``(B, C, H, W)``.
        target: ``(B, C, H, W)``.
        layout: The pass (``layout.sizes[0] == (H, W)``).
        num_heads: Channel groups, dividing ``Cq`` and ``C``.
        factor: Logit scale from :func:`resolve_scale` (``None``:
            ``1/sqrt(d)``).
        reduction: ``'map'``: the per-position error; ``'sum'``: its sum,
            computed without building the map (one fused squared-error
            reduction when nothing is padded; what the losses use).
        impl: ``'matmul'`` or ``'sdpa'`` (:func:`resolve_attention_impl`).

    Returns:
        ``(B, H_m, W_m)`` with ``sum_c (R_c - target_c)^2`` at every real
        position of the pass grid (``'map'``), or its scalar sum (``'sum'``).
    """
    geom = layout.geom

    def windows(x: Tensor) -> Tensor:
        return gather_windows(patch_merge(x, layout.merges), geom, num_heads)

    q, k, v, t = map_distinct(windows, (query, key, value, target))
    recon = resolved_attention(q, k, v, geom, factor, impl)
    if reduction == 'sum' and not geom.padded:
        # Every slot is a real position: one fused pass, fused backward.
        return F.mse_loss(recon, t, reduction='sum')
    err = (recon - t).square().sum(-2)  # (B * heads, nW, L)
    err = err.reshape(target.shape[0], num_heads, -1).sum(1)
    err = windows_to_map(err, geom)
    return err.sum() if reduction == 'sum' else err
