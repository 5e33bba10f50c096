"""The window passes of a TaT-type loss, laid out for inspection.

A :class:`PassLayout` says how one pass of a loss sees its ``H x W`` map:
how many 2x2 patch merges come first (patch-merging loss) and the window
geometry on the (merged) grid (one window over the whole grid for the global
passes). With it a map can be cut into the windows the loss attends in, put
back, and a query position found in its window. Built only on the public
ops in :mod:`mmswtat.models.ops`.
"""
import math
from typing import List, NamedTuple, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmswtat.models.losses import (BaseTaTLoss, PatchMergeTaTLoss, SWTaTLoss,
                                   TaTLoss)
from mmswtat.models.ops import (WindowGeometry, pad_and_shift, patch_merge,
                                resolve_num_merges, window_geometry,
                                window_partition)


class PassLayout(NamedTuple):
    """One pass of a TaT-type loss on an ``H x W`` map.

    Attributes:
        name: The pass name, as in ``loss.error_maps()`` (``'plain'``,
            ``'shifted'``, ``'global'``, ``'merged'``).
        merges: Number of 2x2 patch merges applied before the pass (0: none).
        sizes: Map size before each merge and after the last one,
            ``[(H, W), ..., (H_m, W_m)]`` (``merges + 1`` entries).
        geom: Window geometry on the ``H_m x W_m`` grid.
    """
    name: str
    merges: int
    sizes: Tuple[Tuple[int, int], ...]
    geom: WindowGeometry

    @property
    def grid(self) -> Tuple[int, int]:
        """``(H_m, W_m)``: the grid the pass attends on."""
        return self.sizes[-1]

    @property
    def cell(self) -> int:
        """Side of one token of the pass, in cells of the input map."""
        return 2**self.merges

    @property
    def windowed(self) -> bool:
        """Whether the pass splits its grid into several windows."""
        return self.geom.num_windows > 1


def _merged_sizes(height: int, width: int,
                  merges: int) -> Tuple[Tuple[int, int], ...]:
    sizes = [(height, width)]
    for _ in range(merges):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
        sizes.append((height, width))
    return tuple(sizes)


def pass_layouts(loss: BaseTaTLoss, height: int,
                 width: int) -> List[PassLayout]:
    """The passes ``loss`` runs on a teacher map of ``height x width``.

    Args:
        loss: A :class:`SWTaTLoss`, :class:`TaTLoss` or
            :class:`PatchMergeTaTLoss`.
        height: Teacher map height ``H``.
        width: Teacher map width ``W``.

    Returns:
        One :class:`PassLayout` per pass, in the order (and with the names)
        of ``loss.error_maps()``.

    Raises:
        TypeError: Another kind of loss.
    """
    if isinstance(loss, SWTaTLoss):
        sizes = _merged_sizes(height, width, 0)
        out = [PassLayout('plain', 0, sizes,
                          window_geometry(height, width, loss.window_size, 0))]
        if any(loss.shift_size):
            out.append(PassLayout(
                'shifted', 0, sizes,
                window_geometry(height, width, loss.window_size,
                                loss.shift_size)))
        return out
    if isinstance(loss, PatchMergeTaTLoss):
        merges = resolve_num_merges(height, width, loss.num_merges,
                                    loss.max_tokens)
        sizes = _merged_sizes(height, width, merges)
        h, w = sizes[-1]
        return [PassLayout('merged', merges, sizes,
                           window_geometry(h, w, (h, w), 0))]
    if isinstance(loss, TaTLoss):
        return [PassLayout('global', 0, _merged_sizes(height, width, 0),
                           window_geometry(height, width, (height, width), 0))]
    raise TypeError(
        f'{type(loss).__name__} is not a loss whose passes are known here '
        '(SWTaTLoss, TaTLoss, PatchMergeTaTLoss); add its layout to '
        'mmswtat/analysis/passes.py')


def to_windows(x: Tensor, layout: PassLayout, num_heads: int = 1) -> Tensor:
    """Merge, pad, shift and partition a map as the pass does.

    Args:
        x: ``(B, C, H, W)``.
        layout: The pass.
        num_heads: Channel groups.

    Returns:
        ``(nW, B * num_heads, L, C * 4**merges // num_heads)``, ``L = wh *
        ww``, in :func:`~mmswtat.models.ops.window_partition` order.
    """
    x = patch_merge(x, layout.merges)
    return window_partition(pad_and_shift(x, layout.geom), layout.geom,
                            num_heads)


def from_windows(windows: Tensor,
                 layout: PassLayout,
                 batch: int,
                 unmerge: bool = True) -> Tensor:
    """Inverse of :func:`to_windows`: back to the map.

    Args:
        windows: ``(nW, B * heads, L, d)``.
        layout: The pass.
        batch: ``B``.
        unmerge: Split merged tokens back into their 2x2 cells.

    Returns:
        ``(B, heads * d / 4**merges, H, W)`` with the shift undone and
        padding dropped; with ``unmerge=False`` the pass grid, ``(B, heads *
        d, H_m, W_m)`` (merged tokens keep the zero-padded cells that
        :func:`~mmswtat.models.ops.patch_merge` added; unmerging drops them).
    """
    geom = layout.geom
    nh, nw = geom.hp // geom.wh, geom.wp // geom.ww
    heads = windows.shape[1] // batch
    d = windows.shape[-1]
    x = windows.reshape(nh, nw, batch, heads, geom.wh, geom.ww, d)
    x = x.permute(2, 3, 6, 0, 4, 1, 5).reshape(batch, heads * d, geom.hp,
                                                geom.wp)
    if geom.shifted:
        x = torch.roll(x, shifts=(geom.sh, geom.sw), dims=(2, 3))
    x = x[..., :geom.height, :geom.width]
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
        ``(window, token)``: indices into the first and third dimension of
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

    return (lines(height, geom.hp, geom.wh, geom.sh),
            lines(width, geom.wp, geom.ww, geom.sw))
