"""Scenes of non-overlapping objects and the label maps derived from them."""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .drawing import (SHAPES, ClassStyle, make_background, paint_object,
                      rasterize, shape_polygon)


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
