"""File writers and deterministic random streams shared by the formats."""
import os
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image


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


def check_arguments(size: int,
                    num_train: int,
                    num_val: int,
                    num_classes: int = 1,
                    max_objects: int = 1) -> None:
    """Reject sizes and counts the writers cannot honour.

    Args:
        size: Image side in pixels.
        num_train: Number of training images.
        num_val: Number of val/test images.
        num_classes: Number of (used) classes.
        max_objects: Maximum objects per image.

    Raises:
        ValueError: One of them is out of range (the message names it).
    """
    if size < 16:
        raise ValueError(f'size must be >= 16, got {size}')
    if num_train < 0 or num_val < 0:
        raise ValueError(f'num_train/num_val must be >= 0, got {num_train}/'
                         f'{num_val}')
    if num_classes < 1:
        raise ValueError(f'number of classes must be >= 1, got {num_classes}')
    if max_objects < 1:
        raise ValueError(f'max_objects must be >= 1, got {max_objects}')
