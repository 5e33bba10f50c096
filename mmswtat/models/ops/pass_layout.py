"""What one pass of a TaT-type loss attends over: merges, then windows.

A pass optionally merges 2x2 patches ``k`` times (space-to-depth, the
patch-merging loss), then attends inside the windows of a
:class:`~.window.WindowGeometry` on the (merged) grid; a global pass is one
window over the whole grid. Each loss says which passes it runs with
``loss.pass_layouts(height, width)``; the loss computes exactly these
passes and the analysis code draws them.
"""
import math
from typing import List, NamedTuple, Sequence, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

from mmswtat.utils.value_checks import is_int
from .window import IntPair, WindowGeometry, window_geometry


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


def merged_sizes(height: int, width: int,
                 merges: int) -> Tuple[Tuple[int, int], ...]:
    """``((H, W), ..., (H_m, W_m))``: the size before and after each merge.

    Each merge halves a side, rounding up (:func:`patch_merge` pads odd
    sides with zeros).
    """
    sizes = [(height, width)]
    for _ in range(merges):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
        sizes.append((height, width))
    return tuple(sizes)


def window_pass(name: str,
                height: int,
                width: int,
                window_size: IntPair,
                shift_size: IntPair = 0) -> PassLayout:
    """A windowed pass on the ``H x W`` map itself (no merging).

    Window and shift are clamped to the map (:func:`~.window.window_geometry`).
    """
    return PassLayout(name, 0, ((height, width), ),
                      window_geometry(height, width, window_size, shift_size))


def global_pass(name: str,
                height: int,
                width: int,
                merges: int = 0) -> PassLayout:
    """One window over the whole grid, after ``merges`` 2x2 merges."""
    sizes = merged_sizes(height, width, merges)
    h, w = sizes[-1]
    return PassLayout(name, merges, sizes, window_geometry(h, w, (h, w), 0))


def resolve_num_merges(height: int,
                       width: int,
                       num_merges: Union[int, str],
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
    if not is_int(num_merges) or num_merges < 0:
        raise ValueError(
            f"num_merges must be an int >= 0 or 'auto', got {num_merges!r}")
    return num_merges


def patch_merge(x: Tensor, num_merges: int) -> Tensor:
    """Merge 2x2 patches ``num_merges`` times (zero-pad to even,
    space-to-depth).

    Args:
        x: ``(B, C, H, W)``.

    Returns:
        ``(B, C * 4**k, ceil-halved H, ceil-halved W)`` with
        ``F.pixel_unshuffle`` channel order (``c * 4 + 2 * dy + dx``);
        ``x`` itself when ``num_merges`` is 0.
    """
    for _ in range(num_merges):
        h, w = x.shape[-2:]
        if h % 2 or w % 2:
            x = F.pad(x, (0, w % 2, 0, h % 2))
        x = F.pixel_unshuffle(x, 2)
    return x


#: A map size far larger than any window: the passes as configured,
#: unclamped (the reference of :func:`ineffective_passes`).
REFERENCE_SIZE = 1 << 20


def ineffective_passes(layouts: Sequence[PassLayout],
                       reference: Sequence[PassLayout]) -> List[str]:
    """What of a loss's windows and shifts cannot take effect on a map.

    Compares the passes on the real map (``layouts``) with the same passes
    on a map larger than any window (``reference``, e.g.
    ``loss.pass_layouts(REFERENCE_SIZE, REFERENCE_SIZE)``): a pass that is
    windowed there but one window here attends globally (the window covers
    the map in both directions); a shift that is there but not here is
    dropped (its window covers the map in that direction), so a
    ``'shifted'`` pass may equal the plain one. A pass that merges patches
    there but not here is global TaT at full resolution. A pass whose
    windows hold one token (a 1x1 grid after merging, or 1x1 windows) has
    no attention to speak of: its softmax is 1.

    Args:
        layouts: ``loss.pass_layouts(H, W)``.
        reference: ``loss.pass_layouts(REFERENCE_SIZE, REFERENCE_SIZE)``.

    Returns:
        One sentence per setting that has no effect (empty: all do).
    """
    notes = []
    for real, ref in zip(layouts, reference):
        h, w = real.grid
        if ref.merges and not real.merges:
            notes.append(
                f'pass {real.name!r} merges nothing on the {h}x{w} map (it '
                'already has few enough tokens), so it is global TaT at '
                'full resolution: with windows that cover the map too, it '
                'repeats that pass (set num_merges, max_tokens or the '
                "windows, e.g. window_size='auto', or drop the "
                'patch-merging loss on small maps)')
            continue
        window = (ref.geom.wh, ref.geom.ww)
        if real.geom.window_area == 1:
            notes.append(
                f'pass {real.name!r} attends over single tokens (windows of '
                f'1 token on its {h}x{w} grid): the attention has no effect '
                'and the pass is a plain feature regression (use larger '
                'windows, fewer merges or a larger map)')
            continue
        if ref.windowed and not real.windowed:
            notes.append(
                f'pass {real.name!r}: window {window} covers the whole '
                f'{h}x{w} map, so it is one global window (global TaT, no '
                'locality)')
        lost = [
            side for side, a, b in (('vertical', ref.geom.sh, real.geom.sh),
                                    ('horizontal', ref.geom.sw, real.geom.sw))
            if a and not b
        ]
        if lost:
            shift = (ref.geom.sh, ref.geom.sw)
            notes.append(
                f'pass {real.name!r}: the {" and ".join(lost)} shift of '
                f'{shift} has no effect on the {h}x{w} map (one window spans '
                'it in that direction)' +
                (f', so pass {real.name!r} equals an unshifted pass'
                 if not real.geom.shifted else ''))
    return notes
