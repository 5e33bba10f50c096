"""Digit scenes: real handwritten digits composited onto real photographs.

The pixels come from data that scikit-learn ships: the 1,797 handwritten
digits of ``sklearn.datasets.load_digits`` (8x8, 10 classes, UCI optical
recognition set) and the two photographs of ``load_sample_images``. Each
scene is a crop of a photograph with a few upscaled digits painted on it in
random colours; the label map is background (0) plus the digit class + 1
(``1..10``) on the digit's strokes. Written in the real Pascal VOC layout::

    <root>/JPEGImages/<name>.jpg
    <root>/SegmentationClass/<name>.png      (palette PNG, class indices)
    <root>/ImageSets/Segmentation/{train,val}.txt

so mmseg's VOC loaders read it (``BaseSegDataset`` with the VOC suffixes and
:data:`DIGIT_SCENE_CLASSES`). Train and val scenes use disjoint digit images
(val handwriting is unseen); everything is a function of ``seed``.

The scene itself (:func:`compose_scene`: photo crop, digits, noise, and the
:class:`PlacedDigit` records of what was painted where) is shared with the
detection scenes of :mod:`mmswtat.benchmark.data.digit_det_scenes`, which
annotate the same records with boxes instead of a label map.
"""
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageFilter

#: Class names, index = label value.
DIGIT_SCENE_CLASSES = ('background', ) + tuple(f'digit {i}' for i in range(10))
#: VOC palette of the first 11 classes.
DIGIT_SCENE_PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                       [0, 0, 128], [128, 0, 128], [0, 128, 128],
                       [128, 128, 128], [64, 0, 0], [192, 0, 0], [64, 128, 0]]


@dataclass(frozen=True)
class DigitSceneSettings:
    """What a digit-scene dataset is made of (all of it goes into cache keys).

    Attributes:
        num_train: Training scenes.
        num_val: Validation scenes.
        size: Scene side in pixels.
        digits: ``(min, max)`` digits per scene.
        digit_size: ``(min, max)`` side of an upscaled digit in pixels.
        val_fraction: Share of the 1,797 digit images kept for val scenes.
        stroke_threshold: Digit intensity (0..1) above which a pixel is
            ink.
        label_dilation: The label is the ink dilated by this fraction of
            the digit's side (a filled footprint, not the thin strokes:
            measured, stroke-only labels are too thin for a stride-8 map and
            every network collapsed to predicting background).
        noise: Std of the Gaussian pixel noise added to the scene (0..255).
        seed: Seed of the whole dataset (split, crops, placement, colours).
    """
    num_train: int = 800
    num_val: int = 200
    size: int = 64
    digits: Tuple[int, int] = (1, 2)
    digit_size: Tuple[int, int] = (24, 44)
    val_fraction: float = 0.3
    stroke_threshold: float = 0.35
    label_dilation: float = 0.15
    noise: float = 8.0
    seed: int = 0

    def to_dict(self) -> dict:
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
        }


def load_sources() -> Tuple[np.ndarray, np.ndarray, List[np.ndarray]]:
    """scikit-learn's digits and photographs.

    Returns:
        ``(digits, targets, photos)``: ``digits`` ``(1797, 8, 8)`` float in
        ``[0, 1]``, ``targets`` ``(1797,)`` int, ``photos`` a list of
        ``(H, W, 3)`` uint8 RGB arrays.

    Raises:
        ImportError: scikit-learn is missing (names the pip command).
    """
    try:
        from sklearn.datasets import load_digits, load_sample_images
    except ImportError as e:
        raise ImportError(
            'digit scenes need scikit-learn (its bundled digits and sample '
            'photographs are the data): pip install scikit-learn '
            '(pinned in requirements/runtime.txt)') from e
    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0
    photos = [
        np.asarray(p, dtype=np.uint8) for p in load_sample_images().images
    ]
    return images, digits.target.astype(np.int64), photos


def split_digits(num: int, val_fraction: float,
                 seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Disjoint ``(train_ids, val_ids)`` of ``num`` digit images."""
    order = np.random.RandomState(seed).permutation(num)
    n_val = int(round(num * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def photo_crop(photos: List[np.ndarray], size: int,
               rng: np.random.RandomState) -> np.ndarray:
    """A random ``(size, size, 3)`` float crop of a random photo, rescaled
    by a random factor in [1, 4] (so crops range from detail to overview)."""
    photo = photos[rng.randint(len(photos))]
    h, w = photo.shape[:2]
    side = int(min(h, w, size * rng.uniform(1.0, 4.0)))
    y, x = rng.randint(h - side + 1), rng.randint(w - side + 1)
    crop = Image.fromarray(photo[y:y + side, x:x + side])
    return np.asarray(
        crop.resize((size, size), Image.BILINEAR), dtype=np.float32)


def upscale_digit(digit: np.ndarray, side: int) -> np.ndarray:
    """``(8, 8)`` intensities -> ``(side, side)`` float in [0, 1] (bicubic)."""
    img = Image.fromarray((digit * 255).astype(np.uint8))
    up = np.asarray(img.resize((side, side), Image.BICUBIC), np.float32)
    return np.clip(up / 255.0, 0.0, 1.0)


@dataclass(frozen=True, eq=False)  # eq/hash would compare arrays
class PlacedDigit:
    """One digit painted on a scene.

    Attributes:
        source: Index of its image in scikit-learn's digits.
        digit: Its class, ``0..9``.
        y: Top row of its ``side x side`` patch in the scene.
        x: Left column of the patch.
        ink: ``(side, side)`` bool, its footprint: the pixels where its
            upscaled intensity exceeds ``stroke_threshold`` (what it looks
            like, before any later digit is painted over it).
    """
    source: int
    digit: int
    y: int
    x: int
    ink: np.ndarray

    def box(self) -> Optional[Tuple[int, int, int, int]]:
        """``(x0, y0, x1, y1)`` in scene pixels, ``x1``/``y1`` exclusive:
        the tight box of the footprint; None if it has no ink pixel."""
        return footprint_box(self.ink, self.y, self.x)


def footprint_box(ink: np.ndarray,
                  y: int = 0,
                  x: int = 0) -> Optional[Tuple[int, int, int, int]]:
    """Tight box of a bool mask, offset by ``(y, x)``.

    Args:
        ink: ``(H, W)`` bool.
        y: Row offset added to the box.
        x: Column offset added to the box.

    Returns:
        ``(x0, y0, x1, y1)`` with exclusive ``x1``, ``y1`` (so the width is
        ``x1 - x0``), or None for an empty mask.
    """
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if rows.size == 0:
        return None
    return (x + int(cols[0]), y + int(rows[0]), x + int(cols[-1]) + 1,
            y + int(rows[-1]) + 1)


def overlap_fraction(a: Tuple[int, int, int, int], b: Tuple[int, int, int,
                                                            int]) -> float:
    """Intersection of boxes ``a`` and ``b`` over the smaller one's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / smaller


def compose_scene(settings: DigitSceneSettings,
                  digits: np.ndarray,
                  targets: np.ndarray,
                  pool: np.ndarray,
                  photos: List[np.ndarray],
                  rng: np.random.RandomState,
                  plain: bool = False,
                  max_overlap: Optional[float] = None,
                  tries: int = 20) -> Tuple[np.ndarray, List[PlacedDigit]]:
    """Paint a few digits from ``pool`` on a photo crop (the shared part of
    the segmentation and detection scenes).

    ``plain=True`` paints white digits on black instead (no photo).

    Args:
        settings: Scene size, digit count and size range, noise.
        digits: ``(K, 8, 8)`` intensities in ``[0, 1]``.
        targets: ``(K,)`` their classes.
        pool: Indices into ``digits`` this scene may use.
        photos: Background photographs.
        rng: The scene's random state (advanced).
        plain: White on black.
        max_overlap: If set, a digit's footprint box may cover at most this
            fraction of a smaller (or be covered at most this fraction by a
            larger) box already placed: its position is redrawn up to
            ``tries`` times, then the digit is left out. None: no check and
            no redraw (the segmentation scenes).
        tries: Positions tried per digit when ``max_overlap`` is set.

    Returns:
        ``(image, placed)``: ``(S, S, 3)`` uint8 RGB and the digits painted,
        in painting order (later ones may cover earlier ones).
    """
    s = settings.size
    image = photo_crop(photos, s, rng)
    if plain:
        image = np.zeros_like(image)
    placed: List[PlacedDigit] = []
    for _ in range(rng.randint(settings.digits[0], settings.digits[1] + 1)):
        idx = pool[rng.randint(len(pool))]
        side = rng.randint(settings.digit_size[0], settings.digit_size[1] + 1)
        side = min(side, s)
        alpha = upscale_digit(digits[idx], side)
        ink = alpha > settings.stroke_threshold
        for _ in range(tries if max_overlap is not None else 1):
            y, x = rng.randint(s - side + 1), rng.randint(s - side + 1)
            box = footprint_box(ink, y, x)
            if max_overlap is None or box is None or all(
                    overlap_fraction(box, p.box()) <= max_overlap
                    for p in placed if p.box() is not None):
                break
        else:
            continue  # no free spot: leave this digit out
        patch = image[y:y + side, x:x + side]
        # A colour far from the patch's mean colour, so strokes stay visible.
        colour = rng.uniform(0, 255, 3).astype(np.float32)
        mean = patch.reshape(-1, 3).mean(0)
        if plain:
            colour = np.full(3, 255, np.float32)
        elif np.abs(colour - mean).mean() < 60:
            colour = np.where(mean > 127, colour * 0.3,
                              255 - 0.3 * (255 - colour)).astype(np.float32)
        a = np.clip(alpha * 1.3, 0, 1)[..., None]
        image[y:y + side, x:x + side] = (1 - a) * patch + a * colour
        placed.append(PlacedDigit(int(idx), int(targets[idx]), y, x, ink))
    if settings.noise:
        image = image + rng.normal(0, settings.noise, image.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8), placed


def label_map(settings: DigitSceneSettings,
              placed: List[PlacedDigit]) -> np.ndarray:
    """The segmentation label of a composed scene.

    Each digit's footprint dilated by ``label_dilation`` of its side, later
    digits over earlier ones.

    Returns:
        ``(S, S)`` uint8: 0 background, ``d + 1`` digit ``d``.
    """
    label = np.zeros((settings.size, settings.size), np.uint8)
    for p in placed:
        side = p.ink.shape[0]
        stroke = p.ink
        grow = 2 * int(side * settings.label_dilation) + 1
        if grow > 1:
            mask = Image.fromarray(stroke.astype(np.uint8) * 255)
            stroke = np.asarray(mask.filter(ImageFilter.MaxFilter(grow))) > 0
        label[p.y:p.y + side, p.x:p.x + side][stroke] = p.digit + 1
    return label


def render_scene(settings: DigitSceneSettings,
                 digits: np.ndarray,
                 targets: np.ndarray,
                 pool: np.ndarray,
                 photos: List[np.ndarray],
                 rng: np.random.RandomState,
                 plain: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """One segmentation scene from the digit images in ``pool``
    (:func:`compose_scene` and :func:`label_map`).

    Returns:
        ``(image, label)``: ``(S, S, 3)`` uint8 RGB and ``(S, S)`` uint8
        class indices (0 background, ``d + 1`` digit ``d``).
    """
    image, placed = compose_scene(settings, digits, targets, pool, photos, rng,
                                  plain)
    return image, label_map(settings, placed)


Composed = Tuple[str, str, np.ndarray, List[PlacedDigit]]


def iter_composed(settings: DigitSceneSettings,
                  max_overlap: Optional[float] = None) -> Iterator[Composed]:
    """Yield ``(split, name, image, placed)`` of every scene, in order.

    Train scenes draw digits from the training split of the digit images,
    val scenes from the disjoint val split; each split has its own random
    state seeded by ``settings.seed``. ``max_overlap``: see
    :func:`compose_scene`.
    """
    digits, targets, photos = load_sources()
    train_ids, val_ids = split_digits(
        len(digits), settings.val_fraction, settings.seed)
    for split, pool, count, offset in (('train', train_ids, settings.num_train,
                                        1), ('val', val_ids, settings.num_val,
                                             2)):
        rng = np.random.RandomState([settings.seed, offset])
        for i in range(count):
            image, placed = compose_scene(
                settings,
                digits,
                targets,
                pool,
                photos,
                rng,
                max_overlap=max_overlap)
            yield split, f'{split}_{i:05d}', image, placed


def iter_scenes(
    settings: DigitSceneSettings
) -> Iterator[Tuple[str, str, np.ndarray, np.ndarray]]:
    """Yield ``(split, name, image, label)`` of every segmentation scene."""
    for split, name, image, placed in iter_composed(settings):
        yield split, name, image, label_map(settings, placed)


def write_digit_scenes(root: str,
                       settings: DigitSceneSettings) -> Dict[str, int]:
    """Write the dataset in the VOC layout under ``root``.

    Args:
        root: The ``VOC2012``-like directory to create.
        settings: What to render.

    Returns:
        ``{'train': n, 'val': m}`` scene counts.
    """
    img_dir = osp.join(root, 'JPEGImages')
    ann_dir = osp.join(root, 'SegmentationClass')
    set_dir = osp.join(root, 'ImageSets', 'Segmentation')
    for d in (img_dir, ann_dir, set_dir):
        os.makedirs(d, exist_ok=True)
    palette = [v for rgb in DIGIT_SCENE_PALETTE for v in rgb]
    names: Dict[str, List[str]] = {'train': [], 'val': []}
    for split, name, image, label in iter_scenes(settings):
        Image.fromarray(image).save(
            osp.join(img_dir, name + '.jpg'), quality=95)
        png = Image.fromarray(label, mode='P')
        png.putpalette(palette)
        png.save(osp.join(ann_dir, name + '.png'))
        names[split].append(name)
    for split, items in names.items():
        with open(osp.join(set_dir, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(items) + '\n')
    return {k: len(v) for k, v in names.items()}


def digit_crops(settings: DigitSceneSettings,
                num: int,
                size: int = 32,
                seed: int = 0,
                plain_fraction: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """Single training-split digits for classification pretraining (the
    ImageNet-pretraining analogue): on photo crops, and white on black for
    ``plain_fraction`` of them (measured: from scratch, a narrow ResNet-18
    barely learns coloured digits on photos or on flat colours in a few
    hundred steps, and learns white-on-black ones at once; the mix
    bootstraps). Val digits never appear.

    Returns:
        ``(images, targets)``: ``(num, size, size, 3)`` uint8 and ``(num,)``.
    """
    digits, targets, photos = load_sources()
    train_ids, _ = split_digits(
        len(digits), settings.val_fraction, settings.seed)
    rng = np.random.RandomState([settings.seed, 3, seed])
    one = DigitSceneSettings(
        size=size,
        digits=(1, 1),
        digit_size=(int(size * 0.6), size),
        noise=settings.noise)
    images = np.zeros((num, size, size, 3), np.uint8)
    labels = np.zeros(num, np.int64)
    for i in range(num):
        image, label = render_scene(
            one,
            digits,
            targets,
            train_ids,
            photos,
            rng,
            plain=rng.rand() < plain_fraction)
        images[i] = image
        labels[i] = int(label.max()) - 1
    return images, labels
