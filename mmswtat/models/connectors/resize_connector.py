"""Bilinear resize connector."""
from typing import Optional, Sequence, Union

from mmengine.model import BaseModule
from torch import Tensor

from mmswtat.registry import MODELS
from ..ops import resize_to


@MODELS.register_module()
class ResizeConnector(BaseModule):
    """Resize a feature map to a fixed size or by a scale factor.

    Args:
        size: Output ``(H, W)`` or an int; exclusive with ``scale_factor``.
        scale_factor: Output = input size times this factor.

    Shape:
        ``(B, C, H, W) -> (B, C, H', W')``.
    """

    def __init__(self,
                 size: Optional[Union[int, Sequence[int]]] = None,
                 scale_factor: Optional[float] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (size is None) == (scale_factor is None):
            raise ValueError('ResizeConnector needs exactly one of size or '
                             'scale_factor')
        self.size = (size, size) if isinstance(size, int) else size
        self.scale_factor = scale_factor

    def forward(self, x: Tensor) -> Tensor:
        if self.size is not None:
            return resize_to(x, self.size)
        h, w = x.shape[-2:]
        return resize_to(
            x, (round(h * self.scale_factor), round(w * self.scale_factor)))
