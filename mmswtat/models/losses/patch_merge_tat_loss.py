"""Patch-merging distillation: global TaT on 2x2-merged tokens."""
import math
from typing import List, Union

from mmswtat.registry import MODELS
from mmswtat.utils.value_checks import ConfigTypeError, check_number
from ..ops import PassLayout, global_pass, resolve_num_merges
from .base_tat_loss import BaseTaTLoss


def max_merges(height: int, width: int) -> int:
    """2x2 merges that bring an ``height x width`` map down to one token;
    any further merge only pads with zeros (0 for a single position)."""
    k = 0
    while height * width > 1:
        height, width = math.ceil(height / 2), math.ceil(width / 2)
        k += 1
    return k


@MODELS.register_module()
class PatchMergeTaTLoss(BaseTaTLoss):
    """Global TaT on coarse tokens made by repeated 2x2 space-to-depth.

    The embeddings act first, at full resolution; then ``Q``, ``K``, ``V`` and
    the raw teacher target are zero-padded to even sizes and merged
    (``F.pixel_unshuffle(x, 2)``: ``C -> 4C``, ``H, W -> H/2, W/2``)
    ``num_merges`` times, and one global TaT pass runs on the merged tokens
    (all of them count as valid).

    Args:
        num_merges: An int >= 0, or ``'auto'``: merge until ``H * W <=
            max_tokens``, so one setting fits every level and input size.
        max_tokens: Token budget of ``'auto'``.
        Others: see :class:`BaseTaTLoss`.
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 num_merges: Union[int, str] = 1,
                 max_tokens: int = 1024,
                 **kwargs) -> None:
        super().__init__(student_channels, teacher_channels, **kwargs)
        name = type(self).__name__
        if isinstance(num_merges, str) and num_merges != 'auto':
            raise ConfigTypeError(f"{name}: num_merges must be an int >= 0 "
                                  f"or 'auto', got {num_merges!r}")
        if num_merges != 'auto':
            num_merges = check_number(
                name, 'num_merges', num_merges, minimum=0, integer=True)
        self.num_merges = num_merges
        self.max_tokens = check_number(
            name, 'max_tokens', max_tokens, minimum=1, integer=True)

    def pass_layouts(self, height: int, width: int) -> List[PassLayout]:
        """One ``'merged'`` pass: a global window on the merged grid.

        Args:
            height: Teacher map height ``H``.
            width: Teacher map width ``W``.

        Returns:
            The pass, with ``num_merges`` resolved for this map size.
        """
        merges = resolve_num_merges(height, width, self.num_merges,
                                    self.max_tokens)
        allowed = max_merges(height, width)
        if merges > allowed:
            setting = (f'max_tokens={self.max_tokens}' if self.num_merges
                       == 'auto' else f'num_merges={self.num_merges}')
            raise ValueError(
                f'{type(self).__name__}: {setting} merges the {height}x'
                f'{width} teacher map {merges} times, but {allowed} merges '
                f'already leave one token (of {self.teacher_channels}*4^'
                f'{allowed} channels); the other {merges - allowed} only pad '
                f'with zeros. Set num_merges<={allowed} (fewer keeps '
                "attention over several tokens) or num_merges='auto'")
        return [global_pass('merged', height, width, merges)]

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, num_merges={self.num_merges!r}, '
                f'max_tokens={self.max_tokens}')
