"""Window passes as one cached gather, channels kept first.

The maps come from convolutions in ``(B, C, H, W)`` layout. Cutting windows
the Swin way (zero-pad, ``torch.roll``, then a channels-last partition into
``(tokens, channels)`` rows for SDPA) makes a transposing copy with strided
reads, the most expensive data movement of a window pass on CPU, and the
roll adds two more copies. Here each map instead keeps its channels first:
one ``torch.gather`` along the flattened spatial dim, with an index cached
per pass geometry, pads nothing, rolls and partitions at once into ``(B *
heads, nW, d, L)`` windows, and attention runs on them as they are
(:func:`~.target_aware.channel_first_attention`: BLAS multiplies the
transposed operands directly; the ``L x L`` attention of a window is small
next to the ``d x L`` maps). The backward
pass gathers the gradient back with the inverse index (the slots are a
permutation of the padded grid): copies, not scatter-adds. Training and the
analysis code (:mod:`mmswtat.analysis`) both cut windows here.

Slot order is that of the Swin recipe: zero-pad bottom/right to ``Hp x
Wp``, roll by ``(-sh, -sw)``, then windows row-major over the rolled grid
and tokens row-major inside a window
(``tests/helpers/window_reference.py`` writes that recipe out and the
tests compare); the masks of
:func:`~.window.window_attention_mask` use the same order.
"""
from functools import lru_cache
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .window import WindowGeometry


class WindowIndex(NamedTuple):
    """Cached indices of one pass (see :func:`window_index`).

    Attributes:
        slots: ``(nW, L)``: the padded position (row-major over ``Hp x Wp``,
            before the roll) that each window slot takes.
        inverse: ``(Hp * Wp,)``: the flat slot ``w * L + l`` of each padded
            position.
        real_slots: ``(H * W,)``: the flat slot of each real position.
    """
    slots: Tensor
    inverse: Tensor
    real_slots: Tensor


@lru_cache(maxsize=128)
def window_index(geom: WindowGeometry,
                 device: torch.device) -> Optional[WindowIndex]:
    """Indices folding cyclic shift and partition, cached per pass geometry.

    Slot ``(w, l)`` with ``w = wi * nw + wj`` and ``l = ti * ww + tj`` holds
    the rolled-grid position ``(r, c) = (wi * wh + ti, wj * ww + tj)``, i.e.
    the padded position ``((r + sh) % Hp, (c + sw) % Wp)``, where
    ``torch.roll`` by ``(-sh, -sw)`` and the partition put it.

    Returns:
        The indices, or ``None`` when the pass is the identity (one window,
        no shift, no padding).
    """
    nh, nw = geom.hp // geom.wh, geom.wp // geom.ww
    if nh * nw == 1 and not (geom.shifted or geom.padded):
        return None
    r = (torch.arange(geom.hp, device=device) + geom.sh) % geom.hp
    c = (torch.arange(geom.wp, device=device) + geom.sw) % geom.wp
    slots = r.view(nh, 1, geom.wh, 1) * geom.wp + c.view(1, nw, 1, geom.ww)
    slots = slots.reshape(nh * nw, geom.wh * geom.ww)
    inverse = torch.empty(slots.numel(), dtype=torch.long, device=device)
    inverse[slots.flatten()] = torch.arange(slots.numel(), device=device)
    real = inverse.view(geom.hp, geom.wp)[:geom.height, :geom.width]
    return WindowIndex(slots, inverse, real.flatten())


class _GatherWindows(torch.autograd.Function):
    """``(N, d, P) -> (N, nW, d, L)`` by a slot gather; inverse in backward."""

    @staticmethod
    def forward(ctx, x: Tensor, index: WindowIndex) -> Tensor:
        ctx.index = index
        n, d, p = x.shape
        nw, area = index.slots.shape
        return torch.gather(
            x.unsqueeze(1).expand(n, nw, d, p), 3,
            index.slots.view(1, nw, 1, area).expand(n, nw, d, area))

    @staticmethod
    def backward(ctx, grad: Tensor):
        inverse = ctx.index.inverse
        n, nw, d, area = grad.shape
        grad = grad.transpose(1, 2).reshape(n, d, nw * area)
        return torch.gather(grad, 2,
                            inverse.view(1, 1, -1).expand(n, d, -1)), None


def gather_windows(x: Tensor,
                   geom: WindowGeometry,
                   num_heads: int = 1) -> Tensor:
    """Channel-major windows of one pass.

    Args:
        x: ``(B, C, H, W)`` with ``C % num_heads == 0``.
        geom: The pass geometry.
        num_heads: Channel groups.

    Returns:
        ``(B * num_heads, nW, C // num_heads, wh * ww)``: zero-padded,
        rolled by ``(-sh, -sw)`` and partitioned; row ``b * num_heads + i``
        holds channels ``[i * d, (i + 1) * d)`` of sample ``b``. A view of
        ``x`` when the pass is the identity.
    """
    b, c, h, w = x.shape
    if geom.padded:
        x = F.pad(x, (0, geom.wp - w, 0, geom.hp - h))
    x = x.reshape(b * num_heads, c // num_heads, geom.hp * geom.wp)
    index = window_index(geom, x.device)
    if index is None:
        return x.unsqueeze(1)
    return _GatherWindows.apply(x, index)


def windows_to_map(values: Tensor, geom: WindowGeometry) -> Tensor:
    """Put values in slot order back on the real ``H x W`` positions.

    Args:
        values: ``(..., nW * wh * ww)`` in slot order (e.g. ``(B, nW * L)``
            per-position errors, or ``(B, C, nW * L)`` windowed channels).
        geom: The pass geometry.

    Returns:
        ``(..., H, W)`` (shift and padding undone).
    """
    index = window_index(geom, values.device)
    if index is not None:
        values = torch.index_select(values, -1, index.real_slots)
    return values.reshape(*values.shape[:-1], geom.height, geom.width)
