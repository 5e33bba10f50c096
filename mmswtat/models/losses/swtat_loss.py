"""Shifted-window target-aware transformer loss (patch-group distillation)."""
from typing import List, Tuple

from torch import Tensor

from mmswtat.registry import MODELS
from ..ops import check_window_and_shift, window_tat_errors
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
        self.window_size, self.shift_size = check_window_and_shift(
            window_size, shift_size)

    def passes(self, query: Tensor, key: Tensor, value: Tensor,
               target: Tensor,
               reduction: str = 'map') -> List[Tuple[str, Tensor, int]]:
        shifts = [0, self.shift_size] if any(self.shift_size) else [0]
        errors = window_tat_errors(query, key, value, target,
                                   self.window_size, shifts, self.num_heads,
                                   self.scale, reduction, self.attn_impl)
        numel = target.numel()
        return [(name, err, numel)
                for name, err in zip(('plain', 'shifted'), errors)]

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, window_size={self.window_size}, '
                f'shift_size={self.shift_size}')
