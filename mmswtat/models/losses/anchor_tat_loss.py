"""The official TaT's global pass: one TaT on average-pooled anchors."""
from typing import List, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

from mmswtat.registry import MODELS
from mmswtat.utils.value_checks import ConfigTypeError, is_int
from ..ops import PassLayout, global_pass, map_distinct
from .base_tat_loss import QKVT, BaseTaTLoss

PoolSize = Union[int, Tuple[int, int], str]
#: ``pool_size='auto'`` leaves about this many anchors per side.
AUTO_ANCHORS = 32


def anchor_pool_size(height: int, width: int,
                     pool_size: PoolSize) -> Tuple[int, int]:
    """The ``(kh, kw)`` pooling kernel (= stride) on an ``H x W`` map.

    ``'auto'`` is ``(max(1, H // 32), max(1, W // 32))``: about 32 anchors
    per side, as the official code's ``H // 32`` kernel; a side under 32
    is not pooled (kernel 1), so on maps under 32x32 the pass is a global
    TaT over every position.

    Raises:
        ValueError: A kernel side larger than the map's (naming the size).
    """
    if pool_size == 'auto':
        return (max(1, height // AUTO_ANCHORS), max(1, width // AUTO_ANCHORS))
    kh, kw = (pool_size, pool_size) if is_int(pool_size) else pool_size
    if kh > height or kw > width:
        raise ValueError(
            f'AnchorTaTLoss: pool_size={pool_size} is larger than the '
            f'{height}x{width} teacher map (no anchor would be left); set '
            f"pool_size <= {min(height, width)} or pool_size='auto'")
    return kh, kw


@MODELS.register_module()
class AnchorTaTLoss(BaseTaTLoss):
    """Global TaT on average-pooled anchor points (the official TaT pass).

    The embeddings act first, at full resolution; then ``Q``, ``K``, ``V``
    and the raw teacher target are average-pooled with kernel = stride =
    ``pool_size`` (``F.avg_pool2d``: the remainder rows and columns are
    dropped, as in the official code, sihaoevery/TaT-seg
    ``distillation_anchorpoint``) and one global TaT runs on the pooled
    ``(H // kh) x (W // kw)`` maps: ``L = loss_weight * mean_{b,i,c}
    (R_ic - Tp_ic)^2``, ``R_i = sum_j softmax_j(scale * <Qp_i, Kp_j>)
    Vp_j``. Unlike :class:`PatchMergeTaTLoss` the channels stay ``C_t``
    (a pooled token is a mean, not a space-to-depth stack).

    Args:
        pool_size: An int ``>= 1``, a pair ``(kh, kw)``, or ``'auto'``
            (:func:`anchor_pool_size`: about 32 anchors per side, no
            pooling on sides under 32).
        Others: see :class:`BaseTaTLoss` (``embed``, ``scale``, ``query``,
            ``num_heads``, ``normalize``, ...).
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 pool_size: PoolSize = 'auto',
                 **kwargs) -> None:
        super().__init__(student_channels, teacher_channels, **kwargs)
        name = type(self).__name__
        pair = (
            isinstance(pool_size, (tuple, list)) and len(pool_size) == 2
            and all(is_int(p) for p in pool_size))
        if not (pool_size == 'auto' or is_int(pool_size) or pair):
            raise ConfigTypeError(
                f"{name}: pool_size must be an int >= 1, a pair (kh, kw) or "
                f"'auto', got {pool_size!r}")
        sides = (pool_size, ) if is_int(pool_size) else (pool_size if pair else
                                                         ())
        if any(p < 1 for p in sides):
            raise ValueError(f'{name}: pool_size must be >= 1, got '
                             f"{pool_size!r}; use 1 (no pooling) or 'auto'")
        self.pool_size = tuple(pool_size) if pair else pool_size

    def pass_layouts(self, height: int, width: int) -> List[PassLayout]:
        """One ``'anchor'`` pass: a global window on the pooled grid.

        Args:
            height: Teacher map height ``H``.
            width: Teacher map width ``W``.

        Returns:
            The pass on the ``(H // kh) x (W // kw)`` anchor grid.
        """
        kh, kw = anchor_pool_size(height, width, self.pool_size)
        return [global_pass('anchor', height // kh, width // kw)]

    def pass_inputs(self, query: Tensor, key: Tensor, value: Tensor,
                    target: Tensor) -> QKVT:
        """The anchors: each map average-pooled (kernel = stride =
        :func:`anchor_pool_size`), ``(B, C_t, H // kh, W // kw)``."""
        kernel = anchor_pool_size(*target.shape[-2:], self.pool_size)
        if kernel == (1, 1):
            return query, key, value, target
        return tuple(
            map_distinct(lambda x: F.avg_pool2d(x, kernel),
                         (query, key, value, target)))

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, pool_size={self.pool_size!r}'
