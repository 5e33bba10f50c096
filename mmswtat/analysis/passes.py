"""The window passes of a TaT-type loss, cut and put back for inspection.

Each loss describes its passes itself (``loss.pass_layouts(H, W)``: a list of
:class:`~mmswtat.models.ops.PassLayout`, i.e. the 2x2 merges and the window
geometry of every pass). The helpers here cut a map into the windows a pass
attends in with the gather that training uses
(:func:`~mmswtat.models.ops.gather_windows`), put windows back, find a query
position in its window and list window borders.
"""
from typing import List, Tuple

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from mmswtat.models.ops import (PassLayout, gather_windows, patch_merge,
                                windows_to_map)


def to_windows(x: Tensor, layout: PassLayout, num_heads: int = 1) -> Tensor:
    """Merge, pad, shift and partition a map as the pass does.

    Args:
        x: ``(B, C, H, W)``.
        layout: The pass.
        num_heads: Channel groups.

    Returns:
        ``(B * num_heads, nW, d, L)`` with ``d = C * 4**merges // num_heads``
        and ``L = wh * ww``: the channel-first windows the loss attends on
        (:func:`~mmswtat.models.ops.gather_windows`).
    """
    return gather_windows(
        patch_merge(x, layout.merges), layout.geom, num_heads)


def from_windows(windows: Tensor,
                 layout: PassLayout,
                 batch: int,
                 unmerge: bool = True) -> Tensor:
    """Inverse of :func:`to_windows`: back to the map.

    Args:
        windows: ``(B * heads, nW, d, L)``.
        layout: The pass.
        batch: ``B``.
        unmerge: Split merged tokens back into their 2x2 cells.

    Returns:
        ``(B, heads * d / 4**merges, H, W)`` with the shift undone and
        padding dropped; with ``unmerge=False`` the pass grid, ``(B, heads *
        d, H_m, W_m)`` (merged tokens keep the zero-padded cells that
        :func:`~mmswtat.models.ops.patch_merge` added; unmerging drops them).
    """
    n, nw, d, area = windows.shape
    heads = n // batch
    x = windows.reshape(batch, heads, nw, d, area).transpose(2, 3)
    x = windows_to_map(x.reshape(batch, heads * d, nw * area), layout.geom)
    if not unmerge:
        return x
    for h, w in reversed(layout.sizes[:-1]):
        x = F.pixel_shuffle(x, 2)[..., :h, :w]
    return x


def locate(layout: PassLayout, y: int, x: int) -> Tuple[int, int]:
    """Window and token index of map position ``(y, x)`` in the pass.

    Args:
        layout: The pass.
        y: Row on the ``H x W`` input map.
        x: Column on it.

    Returns:
        ``(window, token)``: indices into the second and last dimension of
        :func:`to_windows`.

    Raises:
        ValueError: ``(y, x)`` outside the map.
    """
    height, width = layout.sizes[0]
    if not (0 <= y < height and 0 <= x < width):
        raise ValueError(f'query ({y}, {x}) is outside the {height}x{width} '
                         f'feature map; use 0 <= y < {height}, 0 <= x < '
                         f'{width}')
    geom = layout.geom
    ym, xm = y >> layout.merges, x >> layout.merges
    # torch.roll by -s puts original index i at (i - s) mod size.
    py, px = (ym - geom.sh) % geom.hp, (xm - geom.sw) % geom.wp
    window = (py // geom.wh) * (geom.wp // geom.ww) + px // geom.ww
    token = (py % geom.wh) * geom.ww + px % geom.ww
    return window, token


def window_positions(layout: PassLayout,
                     window: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the tokens of one window lie on the (merged) grid.

    Args:
        layout: The pass.
        window: Window index.

    Returns:
        ``(rows, cols, real)``: ``(wh, ww)`` int arrays of grid coordinates
        (before the shift, so a shifted window crossing the border wraps
        around) and a ``(wh, ww)`` bool array, False on padding.
    """
    geom = layout.geom
    nw = geom.wp // geom.ww
    wy, wx = divmod(window, nw)
    rows = (wy * geom.wh + np.arange(geom.wh) + geom.sh) % geom.hp
    cols = (wx * geom.ww + np.arange(geom.ww) + geom.sw) % geom.wp
    rows, cols = np.meshgrid(rows, cols, indexing='ij')
    real = (rows < geom.height) & (cols < geom.width)
    return rows, cols, real


def boundaries(layout: PassLayout) -> Tuple[List[int], List[int]]:
    """Window borders of the pass inside the map, in input-map cells.

    Returns:
        ``(rows, cols)``: sorted border coordinates strictly inside
        ``(0, H)`` and ``(0, W)`` (a shifted window that wraps around shows as
        the strips at both edges). For a single-window merged pass, the token
        borders instead.
    """
    height, width = layout.sizes[0]
    geom = layout.geom
    cell = layout.cell
    if not layout.windowed:
        if layout.merges == 0:
            return [], []
        return ([r for r in range(cell, height, cell)],
                [c for c in range(cell, width, cell)])

    def lines(size: int, padded: int, window: int, shift: int) -> List[int]:
        found = {((shift + k * window) % padded) * cell
                 for k in range(padded // window)}
        return sorted(v for v in found if 0 < v < size)

    return (lines(height, geom.hp, geom.wh,
                  geom.sh), lines(width, geom.wp, geom.ww, geom.sw))
