"""Drawing primitives: class styles, clutter backgrounds, textured shapes."""
import math
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from PIL import Image, ImageDraw

SHAPES: Tuple[str, ...] = ('rectangle', 'ellipse', 'triangle', 'diamond')


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
