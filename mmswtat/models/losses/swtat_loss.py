"""Shifted-window target-aware transformer loss (patch-group distillation)."""
from typing import List

from mmswtat.registry import MODELS
from mmswtat.utils.value_checks import named
from ..ops import PassLayout, check_window_and_shift, window_pass
from ..ops.window import IntPair
from .base_tat_loss import BaseTaTLoss


@MODELS.register_module()
class SWTaTLoss(BaseTaTLoss):
    """TaT restricted to windows, plus a pass on half-shifted windows.

    The plain pass attends within non-overlapping ``window_size`` windows; the
    shifted pass rolls the maps by ``-shift_size`` and masks, Swin style, keys
    that are not contiguous with the query on the original map, so
    information crosses window borders. ``L = loss_weight * (L_plain +
    L_shifted) / 2`` (``L_plain`` alone when ``shift_size`` is 0). Windows
    larger than the map are clamped to it (then it is :class:`TaTLoss`).

    Args:
        window_size: ``(wh, ww)`` or an int.
        shift_size: ``(sh, sw)`` or an int, each ``0 <= s < window side``.
        Others: see :class:`BaseTaTLoss`.
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 window_size: IntPair = 8,
                 shift_size: IntPair = 4,
                 **kwargs) -> None:
        super().__init__(student_channels, teacher_channels, **kwargs)
        with named(type(self).__name__):
            self.window_size, self.shift_size = check_window_and_shift(
                window_size, shift_size)

    def pass_layouts(self, height: int, width: int) -> List[PassLayout]:
        """``'plain'`` windows, then ``'shifted'`` ones (if ``shift_size``).

        Args:
            height: Teacher map height ``H``.
            width: Teacher map width ``W``.

        Returns:
            The windowed passes, window and shift clamped to the map.
        """
        shifts = [0, self.shift_size] if any(self.shift_size) else [0]
        return [
            window_pass(name, height, width, self.window_size, shift)
            for name, shift in zip(('plain', 'shifted'), shifts)
        ]

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, window_size={self.window_size}, '
                f'shift_size={self.shift_size}')
