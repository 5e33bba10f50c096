"""Tiny, learnable synthetic datasets in real OpenMMLab on-disk formats.

Every writer produces files that the *stock* OpenMMLab dataset classes and
``_base_`` dataset configs read unchanged; only ``data_root`` (and, for tiny
images, a few size-related settings) needs overriding. Each image is a
low-contrast clutter background with a few shapes on it; every object class
has its own colour AND stripe texture (orientation and period), so a small
model trained for a few hundred iterations reaches a meaningful metric.

The same ``seed`` (and the same other arguments) gives byte-identical files.
Each split uses its own random stream, so changing ``num_val`` does not
change the training images. Only the standard library, numpy and Pillow are
used (no OpenMMLab imports).

Example:
    >>> from mmswtat.datasets.synthetic import make_voc
    >>> make_voc('data/synth', num_train=200)  # doctest: +SKIP
"""
from typing import Callable, Dict, NamedTuple, Tuple

from .coco import make_coco
from .cocostuff import make_cocostuff10k
from .imagenet import make_imagenet
from .voc import make_voc
from .voc_det import make_voc_det


class SyntheticFormat(NamedTuple):
    """One on-disk format: its writer, a one-line description, default
    side and the folders it writes under ``out``.

    Attributes:
        writer: ``writer(out, **options) -> summary line``.
        help: What the format is, for the command line.
        size: Default image side in pixels.
        folders: The folders under ``out`` that the writer fills (files of
            the same names there are replaced).
    """

    writer: Callable[..., str]
    help: str
    size: int
    folders: Tuple[str, ...]


#: The formats by command-line name, in the order of ``--help``.
FORMATS: Dict[str, SyntheticFormat] = {
    'voc':
    SyntheticFormat(make_voc, 'PASCAL VOC 2012 segmentation (mmseg)', 64,
                    ('VOCdevkit/VOC2012', )),
    'cocostuff10k':
    SyntheticFormat(make_cocostuff10k, 'COCO-Stuff 10k segmentation (mmseg)',
                    64, ('coco_stuff10k', )),
    'coco':
    SyntheticFormat(make_coco, 'COCO 2017 detection/instances (mmdet)', 64,
                    ('coco', )),
    'voc-det':
    SyntheticFormat(make_voc_det, 'PASCAL VOC 07+12 detection (mmdet)', 128,
                    ('VOCdevkit/VOC2007', 'VOCdevkit/VOC2012')),
    'imagenet':
    SyntheticFormat(make_imagenet, 'ImageNet classification (mmpretrain)', 64,
                    ('imagenet', )),
}

__all__ = [
    'FORMATS', 'SyntheticFormat', 'make_coco', 'make_cocostuff10k',
    'make_imagenet', 'make_voc', 'make_voc_det'
]
