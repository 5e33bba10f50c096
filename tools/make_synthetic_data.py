#!/usr/bin/env python
"""Write tiny, learnable synthetic datasets in real OpenMMLab on-disk formats.

Every subcommand writes files that the *stock* OpenMMLab dataset classes and
``_base_`` dataset configs read unchanged; only ``data_root`` (and, for tiny
images, a few size-related settings) needs overriding. Content is learnable:
each image is a low-contrast clutter background with a few shapes on it, and
every object class has its own colour AND stripe texture (orientation and
period), so that a small model trained for a few hundred iterations reaches a
meaningful metric. Only a handful of classes are used (``--num-classes-used``);
the rest of each label space is simply absent.

Subcommands and the layouts they write (``OUT`` is ``--out``)::

    voc           OUT/VOCdevkit/VOC2012/{JPEGImages/*.jpg,
                      SegmentationClass/*.png      ('P' PNG, VOC palette,
                                                    0=bg, 1..N, 255 boundary),
                      SegmentationClassAug/*.png   ('L' PNG, no 255 band),
                      ImageSets/Segmentation/{train,val,aug}.txt}
                  mmseg configs: pascal_voc12.py / pascal_voc12_aug.py with
                  data_root=OUT/VOCdevkit/VOC2012
    cocostuff10k  OUT/coco_stuff10k/{images/{train2014,test2014}/*.jpg,
                      annotations/{train2014,test2014}/*_labelTrainIds.png
                      ('L' PNG, 0=unlabeled, 1..171 = class index + 1),
                      imageLists/{train,test,all}.txt}
                  mmseg config: coco-stuff10k.py (reduce_zero_label=True) with
                  data_root=OUT/coco_stuff10k
    coco          OUT/coco/{train2017,val2017}/*.jpg,
                  OUT/coco/annotations/instances_{train,val}2017.json
                  mmdet configs: coco_detection.py / coco_instance.py with
                  data_root=OUT/coco/ (and the evaluator's ann_file)
    voc-det       OUT/VOCdevkit/{VOC2007,VOC2012}/{JPEGImages/*.jpg,
                      Annotations/*.xml, ImageSets/Main/{trainval,test}.txt}
                  mmdet config: voc0712.py with data_root=OUT/VOCdevkit/
    imagenet      OUT/imagenet/{train/<wnid>/*.JPEG, val/*.JPEG,
                      meta/{train,val}.txt, meta/classes.txt}
                  mmpretrain config: imagenet_bs32.py with
                  data_root=OUT/imagenet

The same ``--seed`` (and the same other arguments) gives byte-identical files.
Each split uses its own random stream, so changing ``--num-val`` does not
change the training images.

Only the standard library, numpy and Pillow are used (no OpenMMLab imports).

Example:
    python tools/make_synthetic_data.py voc --out data/synth --num-train 200
"""
from __future__ import annotations

import argparse
import json
import math
import os
import os.path as osp
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

# ---------------------------------------------------------------------------
# Label spaces (copied verbatim from the OpenMMLab dataset classes so that no
# mm* import is needed).
# ---------------------------------------------------------------------------

# yapf: disable
#: The 20 VOC object classes in the order of mmdet's ``VOCDataset``; mmseg's
#: ``PascalVOCDataset`` prepends 'background' (index 0).
VOC_CLASSES: Tuple[str, ...] = (
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
    'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

#: The 80 COCO categories as (id, name, supercategory); ids as in the real
#: ``instances_*2017.json`` (1..90 with gaps), names exactly as in mmdet's
#: ``CocoDataset.METAINFO['classes']`` (which it matches by name).
COCO_CATEGORIES: Tuple[Tuple[int, str, str], ...] = (
    (1, 'person', 'person'), (2, 'bicycle', 'vehicle'),
    (3, 'car', 'vehicle'), (4, 'motorcycle', 'vehicle'),
    (5, 'airplane', 'vehicle'), (6, 'bus', 'vehicle'),
    (7, 'train', 'vehicle'), (8, 'truck', 'vehicle'), (9, 'boat', 'vehicle'),
    (10, 'traffic light', 'outdoor'), (11, 'fire hydrant', 'outdoor'),
    (13, 'stop sign', 'outdoor'), (14, 'parking meter', 'outdoor'),
    (15, 'bench', 'outdoor'), (16, 'bird', 'animal'), (17, 'cat', 'animal'),
    (18, 'dog', 'animal'), (19, 'horse', 'animal'), (20, 'sheep', 'animal'),
    (21, 'cow', 'animal'), (22, 'elephant', 'animal'),
    (23, 'bear', 'animal'), (24, 'zebra', 'animal'),
    (25, 'giraffe', 'animal'), (27, 'backpack', 'accessory'),
    (28, 'umbrella', 'accessory'), (31, 'handbag', 'accessory'),
    (32, 'tie', 'accessory'), (33, 'suitcase', 'accessory'),
    (34, 'frisbee', 'sports'), (35, 'skis', 'sports'),
    (36, 'snowboard', 'sports'), (37, 'sports ball', 'sports'),
    (38, 'kite', 'sports'), (39, 'baseball bat', 'sports'),
    (40, 'baseball glove', 'sports'), (41, 'skateboard', 'sports'),
    (42, 'surfboard', 'sports'), (43, 'tennis racket', 'sports'),
    (44, 'bottle', 'kitchen'), (46, 'wine glass', 'kitchen'),
    (47, 'cup', 'kitchen'), (48, 'fork', 'kitchen'), (49, 'knife', 'kitchen'),
    (50, 'spoon', 'kitchen'), (51, 'bowl', 'kitchen'),
    (52, 'banana', 'food'), (53, 'apple', 'food'),
    (54, 'sandwich', 'food'), (55, 'orange', 'food'),
    (56, 'broccoli', 'food'), (57, 'carrot', 'food'),
    (58, 'hot dog', 'food'), (59, 'pizza', 'food'), (60, 'donut', 'food'),
    (61, 'cake', 'food'), (62, 'chair', 'furniture'),
    (63, 'couch', 'furniture'), (64, 'potted plant', 'furniture'),
    (65, 'bed', 'furniture'), (67, 'dining table', 'furniture'),
    (70, 'toilet', 'furniture'), (72, 'tv', 'electronic'),
    (73, 'laptop', 'electronic'), (74, 'mouse', 'electronic'),
    (75, 'remote', 'electronic'), (76, 'keyboard', 'electronic'),
    (77, 'cell phone', 'electronic'), (78, 'microwave', 'appliance'),
    (79, 'oven', 'appliance'), (80, 'toaster', 'appliance'),
    (81, 'sink', 'appliance'), (82, 'refrigerator', 'appliance'),
    (84, 'book', 'indoor'), (85, 'clock', 'indoor'), (86, 'vase', 'indoor'),
    (87, 'scissors', 'indoor'), (88, 'teddy bear', 'indoor'),
    (89, 'hair drier', 'indoor'), (90, 'toothbrush', 'indoor'))
# yapf: enable

#: COCO-Stuff (171 classes, mmseg ``COCOStuffDataset`` order) index of the
#: stuff class used as background: 'wall-other'. Object classes are the first
#: ``--num-classes-used`` thing classes (0='person', 1='bicycle', ...).
COCOSTUFF_NUM_CLASSES = 171
COCOSTUFF_BACKGROUND = 161

SHAPES: Tuple[str, ...] = ('rectangle', 'ellipse', 'triangle', 'diamond')

# ---------------------------------------------------------------------------
# Drawing primitives
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassStyle:
    """Appearance of one object class.

    Attributes:
        rgb: Base colour (float, 0..255).
        angle: Stripe orientation in radians.
        period: Stripe period in pixels.
        shape: Preferred shape (only enforced where ``fixed_shape`` is used).
    """

    rgb: Tuple[float, float, float]
    angle: float
    period: float
    shape: str


def _hsv_to_rgb(h: float, s: float, v: float) -> Tuple[float, float, float]:
    """Convert one HSV colour (all in [0, 1]) to RGB in [0, 255]."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v),
               (v, p, q)][i]
    return (255.0 * r, 255.0 * g, 255.0 * b)


def make_styles(num: int) -> List[ClassStyle]:
    """Build ``num`` mutually distinctive class styles (deterministic).

    Hues are spread evenly (then interleaved by the golden ratio for large
    ``num``), stripe orientation and period cycle with co-prime steps, so that
    for small ``num`` every pair of classes differs in colour, texture and
    shape.

    Args:
        num: Number of classes.

    Returns:
        List of :class:`ClassStyle`, one per class.
    """
    styles = []
    periods = (4.0, 7.0, 10.0)
    for k in range(num):
        if num <= 12:
            hue = k / num
        else:
            hue = (k * 0.6180339887) % 1.0
        sat = 0.85 if (k // 12) % 2 == 0 else 0.6
        val = 0.9 if (k // 24) % 2 == 0 else 0.7
        angle = math.radians((k * 45 + (k // 4) * 22.5) % 180)
        styles.append(
            ClassStyle(
                rgb=_hsv_to_rgb(hue, sat, val),
                angle=angle,
                period=periods[k % len(periods)],
                shape=SHAPES[k % len(SHAPES)]))
    return styles


def make_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Render low-contrast, smooth, desaturated clutter.

    Args:
        rng: Random generator.
        size: Image side in pixels.

    Returns:
        Float32 array of shape (size, size, 3) in 0..255.
    """
    grid = max(2, size // 8)
    base = rng.uniform(95, 165)
    tint = rng.normal(0, 6, size=3)
    low = base + tint + rng.normal(0, 14, size=(grid, grid, 1)) \
        + rng.normal(0, 4, size=(grid, grid, 3))
    low_img = Image.fromarray(np.clip(low, 0, 255).astype(np.uint8))
    bg = np.asarray(
        low_img.resize((size, size), Image.BILINEAR), dtype=np.float32)
    bg = bg + rng.normal(0, 3, size=(size, size, 1)).astype(np.float32)
    return bg


def shape_polygon(shape: str, box: Tuple[float, float, float, float],
                  rng: np.random.Generator) -> np.ndarray:
    """Return a polygon whose tight bounding box is ``box``.

    Args:
        shape: One of :data:`SHAPES`.
        box: (x0, y0, x1, y1) in pixel coordinates.
        rng: Random generator (triangle orientation).

    Returns:
        Float array of shape (K, 2) with (x, y) vertices.
    """
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    if shape == 'rectangle':
        pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    elif shape == 'ellipse':
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        xs = cx + (x1 - x0) / 2.0 * np.cos(t)
        ys = cy + (y1 - y0) / 2.0 * np.sin(t)
        return np.stack([xs, ys], axis=1)
    elif shape == 'triangle':
        up = [(cx, y0), (x1, y1), (x0, y1)]
        down = [(x0, y0), (x1, y0), (cx, y1)]
        left = [(x0, cy), (x1, y0), (x1, y1)]
        right = [(x0, y0), (x1, cy), (x0, y1)]
        choices = (up, down, left, right)
        pts = choices[int(rng.integers(4))]
    elif shape == 'diamond':
        pts = [(cx, y0), (x1, cy), (cx, y1), (x0, cy)]
    else:
        raise ValueError(f'unknown shape {shape!r}')
    return np.asarray(pts, dtype=np.float64)


def rasterize(polygon: np.ndarray, size: int) -> np.ndarray:
    """Rasterise a polygon to a boolean mask.

    Args:
        polygon: (K, 2) vertices.
        size: Image side.

    Returns:
        Bool array of shape (size, size).
    """
    canvas = Image.new('L', (size, size), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in polygon.tolist()],
                                   fill=1)
    return np.asarray(canvas, dtype=bool)


def paint_object(img: np.ndarray, mask: np.ndarray, style: ClassStyle,
                 rng: np.random.Generator) -> None:
    """Paint a textured object of ``style`` into ``img`` where ``mask``.

    The texture is a sinusoidal stripe pattern modulating the class colour.

    Args:
        img: Float (H, W, 3) image, modified in place.
        mask: Bool (H, W) mask.
        style: Class appearance.
        rng: Random generator (brightness jitter, stripe phase, noise).
    """
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    proj = xx * math.cos(style.angle) + yy * math.sin(style.angle)
    phase = rng.uniform(0, 2 * np.pi)
    stripes = np.sin(2 * np.pi * proj / style.period + phase)
    gain = rng.uniform(0.85, 1.1)
    colour = np.asarray(style.rgb, dtype=np.float32) * gain
    tex = colour[None, None, :] * (1.0 + 0.3 * stripes[..., None]) \
        + rng.normal(0, 4, size=(h, w, 1)).astype(np.float32)
    img[mask] = tex[mask]


@dataclass
class SceneObject:
    """One rendered object.

    Attributes:
        cls: Index into the list of used classes (0-based).
        polygon: (K, 2) polygon vertices.
        box: Tight box (x0, y0, x1, y1) of the polygon.
        mask: Bool (H, W) visible mask.
    """

    cls: int
    polygon: np.ndarray
    box: Tuple[float, float, float, float]
    mask: np.ndarray


def _disjoint(a: Sequence[int], b: Sequence[int], margin: int) -> bool:
    """Whether boxes ``a`` and ``b`` are at least ``margin`` apart."""
    return (a[0] >= b[2] + margin or b[0] >= a[2] + margin
            or a[1] >= b[3] + margin or b[1] >= a[3] + margin)


def sample_boxes(rng: np.random.Generator,
                 size: int,
                 num: int,
                 min_side: int,
                 max_side: int,
                 margin: int = 2) -> List[Tuple[int, int, int, int]]:
    """Sample up to ``num`` non-overlapping integer boxes inside the image.

    Args:
        rng: Random generator.
        size: Image side.
        num: Desired number of boxes.
        min_side: Minimum box side.
        max_side: Maximum box side.
        margin: Minimum gap between boxes.

    Returns:
        List of (x0, y0, x1, y1); at least one box is always returned.
    """
    max_side = max(min(max_side, size - 2), 2)
    min_side = max(min(min_side, max_side), 2)
    boxes: List[Tuple[int, int, int, int]] = []
    for _ in range(num):
        for _try in range(30):
            bw = int(rng.integers(min_side, max_side + 1))
            bh = int(rng.integers(min_side, max_side + 1))
            x0 = int(rng.integers(1, size - bw)) if size - bw > 1 else 0
            y0 = int(rng.integers(1, size - bh)) if size - bh > 1 else 0
            cand = (x0, y0, x0 + bw, y0 + bh)
            if all(_disjoint(cand, b, margin) for b in boxes):
                boxes.append(cand)
                break
    return boxes


def render_scene(
        rng: np.random.Generator,
        size: int,
        styles: Sequence[ClassStyle],
        max_objects: int,
        min_side: int,
        max_side: int,
        classes: Optional[Sequence[int]] = None,
        fixed_shape: bool = False) -> Tuple[np.ndarray, List[SceneObject]]:
    """Render an image with 1..``max_objects`` non-overlapping objects.

    Args:
        rng: Random generator.
        size: Image side.
        styles: Styles of the used classes.
        max_objects: Maximum number of objects.
        min_side: Minimum object bounding-box side.
        max_side: Maximum object bounding-box side.
        classes: If given, the class of each object (its length overrides
            the random object count).
        fixed_shape: Use each class's own shape instead of a random one.

    Returns:
        Tuple of the uint8 (size, size, 3) RGB image and the objects.
    """
    img = make_background(rng, size)
    num = len(classes) if classes is not None else \
        int(rng.integers(1, max_objects + 1))
    boxes = sample_boxes(rng, size, num, min_side, max_side)
    objects = []
    for i, box in enumerate(boxes):
        cls = int(classes[i]) if classes is not None else \
            int(rng.integers(len(styles)))
        shape = styles[cls].shape if fixed_shape else \
            SHAPES[int(rng.integers(3))]
        poly = shape_polygon(shape, tuple(float(v) for v in box), rng)
        poly = np.round(poly, 2)
        mask = rasterize(poly, size)
        if not mask.any():
            continue
        paint_object(img, mask, styles[cls], rng)
        tight = (float(poly[:, 0].min()), float(poly[:, 1].min()),
                 float(poly[:, 0].max()), float(poly[:, 1].max()))
        objects.append(SceneObject(cls, poly, tight, mask))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), objects


def boundary_band(instance_map: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` of a change of instance id (like VOC's band).

    Args:
        instance_map: Int (H, W) map, 0 = background, i = object i.
        radius: Half width of the band in pixels (0 disables the band).

    Returns:
        Bool (H, W) mask of the band.
    """
    band = np.zeros(instance_map.shape, dtype=bool)
    if radius <= 0:
        return band
    h, w = instance_map.shape
    pad = np.pad(instance_map, radius, mode='edge')
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx == 0 and dy == 0:
                continue
            shifted = pad[radius + dy:radius + dy + h,
                          radius + dx:radius + dx + w]
            band |= shifted != instance_map
    return band


# ---------------------------------------------------------------------------
# I/O helpers
# ---------------------------------------------------------------------------


def voc_palette() -> List[int]:
    """Return the standard 256-entry PASCAL VOC colour map (flat RGB list)."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.extend((r, g, b))
    return palette


def save_jpg(img: np.ndarray, path: str) -> None:
    """Save an RGB uint8 array as JPEG (deterministic settings)."""
    Image.fromarray(img).save(path, format='JPEG', quality=92)


def save_png_index(label: np.ndarray,
                   path: str,
                   palette: Optional[List[int]] = None) -> None:
    """Save a uint8 label map as 'L' PNG, or 'P' PNG if ``palette`` given."""
    im = Image.fromarray(label.astype(np.uint8))
    if palette is not None:
        im.putpalette(palette)  # turns the 'L' image into 'P', same indices
    im.save(path, format='PNG')


def write_lines(path: str, lines: Sequence[str]) -> None:
    """Write ``lines`` to ``path``, one per line, trailing newline."""
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def split_rng(seed: int, split: str) -> np.random.Generator:
    """Independent deterministic generator for one split of one dataset."""
    key = [ord(c) for c in split]
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def mkdirs(*paths: str) -> None:
    """Create directories (like ``mkdir -p``)."""
    for p in paths:
        os.makedirs(p, exist_ok=True)


def semantic_label(objects: Sequence[SceneObject], size: int,
                   class_values: Sequence[int],
                   background: int) -> Tuple[np.ndarray, np.ndarray]:
    """Build a semantic label map and an instance-id map from objects.

    Args:
        objects: Rendered objects.
        size: Image side.
        class_values: Label value of each used class.
        background: Label value of the background.

    Returns:
        Tuple (label uint8 (H, W), instance id int32 (H, W)).
    """
    label = np.full((size, size), background, dtype=np.uint8)
    inst = np.zeros((size, size), dtype=np.int32)
    for i, obj in enumerate(objects):
        label[obj.mask] = class_values[obj.cls]
        inst[obj.mask] = i + 1
    return label, inst


# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------


def make_voc(args: argparse.Namespace) -> str:
    """PASCAL VOC 2012 semantic segmentation (+ SBD-style "aug" labels).

    Layout (``data_root = OUT/VOCdevkit/VOC2012`` for mmseg's
    ``pascal_voc12.py`` and ``pascal_voc12_aug.py``)::

        JPEGImages/<id>.jpg
        SegmentationClass/<id>.png     'P' mode, VOC palette, values 0..20,
                                       255 on a band around objects
        SegmentationClassAug/<id>.png  'L' mode, values 0..20, no 255 band
                                       (like SBD-converted labels)
        ImageSets/Segmentation/train.txt, val.txt, aug.txt (= train ids)

    Args:
        args: Parsed CLI arguments.

    Returns:
        One-line summary.
    """
    root = osp.join(args.out, 'VOCdevkit', 'VOC2012')
    img_dir = osp.join(root, 'JPEGImages')
    cls_dir = osp.join(root, 'SegmentationClass')
    aug_dir = osp.join(root, 'SegmentationClassAug')
    set_dir = osp.join(root, 'ImageSets', 'Segmentation')
    mkdirs(img_dir, cls_dir, aug_dir, set_dir)
    n_cls = min(args.num_classes_used, len(VOC_CLASSES))
    styles = make_styles(n_cls)
    values = list(range(1, n_cls + 1))
    palette = voc_palette()
    side = args.size
    ids: Dict[str, List[str]] = {}
    for split, num, year in (('train', args.num_train, 2010),
                             ('val', args.num_val, 2011)):
        rng = split_rng(args.seed, 'voc/' + split)
        ids[split] = []
        for i in range(num):
            img_id = f'{year}_{i + 1:06d}'
            img, objs = render_scene(rng, side, styles, args.max_objects,
                                     max(6, side // 5), max(8, side // 2))
            label, inst = semantic_label(objs, side, values, 0)
            save_jpg(img, osp.join(img_dir, img_id + '.jpg'))
            save_png_index(label, osp.join(aug_dir, img_id + '.png'))
            label[boundary_band(inst, args.boundary)] = 255
            save_png_index(label, osp.join(cls_dir, img_id + '.png'), palette)
            ids[split].append(img_id)
    write_lines(osp.join(set_dir, 'train.txt'), ids['train'])
    write_lines(osp.join(set_dir, 'val.txt'), ids['val'])
    write_lines(osp.join(set_dir, 'aug.txt'), ids['train'])
    return (f'voc: {len(ids["train"])} train + {len(ids["val"])} val images '
            f'{side}x{side}, classes 1..{n_cls} '
            f'({", ".join(VOC_CLASSES[:n_cls])}) -> {root} '
            f'(mmseg data_root={root})')


def make_cocostuff10k(args: argparse.Namespace) -> str:
    """COCO-Stuff 10k semantic segmentation (mmseg converted format).

    Layout (``data_root = OUT/coco_stuff10k`` for mmseg's
    ``coco-stuff10k.py``, which scans the image folders and uses
    ``reduce_zero_label=True``)::

        images/train2014/COCO_train2014_<12 digits>.jpg
        images/test2014/COCO_train2014_<12 digits>.jpg
        annotations/train2014/<name>_labelTrainIds.png   'L', 0 = unlabeled,
        annotations/test2014/<name>_labelTrainIds.png    k+1 = class index k
        imageLists/train.txt, test.txt, all.txt          basenames

    After ``reduce_zero_label`` the classes are in 0..170: background is
    'wall-other' (161), objects are thing classes 0..N-1, the thin band
    around objects is unlabeled (-> 255, ignored).

    Args:
        args: Parsed CLI arguments.

    Returns:
        One-line summary.
    """
    root = osp.join(args.out, 'coco_stuff10k')
    n_cls = min(args.num_classes_used, 80)
    styles = make_styles(n_cls)
    values = [k + 1 for k in range(n_cls)]
    side = args.size
    lists: Dict[str, List[str]] = {}
    start = 1
    for split, num in (('train', args.num_train), ('test', args.num_val)):
        img_dir = osp.join(root, 'images', f'{split}2014')
        ann_dir = osp.join(root, 'annotations', f'{split}2014')
        mkdirs(img_dir, ann_dir, osp.join(root, 'imageLists'))
        rng = split_rng(args.seed, 'cocostuff10k/' + split)
        lists[split] = []
        for i in range(num):
            name = f'COCO_train2014_{start + i:012d}'
            img, objs = render_scene(rng, side, styles, args.max_objects,
                                     max(6, side // 5), max(8, side // 2))
            label, inst = semantic_label(objs, side, values,
                                         COCOSTUFF_BACKGROUND + 1)
            label[boundary_band(inst, args.boundary)] = 0
            save_jpg(img, osp.join(img_dir, name + '.jpg'))
            save_png_index(label, osp.join(ann_dir,
                                           name + '_labelTrainIds.png'))
            lists[split].append(name)
        start += num
    write_lines(osp.join(root, 'imageLists', 'train.txt'), lists['train'])
    write_lines(osp.join(root, 'imageLists', 'test.txt'), lists['test'])
    write_lines(
        osp.join(root, 'imageLists', 'all.txt'),
        lists['train'] + lists['test'])
    return (f'cocostuff10k: {len(lists["train"])} train + '
            f'{len(lists["test"])} test images {side}x{side}, classes '
            f'0..{n_cls - 1} + {COCOSTUFF_BACKGROUND} (background) -> {root} '
            f'(mmseg data_root={root})')


def _coco_header() -> dict:
    """Return the ``info``/``licenses`` blocks of a COCO json."""
    return {
        'info': {
            'description': 'mmswtat synthetic COCO-format data',
            'version': '1.0',
            'year': 2017,
            'contributor': 'tools/make_synthetic_data.py',
            'date_created': '2017/01/01'
        },
        'licenses': [{
            'id': 1,
            'name': 'synthetic',
            'url': ''
        }],
    }


def make_coco(args: argparse.Namespace) -> str:
    """COCO 2017 detection / instance segmentation.

    Layout (``data_root = OUT/coco/`` for mmdet's ``coco_detection.py`` and
    ``coco_instance.py``; also set ``val_evaluator.ann_file``)::

        train2017/<12-digit id>.jpg
        val2017/<12-digit id>.jpg
        annotations/instances_train2017.json
        annotations/instances_val2017.json

    The json files carry all 80 categories with the real COCO ids; objects
    use the first ``--num-classes-used`` categories. Each annotation has a
    tight ``bbox`` [x, y, w, h] of its polygon ``segmentation`` [[x1, y1,
    ...]], the polygon ``area``, ``iscrowd`` 0. Objects never overlap.

    Args:
        args: Parsed CLI arguments.

    Returns:
        One-line summary.
    """
    root = osp.join(args.out, 'coco')
    ann_dir = osp.join(root, 'annotations')
    mkdirs(ann_dir)
    n_cls = min(args.num_classes_used, len(COCO_CATEGORIES))
    styles = make_styles(n_cls)
    categories = [{
        'supercategory': sup,
        'id': cid,
        'name': name
    } for cid, name, sup in COCO_CATEGORIES]
    side = args.size
    img_id = 0
    ann_id = 0
    counts = {}
    for split, num in (('train', args.num_train), ('val', args.num_val)):
        img_dir = osp.join(root, f'{split}2017')
        mkdirs(img_dir)
        rng = split_rng(args.seed, 'coco/' + split)
        images, annotations = [], []
        for _ in range(num):
            img_id += 1
            file_name = f'{img_id:012d}.jpg'
            img, objs = render_scene(rng, side, styles, args.max_objects,
                                     max(8, side // 5), max(10, side * 5 // 8))
            save_jpg(img, osp.join(img_dir, file_name))
            images.append({
                'license': 1,
                'file_name': file_name,
                'height': side,
                'width': side,
                'id': img_id
            })
            for obj in objs:
                ann_id += 1
                x0, y0, x1, y1 = obj.box
                poly = obj.polygon
                xs, ys = poly[:, 0], poly[:, 1]
                cross = np.dot(xs, np.roll(ys, -1)) - np.dot(
                    ys, np.roll(xs, -1))
                area = round(0.5 * abs(float(cross)), 4)
                segm = [[round(float(v), 2) for v in poly.reshape(-1)]]
                bbox = [round(v, 2) for v in (x0, y0, x1 - x0, y1 - y0)]
                annotations.append(
                    dict(
                        segmentation=segm,
                        area=area,
                        iscrowd=0,
                        image_id=img_id,
                        bbox=bbox,
                        category_id=COCO_CATEGORIES[obj.cls][0],
                        id=ann_id))
        data = _coco_header()
        data.update(
            images=images, annotations=annotations, categories=categories)
        with open(
                osp.join(ann_dir, f'instances_{split}2017.json'),
                'w',
                encoding='utf-8') as f:
            json.dump(data, f)
        counts[split] = (len(images), len(annotations))
    names = ', '.join(c[1] for c in COCO_CATEGORIES[:n_cls])
    return (f'coco: {counts["train"][0]} train ({counts["train"][1]} objs) + '
            f'{counts["val"][0]} val ({counts["val"][1]} objs) images '
            f'{side}x{side}, categories {names} -> {root} '
            f'(mmdet data_root={root}/)')


def _voc_xml(folder: str, img_id: str, side: int,
             objects: Sequence[SceneObject]) -> bytes:
    """Build a VOC ``Annotations/<id>.xml`` document.

    Boxes are 1-based inclusive pixel indices like real VOC (mmdet subtracts
    one on load).
    """
    root = ET.Element('annotation')
    ET.SubElement(root, 'folder').text = folder
    ET.SubElement(root, 'filename').text = img_id + '.jpg'
    source = ET.SubElement(root, 'source')
    ET.SubElement(source, 'database').text = 'mmswtat synthetic'
    size = ET.SubElement(root, 'size')
    ET.SubElement(size, 'width').text = str(side)
    ET.SubElement(size, 'height').text = str(side)
    ET.SubElement(size, 'depth').text = '3'
    ET.SubElement(root, 'segmented').text = '0'
    for obj in objects:
        x0, y0, x1, y1 = obj.box
        node = ET.SubElement(root, 'object')
        ET.SubElement(node, 'name').text = VOC_CLASSES[obj.cls]
        ET.SubElement(node, 'pose').text = 'Unspecified'
        ET.SubElement(node, 'truncated').text = '0'
        ET.SubElement(node, 'difficult').text = '0'
        bnd = ET.SubElement(node, 'bndbox')
        ET.SubElement(bnd, 'xmin').text = str(max(1, int(math.floor(x0)) + 1))
        ET.SubElement(bnd, 'ymin').text = str(max(1, int(math.floor(y0)) + 1))
        ET.SubElement(bnd, 'xmax').text = str(min(side, int(math.ceil(x1))))
        ET.SubElement(bnd, 'ymax').text = str(min(side, int(math.ceil(y1))))
    ET.indent(root)
    return ET.tostring(root, encoding='utf-8')


def make_voc_det(args: argparse.Namespace) -> str:
    """PASCAL VOC 2007 + 2012 detection.

    Layout (``data_root = OUT/VOCdevkit/`` for mmdet's ``voc0712.py``)::

        VOC2007/JPEGImages/<6 digits>.jpg
        VOC2007/Annotations/<6 digits>.xml
        VOC2007/ImageSets/Main/trainval.txt, test.txt
        VOC2012/JPEGImages/20XX_<6 digits>.jpg
        VOC2012/Annotations/20XX_<6 digits>.xml
        VOC2012/ImageSets/Main/trainval.txt, test.txt

    ``--num-train`` images are split between VOC2007 and VOC2012 trainval
    (2007 gets the extra one); each year gets ``--num-val`` test images.
    ``voc0712.py`` sets ``bbox_min_size=32`` for training (smaller boxes are
    marked ignore), hence the larger default ``--size`` and
    ``--min-obj-size``.

    Args:
        args: Parsed CLI arguments.

    Returns:
        One-line summary.
    """
    n_cls = min(args.num_classes_used, len(VOC_CLASSES))
    styles = make_styles(n_cls)
    side = args.size
    min_side = min(args.min_obj_size, side - 4)
    max_side = max(min_side, side * 5 // 8)
    n07 = (args.num_train + 1) // 2
    plan = (('VOC2007', 'trainval', n07), ('VOC2007', 'test', args.num_val),
            ('VOC2012', 'trainval', args.num_train - n07), ('VOC2012', 'test',
                                                            args.num_val))
    next_07 = 1
    n_objs = 0
    for year, split, num in plan:
        root = osp.join(args.out, 'VOCdevkit', year)
        img_dir = osp.join(root, 'JPEGImages')
        xml_dir = osp.join(root, 'Annotations')
        set_dir = osp.join(root, 'ImageSets', 'Main')
        mkdirs(img_dir, xml_dir, set_dir)
        rng = split_rng(args.seed, f'voc-det/{year}/{split}')
        ids = []
        for i in range(num):
            if year == 'VOC2007':
                img_id = f'{next_07:06d}'
                next_07 += 1
            else:
                img_id = f'{2008 if split == "trainval" else 2009}_{i + 1:06d}'
            img, objs = render_scene(rng, side, styles, args.max_objects,
                                     min_side, max_side)
            save_jpg(img, osp.join(img_dir, img_id + '.jpg'))
            with open(osp.join(xml_dir, img_id + '.xml'), 'wb') as f:
                f.write(_voc_xml(year, img_id, side, objs))
            ids.append(img_id)
            n_objs += len(objs)
        write_lines(osp.join(set_dir, f'{split}.txt'), ids)
    root = osp.join(args.out, 'VOCdevkit')
    return (f'voc-det: VOC2007 {n07} trainval + {args.num_val} test, VOC2012 '
            f'{args.num_train - n07} trainval + {args.num_val} test images '
            f'{side}x{side} ({n_objs} objs), classes '
            f'{", ".join(VOC_CLASSES[:n_cls])} -> {root} '
            f'(mmdet data_root={root}/)')


def make_imagenet(args: argparse.Namespace) -> str:
    """ImageNet-1k classification (mmpretrain ``ImageNet`` with meta files).

    Layout (``data_root = OUT/imagenet`` for mmpretrain's
    ``imagenet_bs32.py``; ``split='train'/'val'`` picks up
    ``meta/{split}.txt`` and ``data_prefix=split``)::

        train/n<8 digits>/n<8 digits>_<k>.JPEG
        val/ILSVRC2012_val_<8 digits>.JPEG
        meta/train.txt    "n00000003/n00000003_7.JPEG 3" per line
        meta/val.txt      "ILSVRC2012_val_00000001.JPEG 3" per line
        meta/classes.txt  one wnid per line (for ``classes=``)

    Labels are 0..N-1 and so index the stock 1000-class metainfo; a class is
    a colour + shape + stripe texture. Set ``model.head.num_classes=N`` (and
    ``data_preprocessor.num_classes=N`` if batch augments are used); keep
    ``topk`` <= N. Images are balanced over classes (round robin).

    Args:
        args: Parsed CLI arguments.

    Returns:
        One-line summary.
    """
    root = osp.join(args.out, 'imagenet')
    meta_dir = osp.join(root, 'meta')
    val_dir = osp.join(root, 'val')
    mkdirs(meta_dir, val_dir)
    n_cls = args.num_classes
    styles = make_styles(n_cls)
    wnids = [f'n{k:08d}' for k in range(n_cls)]
    side = args.size
    lines: Dict[str, List[str]] = {'train': [], 'val': []}
    for split, num in (('train', args.num_train), ('val', args.num_val)):
        rng = split_rng(args.seed, 'imagenet/' + split)
        if split == 'train':
            for w in wnids:
                mkdirs(osp.join(root, 'train', w))
        for i in range(num):
            cls = i % n_cls
            img, _ = render_scene(
                rng,
                side,
                styles,
                1,
                max(8, side * 2 // 5),
                max(10, side * 17 // 20),
                classes=[cls],
                fixed_shape=True)
            if split == 'train':
                rel = f'{wnids[cls]}/{wnids[cls]}_{i // n_cls + 1}.JPEG'
                save_jpg(img, osp.join(root, 'train', rel))
            else:
                rel = f'ILSVRC2012_val_{i + 1:08d}.JPEG'
                save_jpg(img, osp.join(val_dir, rel))
            lines[split].append(f'{rel} {cls}')
    write_lines(osp.join(meta_dir, 'train.txt'), lines['train'])
    write_lines(osp.join(meta_dir, 'val.txt'), lines['val'])
    write_lines(osp.join(meta_dir, 'classes.txt'), wnids)
    return (f'imagenet: {len(lines["train"])} train + {len(lines["val"])} val '
            f'images {side}x{side}, {n_cls} classes -> {root} '
            f'(mmpretrain data_root={root}; set model.head.num_classes='
            f'{n_cls})')


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

_EPILOG = """\
config overrides (only data_root is needed with the default sizes):
  voc           mmseg pascal_voc12.py / pascal_voc12_aug.py:
                  data_root='OUT/VOCdevkit/VOC2012'
  cocostuff10k  mmseg coco-stuff10k.py: data_root='OUT/coco_stuff10k'
                  (model decode_head num_classes stays 171)
  coco          mmdet coco_detection.py / coco_instance.py:
                  data_root='OUT/coco/', and
                  val_evaluator.ann_file='OUT/coco/annotations/
                  instances_val2017.json' (it is built from data_root at
                  config-parse time); num_classes stays 80
  voc-det       mmdet voc0712.py: data_root='OUT/VOCdevkit/' (num_classes 20).
                  With --size < ~80 either keep --min-obj-size >= 34 or set
                  filter_cfg.bbox_min_size lower in the train datasets
  imagenet      mmpretrain imagenet_bs32.py: data_root='OUT/imagenet' for both
                  loaders; model.head.num_classes=N (optional but sensible),
                  data_preprocessor.num_classes=N, Accuracy topk <= N.
                  The stock 1000-name metainfo is fine (labels 0..N-1); to
                  restrict it pass classes='OUT/imagenet/meta/classes.txt'
                  (an absolute/cwd-relative path, not joined with data_root)
coco and voc-det: keep --size >= 32, the stock train datasets drop images
  whose shorter side is below filter_cfg.min_size=32.
all: the stock pipelines resize to 512 / 1333x800 / 224, which works but is
slow on tiny images; shrinking the pipeline scales is optional.
"""


def _describe(func) -> str:
    """Return a format function's docstring without its Args/Returns."""
    doc = func.__doc__ or ''
    return doc.split('    Args:')[0].rstrip() + '\n'


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per format."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='format', required=True)
    specs = (
        ('voc', make_voc, 'PASCAL VOC 2012 segmentation (mmseg)', 64),
        ('cocostuff10k', make_cocostuff10k,
         'COCO-Stuff 10k segmentation (mmseg)', 64),
        ('coco', make_coco, 'COCO 2017 detection/instances (mmdet)', 64),
        ('voc-det', make_voc_det, 'PASCAL VOC 07+12 detection (mmdet)', 128),
        ('imagenet', make_imagenet, 'ImageNet classification (mmpretrain)',
         64),
    )
    for name, func, help_text, size in specs:
        p = sub.add_parser(
            name,
            help=help_text,
            description=_describe(func),
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument('--out', required=True, help='output directory')
        p.add_argument(
            '--num-train',
            type=int,
            default=200,
            help='number of training images (default 200)')
        p.add_argument(
            '--num-val',
            type=int,
            default=50,
            help='number of val/test images (default 50)')
        p.add_argument(
            '--size',
            type=int,
            default=size,
            help=f'image side in pixels (default {size})')
        p.add_argument(
            '--seed',
            type=int,
            default=0,
            help='random seed; same seed => same bytes')
        if name == 'imagenet':
            p.add_argument(
                '--num-classes',
                type=int,
                default=10,
                help='number of classes (default 10)')
        else:
            p.add_argument(
                '--num-classes-used',
                type=int,
                default=5,
                help='how many object classes appear (default 5)')
            p.add_argument(
                '--max-objects',
                type=int,
                default=3,
                help='max objects per image (default 3)')
        if name in ('voc', 'cocostuff10k'):
            p.add_argument(
                '--boundary',
                type=int,
                default=1,
                help='half width of the ignore band around '
                'objects (default 1, 0 = none)')
        if name == 'voc-det':
            p.add_argument(
                '--min-obj-size',
                type=int,
                default=36,
                help='min object box side (default 36, so boxes '
                'survive bbox_min_size=32 of voc0712.py)')
        p.set_defaults(func=func)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> str:
    """CLI entry point.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The printed one-line summary.
    """
    args = build_parser().parse_args(argv)
    if args.size < 16:
        raise SystemExit('--size must be >= 16')
    if args.num_train < 0 or args.num_val < 0:
        raise SystemExit('--num-train/--num-val must be >= 0')
    if getattr(args, 'num_classes', 1) < 1 or \
            getattr(args, 'num_classes_used', 1) < 1:
        raise SystemExit('number of classes must be >= 1')
    if getattr(args, 'max_objects', 1) < 1:
        raise SystemExit('--max-objects must be >= 1')
    summary = args.func(args)
    print(summary)
    return summary


if __name__ == '__main__':
    main(sys.argv[1:])
