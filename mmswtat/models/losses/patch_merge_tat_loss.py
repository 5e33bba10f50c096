"""Patch-merging distillation: global TaT on 2x2-merged tokens."""
from typing import List, Union

from mmswtat.registry import MODELS
from ..ops import PassLayout, global_pass, resolve_num_merges
from .base_tat_loss import BaseTaTLoss


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
        resolve_num_merges(1, 1, num_merges, max_tokens)  # validate early
        self.num_merges = num_merges
        self.max_tokens = max_tokens

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
        return [global_pass('merged', height, width, merges)]

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, num_merges={self.num_merges!r}, '
                f'max_tokens={self.max_tokens}')
