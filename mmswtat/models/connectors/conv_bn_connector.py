"""1x1 conv (+ norm) connector mapping one channel count to another."""
from typing import Optional

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmswtat.registry import MODELS

_NORMS = {'BN': nn.BatchNorm2d, 'SyncBN': nn.SyncBatchNorm}


@MODELS.register_module()
class ConvBNConnector(BaseModule):
    """``Conv2d(k x k, bias=False)`` followed by a norm layer.

    The default embedding ``phi`` of the TaT losses.

    Args:
        in_channels: Input channels ``C_in``.
        out_channels: Output channels ``C_out``.
        kernel_size: Conv kernel size (odd; padding keeps the size).
        norm: ``'BN'``, ``'SyncBN'`` or ``None`` (no norm, conv with bias).
        init_cfg: mmengine init config.

    Shape:
        ``(B, C_in, H, W) -> (B, C_out, H, W)``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 norm: Optional[str] = 'BN',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if norm is not None and norm not in _NORMS:
            raise ValueError(f'norm must be one of {sorted(_NORMS)} or None, '
                             f'got {norm!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            padding=kernel_size // 2,
            bias=norm is None)
        self.norm = _NORMS[norm](out_channels) if norm else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.conv(x))
