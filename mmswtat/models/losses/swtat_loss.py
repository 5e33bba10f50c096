"""Shifted-window target-aware transformer loss (patch-group distillation)."""
from typing import List, Tuple, Union

from torch import Tensor

from mmswtat.registry import MODELS
from mmswtat.utils.value_checks import ConfigTypeError, named
from ..ops import PassLayout, check_window_and_shift, window_pass
from ..ops.window import IntPair
from .base_tat_loss import BaseTaTLoss

#: The largest window side of ``window_size='auto'`` (the fragments' fixed
#: window: one object of an FPN level's anchor size plus its surround).
AUTO_WINDOW = 8

Pair = Tuple[int, int]


def auto_window(height: int,
                width: int,
                cap: int = AUTO_WINDOW) -> Tuple[Pair, Pair]:
    """``window_size='auto'`` on an ``H x W`` map: the window and shift.

    Each window side is half the map side, at most ``cap``: ``min(cap,
    side // 2)``, so every map of 2x2 or more has at least 2 windows a side
    and a window is never the whole map; the shift is half the window
    (0 where the window is one token).

    Args:
        height: ``H`` (>= 2).
        width: ``W`` (>= 2).
        cap: The largest window side.

    Returns:
        ``((wh, ww), (sh, sw))``.
    """
    wh, ww = min(cap, height // 2), min(cap, width // 2)
    return (wh, ww), (wh // 2, ww // 2)


@MODELS.register_module()
class SWTaTLoss(BaseTaTLoss):
    """TaT restricted to windows, plus a pass on half-shifted windows.

    The plain pass attends within non-overlapping ``window_size`` windows; the
    shifted pass rolls the maps by ``-shift_size`` and masks, Swin style, keys
    that are not contiguous with the query on the original map, so
    information crosses window borders. ``L = loss_weight * (L_plain +
    L_shifted) / 2`` (``L_plain`` alone when ``shift_size`` is 0). Windows
    larger than the map are clamped to it (then it is :class:`TaTLoss`).

    ``window_size='auto'`` sizes the windows per map (:func:`auto_window`:
    half of each side, at most :data:`AUTO_WINDOW`), so one setting keeps
    real windows on every FPN level; ``shift_size`` is then ``'auto'``
    (half the window) or 0 (no shifted pass). A map with a side under 2
    has no window smaller than itself: the loss runs no pass there and is 0
    (said once in the log); a global-pass loss on the same level still
    runs.

    Args:
        window_size: ``(wh, ww)``, an int or ``'auto'``.
        shift_size: ``(sh, sw)`` or an int, each ``0 <= s < window side``;
            ``'auto'`` or 0 with ``window_size='auto'``.
        Others: see :class:`BaseTaTLoss`.
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 window_size: Union[IntPair, str] = 8,
                 shift_size: Union[IntPair, str] = 4,
                 **kwargs) -> None:
        super().__init__(student_channels, teacher_channels, **kwargs)
        name = type(self).__name__
        if window_size == 'auto':
            if shift_size not in ('auto', 0):
                raise ValueError(
                    f"{name}: window_size='auto' sizes the windows per map "
                    f'and shifts them by half a window; shift_size must be '
                    f"'auto' or 0 (no shifted pass), got {shift_size!r}")
            self.window_size, self.shift_size = 'auto', shift_size
            return
        if isinstance(window_size, str) or isinstance(shift_size, str):
            raise ConfigTypeError(
                f"{name}: window_size must be an int, an (h, w) pair or "
                f"'auto', and shift_size 'auto' only with window_size="
                f"'auto'; got window_size={window_size!r}, "
                f'shift_size={shift_size!r}')
        with named(name):
            self.window_size, self.shift_size = check_window_and_shift(
                window_size, shift_size)

    def pass_layouts(self, height: int, width: int) -> List[PassLayout]:
        """``'plain'`` windows, then ``'shifted'`` ones (if ``shift_size``).

        Args:
            height: Teacher map height ``H``.
            width: Teacher map width ``W``.

        Returns:
            The windowed passes, window and shift clamped to the map (none
            for ``window_size='auto'`` on a map with a side under 2).
        """
        window, shift = self.window_size, self.shift_size
        if window == 'auto':
            if min(height, width) < 2:
                return []
            window, auto_shift = auto_window(height, width)
            shift = auto_shift if shift == 'auto' else (0, 0)
        shifts = [0, shift] if any(shift) else [0]
        return [
            window_pass(name, height, width, window, s)
            for name, s in zip(('plain', 'shifted'), shifts)
        ]

    def check_map_size(self, height: int, width: int) -> List[str]:
        """:meth:`BaseTaTLoss.check_map_size`, and, once per size, the
        maps that ``window_size='auto'`` leaves without a window pass."""
        new = (height, width) not in self._checked_sizes
        notes = super().check_map_size(height, width)
        if new and self.window_size == 'auto' and min(height, width) < 2:
            from mmengine.logging import print_log
            print_log(
                f"{self.owner}: window_size='auto' has no window smaller "
                f'than the {height}x{width} teacher map, so this loss runs '
                'no pass there and adds 0; a global-pass loss on the same '
                'level (patch merging, anchors) still runs',
                logger='current',
                level=30)
        return notes

    def compute(self,
                student: Tensor,
                teacher: Tensor,
                valid_mask=None) -> Tensor:
        """:meth:`BaseTaTLoss.compute`; 0 (with the graph) on a map that
        ``window_size='auto'`` leaves without a pass."""
        h, w = teacher.shape[-2:]
        if self.window_size == 'auto' and min(h, w) < 2:  # no pass fits
            self.check_map_size(h, w)
            return student.sum() * 0
        return super().compute(student, teacher, valid_mask)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, window_size={self.window_size}, '
                f'shift_size={self.shift_size}')
