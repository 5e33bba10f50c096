"""The Swin recipe of a window pass, written out step by step (tests only).

Zero-pad bottom/right, ``torch.roll`` by ``(-sh, -sw)``, partition into
windows (channels last, as SDPA takes them) and back. The package cuts
windows with one cached gather (:mod:`mmswtat.models.ops.window_gather`);
the tests compare it with this recipe, values and gradients
(:func:`package_window_errors` runs the package's passes).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from mmswtat.models.ops import (WindowGeometry, pass_error, resolve_scale,
                                window_pass)


def pad_and_shift(x: Tensor, geom: WindowGeometry) -> Tensor:
    """Zero-pad bottom/right to the padded size, then roll by ``(-sh, -sw)``.

    Args:
        x: ``(B, C, H, W)``.

    Returns:
        ``(B, C, Hp, Wp)``. ``x`` itself when neither step applies.
    """
    if geom.padded:
        x = F.pad(x, (0, geom.wp - geom.width, 0, geom.hp - geom.height))
    if geom.shifted:
        x = torch.roll(x, shifts=(-geom.sh, -geom.sw), dims=(2, 3))
    return x


def window_partition(x: Tensor,
                     geom: WindowGeometry,
                     num_heads: int = 1) -> Tensor:
    """Split a padded map into windows of tokens, one slice per head.

    Args:
        x: ``(B, C, Hp, Wp)`` with ``C % num_heads == 0``.
        geom: The pass geometry.
        num_heads: Number of channel groups.

    Returns:
        ``(nW, B * num_heads, wh * ww, C // num_heads)``: windows first (so a
        per-window mask ``(nW, 1, L, L)`` broadcasts over batch and heads
        without a copy), row-major over the window grid, tokens row-major
        inside a window.
    """
    b, c = x.shape[:2]
    nh, nw = geom.hp // geom.wh, geom.wp // geom.ww
    x = x.view(b, num_heads, c // num_heads, nh, geom.wh, nw, geom.ww)
    x = x.permute(3, 5, 0, 1, 4, 6, 2)
    return x.reshape(nh * nw, b * num_heads, geom.wh * geom.ww, c // num_heads)


def window_reverse_map(values: Tensor, geom: WindowGeometry,
                       batch: int) -> Tensor:
    """Put one scalar per token back on the map and undo shift and padding.

    Args:
        values: ``(nW, B, wh * ww)`` in :func:`window_partition` order.
        geom: The pass geometry.
        batch: ``B``.

    Returns:
        ``(B, H, W)``.
    """
    nh, nw = geom.hp // geom.wh, geom.wp // geom.ww
    x = values.reshape(nh, nw, batch, geom.wh, geom.ww).permute(2, 0, 3, 1, 4)
    x = x.reshape(batch, geom.hp, geom.wp)
    if geom.shifted:
        x = torch.roll(x, shifts=(geom.sh, geom.sw), dims=(1, 2))
    return x[:, :geom.height, :geom.width]


def package_window_errors(query: Tensor,
                          key: Tensor,
                          value: Tensor,
                          target: Tensor,
                          window_size,
                          shift_sizes,
                          num_heads: int = 1,
                          scale=1.0,
                          reduction: str = 'map') -> list:
    """The package's window passes (what the losses run:
    :func:`~mmswtat.models.ops.pass_error` on
    :func:`~mmswtat.models.ops.window_pass` layouts), one per shift.

    Returns:
        One ``(B, H, W)`` error map (or its sum) per shift.
    """
    h, w = target.shape[-2:]
    return [
        pass_error(query, key, value, target,
                   window_pass('', h, w, window_size, shift), num_heads,
                   resolve_scale(scale), reduction, 'matmul')
        for shift in shift_sizes
    ]
