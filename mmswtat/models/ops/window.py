"""Window geometry: clamping, padding, cyclic shift and the shift mask.

The windows themselves are cut by :mod:`.window_gather` (one cached
gather). All functions are pure and vectorised (no loops over windows).
"""
import math
from functools import lru_cache
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from mmswtat.utils.value_checks import is_int

IntPair = Union[int, Sequence[int]]


def to_2tuple(value: IntPair, name: str) -> Tuple[int, int]:
    """Return ``value`` as an ``(h, w)`` pair of ints.

    Args:
        value: An int or a pair of ints.
        name: Argument name used in the error message.

    Raises:
        TypeError: If ``value`` is neither an int nor a pair of ints.
    """
    if isinstance(value, bool):
        raise TypeError(
            f'{name} must be an int or an (h, w) pair, got {value!r}')
    if is_int(value):
        return value, value
    if (isinstance(value, Sequence) and len(value) == 2
            and all(is_int(v) for v in value)):
        return int(value[0]), int(value[1])
    raise TypeError(f'{name} must be an int or an (h, w) pair of ints, '
                    f'got {value!r}')


def check_window_and_shift(
        window_size: IntPair,
        shift_size: IntPair) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """Validate a window/shift setting independently of any feature map.

    Returns:
        ``((wh, ww), (sh, sw))``.

    Raises:
        ValueError: If a window side is not positive, a shift is negative, or a
            shift is not smaller than its window side.
    """
    wh, ww = to_2tuple(window_size, 'window_size')
    sh, sw = to_2tuple(shift_size, 'shift_size')
    if wh <= 0 or ww <= 0:
        raise ValueError(f'window_size must be positive, got {(wh, ww)}; '
                         'use e.g. window_size=8')
    if sh < 0 or sw < 0:
        raise ValueError(f'shift_size must be >= 0, got {(sh, sw)}; use 0 to '
                         'disable the shifted pass')
    if sh >= wh or sw >= ww:
        raise ValueError(
            f'shift_size {(sh, sw)} must be smaller than window_size '
            f'{(wh, ww)}; the usual choice is half the window '
            f'({(wh // 2, ww // 2)})')
    return (wh, ww), (sh, sw)


class WindowGeometry(NamedTuple):
    """One window pass on an ``H x W`` map, after clamping (spec step 1-2).

    Attributes:
        height, width: Map size ``H, W``.
        wh, ww: Window size, clamped to the map.
        sh, sw: Cyclic shift, zeroed along a side that one window covers.
        hp, wp: Padded size, multiples of ``wh`` and ``ww``.
    """
    height: int
    width: int
    wh: int
    ww: int
    sh: int
    sw: int
    hp: int
    wp: int

    @property
    def num_windows(self) -> int:
        return (self.hp // self.wh) * (self.wp // self.ww)

    @property
    def window_area(self) -> int:
        return self.wh * self.ww

    @property
    def padded(self) -> bool:
        return self.hp != self.height or self.wp != self.width

    @property
    def shifted(self) -> bool:
        return self.sh > 0 or self.sw > 0


def window_geometry(height: int,
                    width: int,
                    window_size: IntPair,
                    shift_size: IntPair = 0) -> WindowGeometry:
    """Clamp window and shift to an ``H x W`` map and compute the padded size.

    ``wh = min(wh, H)``; if ``wh == H`` the vertical shift is dropped (likewise
    for the width); the map is padded to ``ceil(H / wh) * wh`` and
    ``ceil(W / ww) * ww``.
    """
    (wh, ww), (sh, sw) = check_window_and_shift(window_size, shift_size)
    wh, ww = min(wh, height), min(ww, width)
    if wh == height:
        sh = 0
    if ww == width:
        sw = 0
    hp = math.ceil(height / wh) * wh
    wp = math.ceil(width / ww) * ww
    return WindowGeometry(height, width, wh, ww, sh, sw, hp, wp)


def region_labels(geom: WindowGeometry,
                  device: Optional[torch.device] = None) -> Tensor:
    """Swin-style region ids on the padded, rolled grid (spec step 3).

    Rows ``[0, Hp-wh)``, ``[Hp-wh, Hp-sh)``, ``[Hp-sh, Hp)`` get ids 0, 1, 2
    (a single id 0 when ``sh == 0``); columns likewise; label =
    ``3 * row_id + col_id``.

    Returns:
        ``(Hp, Wp)`` long tensor.
    """

    def ids(size: int, window: int, shift: int) -> Tensor:
        out = torch.zeros(size, dtype=torch.long, device=device)
        if shift > 0:
            out[size - window:size - shift] = 1
            out[size - shift:] = 2
        return out

    rows = ids(geom.hp, geom.wh, geom.sh)
    cols = ids(geom.wp, geom.ww, geom.sw)
    return 3 * rows[:, None] + cols[None, :]


def validity_map(geom: WindowGeometry,
                 device: Optional[torch.device] = None) -> Tensor:
    """``(Hp, Wp)`` bool map, True on real positions, after the cyclic
    shift."""
    valid = torch.zeros(geom.hp, geom.wp, dtype=torch.bool, device=device)
    valid[:geom.height, :geom.width] = True
    if geom.shifted:
        valid = torch.roll(valid, shifts=(-geom.sh, -geom.sw), dims=(0, 1))
    return valid


@lru_cache(maxsize=128)
def window_attention_mask(geom: WindowGeometry,
                          device: torch.device) -> Optional[Tensor]:
    """Boolean attention mask of one pass, cached per geometry and device.

    Key ``j`` is allowed for query ``i`` iff ``j`` is a real (unpadded)
    position with the same region label as ``i``. Queries on padded positions
    are given every key, so that their (discarded) softmax stays finite.

    Returns:
        ``(nW, 1, L, L)`` bool, True = attend, with ``L = wh * ww``; ``None``
        when the pass has neither padding nor shift (every key allowed).
    """
    if not (geom.padded or geom.shifted):
        return None
    nh, nw = geom.hp // geom.wh, geom.wp // geom.ww

    def windows(m: Tensor) -> Tensor:
        m = m.view(nh, geom.wh, nw, geom.ww).permute(0, 2, 1, 3)
        return m.reshape(nh * nw, geom.wh * geom.ww)

    labels = windows(region_labels(geom, device))
    valid = windows(validity_map(geom, device))
    allowed = (labels[:, :, None] == labels[:, None, :]) & valid[:, None, :]
    allowed |= ~valid[:, :, None]
    return allowed[:, None]


@lru_cache(maxsize=128)
def window_attention_bias(
        geom: WindowGeometry,
        device: torch.device,
        dtype: torch.dtype = torch.float32) -> Optional[Tensor]:
    """:func:`window_attention_mask` as an additive bias, cached likewise.

    Returns:
        ``(1, nW, L, L)``: 0 where attending is allowed, ``-inf`` elsewhere
        (every row keeps at least one 0); ``None`` when the pass needs no
        mask.
    """
    mask = window_attention_mask(geom, device)
    if mask is None:
        return None
    bias = torch.zeros(mask.shape, dtype=dtype, device=device)
    bias.masked_fill_(~mask, float('-inf'))
    return bias.view(1, geom.num_windows, *mask.shape[2:])
