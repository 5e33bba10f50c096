"""Digit scenes for detection: one box per digit, in COCO format.

The same scenes as :mod:`mmswtat.benchmark.data.digit_scenes` (real handwritten
digits from scikit-learn painted on its photographs, train and val from
disjoint digit images, everything a function of ``seed``), larger and with
more digits so that several FPN levels see objects, and annotated for
detection: each digit's box is the tight box of its footprint (the pixels
its ink covers, :class:`~mmswtat.benchmark.data.digit_scenes.PlacedDigit`), its
class the digit (10 classes, :data:`DIGIT_DET_CLASSES`). Digits overlap
little (``max_overlap``), so every box shows most of its digit. Layout::

    <root>/images/<split>_<i>.jpg
    <root>/annotations/{train,val}.json      (COCO instances format)

read by mmdet's ``CocoDataset`` (``metainfo=dict(classes=
DIGIT_DET_CLASSES)``, ``data_prefix=dict(img='images/')``) and scored by
``CocoMetric`` on ``annotations/val.json``. COCO's ``area`` of an object is
its box area (there are no masks).

Scale check: an FPN detector handles objects of about its anchor size on
each level. :func:`write_digit_detection` warns, naming the level, when no
training object has the size of a level (:class:`FpnLevels`).
"""
import json
import math
import os
import os.path as osp
import warnings
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from .digit_scenes import DigitSceneSettings, PlacedDigit, iter_composed

#: Class names of the detection scenes, index = label (digit value).
DIGIT_DET_CLASSES = tuple(f'digit {i}' for i in range(10))


@dataclass(frozen=True)
class DigitDetSettings(DigitSceneSettings):
    """What a digit detection dataset is made of (all of it goes into cache
    keys); the fields of :class:`DigitSceneSettings` with detection
    defaults, plus:

    Attributes:
        max_overlap: Largest share of a digit's box that another digit's box
            may cover (intersection over the smaller box); a digit that
            finds no such spot in 20 tries is left out.

    Defaults: 128x128 scenes with 2-5 digits of 16-64 px. Measured on 200
    scenes: footprint boxes are ~0.66 as wide as tall, ``sqrt(w h)`` from 11
    to 45 px for 16-48 px digits, which leaves P5 of RetinaNet with anchors
    at 2x the stride (64 px) without objects; 16-64 px reaches it.
    ``label_dilation`` is unused (boxes come from the ink itself).
    """
    num_train: int = 800
    num_val: int = 200
    size: int = 128
    digits: Tuple[int, int] = (2, 5)
    digit_size: Tuple[int, int] = (16, 64)
    max_overlap: float = 0.3


@dataclass(frozen=True)
class FpnLevels:
    """The object sizes of an FPN detector's levels.

    Level ``l`` has stride ``strides[l]`` and anchors of about
    ``anchor_scale * strides[l]`` pixels (mmdet's ``octave_base_scale``;
    RetinaNet's stock is 4, with 3 scales per octave above it). An object
    of box scale ``sqrt(w h)`` belongs to the level whose anchor size is
    nearest on a log scale (ties to the finer level).

    Attributes:
        strides: One stride per level, finest first.
        anchor_scale: Anchor side over stride.
        first: Number of the first level in names (3: ``P3``).
    """
    strides: Tuple[int, ...] = (8, 16, 32, 64, 128)
    anchor_scale: float = 4.0
    first: int = 3

    def name(self, level: int) -> str:
        return f'P{self.first + level}'

    def anchor(self, level: int) -> float:
        return self.anchor_scale * self.strides[level]


def box_scale(box: Sequence[float]) -> float:
    """``sqrt(w h)`` of an ``(x0, y0, x1, y1)`` box."""
    return math.sqrt((box[2] - box[0]) * (box[3] - box[1]))


def assign_levels(scales: Sequence[float], levels: FpnLevels) -> np.ndarray:
    """The level of each object: nearest anchor size in ``log2``.

    Args:
        scales: ``(K,)`` box scales ``sqrt(w h)`` in pixels.
        levels: The detector's levels.

    Returns:
        ``(K,)`` int level indices (0 = finest).
    """
    logs = np.log2(np.asarray(scales, np.float64).reshape(-1, 1))
    anchors = np.log2([levels.anchor(i) for i in range(len(levels.strides))])
    return np.abs(logs - anchors[None]).argmin(1)


def level_counts(scales: Sequence[float], levels: FpnLevels) -> List[int]:
    """Objects per level (:func:`assign_levels`), finest first."""
    return np.bincount(
        assign_levels(scales, levels), minlength=len(levels.strides)).tolist()


def warn_empty_levels(scales: Sequence[float], levels: FpnLevels,
                      where: str) -> List[str]:
    """Warn once per level that no object of ``scales`` has the size of.

    Args:
        scales: Box scales of the training objects.
        levels: The detector's levels.
        where: What the objects are, for the message.

    Returns:
        The names of the empty levels.
    """
    counts = level_counts(scales, levels)
    lo, hi = (min(scales), max(scales)) if len(scales) else (0, 0)
    empty = []
    for level, count in enumerate(counts):
        if count:
            continue
        empty.append(levels.name(level))
        warnings.warn(
            f'{where}: FPN level {levels.name(level)} (stride '
            f'{levels.strides[level]}, anchors ~{levels.anchor(level):g} '
            f'px) gets no object of its size: the boxes are {lo:.0f}-'
            f'{hi:.0f} px (sqrt(w*h)); widen digit_size / size or change the '
            'anchors (anchor_scale) to use this level', UserWarning)
    return empty


def coco_annotations(split: str, items: List[Tuple[str, List[PlacedDigit]]],
                     size: int) -> dict:
    """The COCO instances JSON of one split.

    Args:
        split: ``'train'`` or ``'val'`` (not stored; for the caller).
        items: ``(file_name, placed digits)`` per image, in id order.
        size: Image side.

    Returns:
        ``dict(images, annotations, categories)``: image ids from 1,
        category id ``d + 1`` for digit ``d`` named ``DIGIT_DET_CLASSES[d]``,
        ``bbox = [x0, y0, w, h]`` of each footprint box, ``area = w h``.
    """
    images, annotations = [], []
    for image_id, (file_name, placed) in enumerate(items, 1):
        images.append(
            dict(id=image_id, file_name=file_name, width=size, height=size))
        for p in placed:
            box = p.box()
            if box is None:  # no ink pixel: nothing to see, no object
                continue
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=p.digit + 1,
                    bbox=[box[0], box[1], w, h],
                    area=w * h,
                    iscrowd=0))
    categories = [
        dict(id=d + 1, name=name) for d, name in enumerate(DIGIT_DET_CLASSES)
    ]
    return dict(images=images, annotations=annotations, categories=categories)


def write_digit_detection(root: str, settings: DigitDetSettings,
                          levels: FpnLevels = FpnLevels()
                          ) -> Dict[str, int]:  # yapf: disable
    """Write the detection scenes under ``root`` (layout in the module doc).

    Warns (:func:`warn_empty_levels`) for each of ``levels`` that no
    training box has the size of.

    Args:
        root: Directory to create.
        settings: What to render.
        levels: The FPN levels of the detector to be trained.

    Returns:
        ``{'train': scenes, 'val': scenes, 'train_boxes': n, 'val_boxes': m}``.
    """
    img_dir = osp.join(root, 'images')
    ann_dir = osp.join(root, 'annotations')
    for d in (img_dir, ann_dir):
        os.makedirs(d, exist_ok=True)
    items: Dict[str, List[Tuple[str, List[PlacedDigit]]]] = {
        'train': [],
        'val': []
    }
    for split, name, image, placed in iter_composed(
            settings, max_overlap=settings.max_overlap):
        Image.fromarray(image).save(
            osp.join(img_dir, name + '.jpg'), quality=95)
        items[split].append((name + '.jpg', placed))
    counts: Dict[str, int] = {}
    for split, entries in items.items():
        coco = coco_annotations(split, entries, settings.size)
        with open(osp.join(ann_dir, f'{split}.json'), 'w') as f:
            json.dump(coco, f)
        counts[split] = len(entries)
        counts[f'{split}_boxes'] = len(coco['annotations'])
    scales = [
        box_scale(p.box()) for _, placed in items['train'] for p in placed
        if p.box() is not None
    ]
    warn_empty_levels(scales, levels, 'digit detection scenes (train)')
    return counts
