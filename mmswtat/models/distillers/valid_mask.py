"""Ignore masks of dense logit losses, from the batch's segmentation labels.

A ``loss_forward_mappings`` entry opts in with ``valid_mask``::

    loss_kd=dict(student='logits', teacher='logits',
                 valid_mask=dict(ignore_index=255))   # or valid_mask=True

``True`` takes the student's ``decode_head.ignore_index`` (255 when it has
none). Each training step stacks the data samples' ``gt_sem_seg`` once
(:func:`stack_labels`, ``(N, 1, H, W)``; mmseg's ``SegDataPreProcessor``
pads them with ``seg_pad_val=255``, so padding is ignored too) and every
masked loss gets ``valid_mask=labels != ignore_index`` resized (nearest) to
its teacher map's ``H' x W'`` (:func:`level_mask`; one mask per size and
ignore index, shared by the levels and losses that need it). Only losses
that declare ``masked = True`` (``KDLoss``, ``DISTLoss``) accept one.

The ``valid_mask`` setting itself is checked where the spec is parsed
(``checks.parse_valid_mask``, ``checks.check_masked``); this module makes
the masks.
"""
import dataclasses
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmswtat.utils.value_checks import is_int
from ..ops import valid_mask_from_labels

DEFAULT_IGNORE_INDEX = 255
ValidMask = Union[None, bool, int]  # off / the student's / this index


def _where(name: str) -> str:
    return f"loss_forward_mappings[{name!r}]['valid_mask']"


def student_ignore_index(student: nn.Module) -> int:
    """The student's ``decode_head.ignore_index`` (the last head of a
    cascade), else :data:`DEFAULT_IGNORE_INDEX`."""
    head = getattr(student, 'decode_head', None)
    if isinstance(head, (nn.ModuleList, list, tuple)) and len(head):
        head = head[-1]
    index = getattr(head, 'ignore_index', None)
    return index if is_int(index) else DEFAULT_IGNORE_INDEX


def resolve_valid_masks(spec: Any, student: nn.Module) -> Any:
    """``spec`` with every ``valid_mask=True`` route set to the student's
    ignore index (a new frozen spec; ``spec`` is unchanged)."""
    routes = {
        name:
        dataclasses.replace(route, valid_mask=student_ignore_index(student))
        if route.valid_mask is True else route
        for name, route in spec.routes.items()
    }
    return dataclasses.replace(spec, routes=routes)


def stack_labels(data_samples: Optional[Sequence[Any]],
                 losses: Sequence[str]) -> Tensor:
    """The batch's segmentation labels, ``(N, 1, H, W)``.

    Args:
        data_samples: The step's data samples (after the preprocessor).
        losses: The losses that asked for a mask (for the messages).

    Raises:
        ValueError: A sample without ``gt_sem_seg`` (e.g. a classification
            or detection batch), or label maps of different sizes.
    """
    keys = ', '.join(_where(n) for n in losses)
    samples = list(data_samples or [])
    if not samples or any(
            getattr(ds, 'gt_sem_seg', None) is None for ds in samples):
        raise ValueError(
            f'{keys} asks for an ignore mask from the segmentation labels, '
            'but the batch\'s data samples have no gt_sem_seg (a '
            'classification or detection batch?); remove the valid_mask key')
    maps = [ds.gt_sem_seg.data for ds in samples]
    shapes = sorted({tuple(m.shape) for m in maps})
    if len(shapes) != 1:
        raise ValueError(
            f'{keys}: the gt_sem_seg maps differ in size {shapes}; pad them '
            'to one size in the data preprocessor (mmseg SegDataPreProcessor'
            ' does in training)')
    labels = torch.stack(maps)
    return labels if labels.dim() == 4 else labels[:, None]


def level_mask(name: str, ignore_index: int, labels: Tensor, teacher: Tensor,
               cache: Dict[Tuple[int, Tuple[int, ...]], Tensor]) -> Tensor:
    """``labels != ignore_index`` on ``teacher``'s grid, ``(N, H', W')``.

    Args:
        name: The loss (messages).
        ignore_index: Label of ignored pixels.
        labels: ``(N, 1, H, W)`` from :func:`stack_labels`.
        teacher: The loss's teacher input, ``(N, C, H', W')``.
        cache: Masks by ``(ignore_index, (H', W'))``, reused and filled.

    Raises:
        ValueError: The teacher input is not a dense map.
    """
    if not isinstance(teacher, Tensor) or teacher.dim() != 4:
        got = tuple(teacher.shape) if isinstance(teacher, Tensor) else \
            type(teacher)
        raise ValueError(
            f'distill loss {name!r}: valid_mask needs dense teacher logits '
            f'(N, C, H, W), got {got}; remove valid_mask from '
            f'loss_forward_mappings[{name!r}]')
    key = (ignore_index, tuple(teacher.shape[-2:]))
    if key not in cache:
        cache[key] = valid_mask_from_labels(
            labels.to(teacher.device), ignore_index, key[1])
    return cache[key]
