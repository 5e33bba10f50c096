"""Bilinear resize of feature maps (student map to the teacher's grid)."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor


def resize_to(x: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear resize of ``(B, C, H, W)`` to ``size = (H', W')``.

    ``align_corners=False``; returns ``x`` itself when the size already
    matches.

    Args:
        x: ``(B, C, H, W)``.
        size: ``(H', W')``.

    Returns:
        ``(B, C, H', W')``.
    """
    size = tuple(int(s) for s in size)
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)
