"""Data mistakes found before training: empty datasets, misaligned pairs.

Without these checks an empty dataset fails inside numpy ("need at least
one array to concatenate") and images and labels of different sizes train
silently, then fail in mmseg's ``IoUMetric`` with an IndexError.
:func:`check_dataset` runs on every dataset that
:class:`mmswtat.engine.DistillRunner` builds, before the first step.
"""
from typing import Any, Optional

from mmengine.logging import print_log


def _describe(dataset: Any) -> str:
    """``data_root``, split (``ann_file``) and ``data_prefix`` of a dataset."""
    parts = []
    for attr in ('data_root', 'ann_file', 'data_prefix'):
        value = getattr(dataset, attr, None)
        if value:
            parts.append(f'{attr}={value!r}')
    return ', '.join(parts) or type(dataset).__name__


def _image_size(path: str) -> Optional[tuple]:
    """``(width, height)`` from the file header, or ``None`` if unreadable."""
    try:
        from PIL import Image
        with Image.open(path) as img:
            return img.size
    except Exception:  # noqa: BLE001  (not local, not an image: mmcv decides)
        return None


def check_dataset(dataset: Any, role: str = 'train') -> None:
    """Refuse an empty dataset or image/label pairs of different sizes.

    Args:
        dataset: A built dataset (an mmengine ``BaseDataset`` or anything
            with ``__len__``; segmentation items with ``img_path`` and
            ``seg_map_path`` get the size check).
        role: ``'train'``, ``'val'`` or ``'test'`` (messages).

    Raises:
        ValueError: The dataset is empty (naming its data root and split),
            or the first image whose label map has another size (naming
            both files and sizes).
    """
    try:
        size = len(dataset)
    except TypeError:  # an iterable dataset: nothing to count
        return
    if size == 0:
        raise ValueError(
            f'the {role} dataset ({type(dataset).__name__}: '
            f'{_describe(dataset)}) is empty: no sample was found. Check '
            f'{role}_dataloader.dataset.data_root, its ann_file (the split '
            'list) and data_prefix, and that the files exist there')
    data_list = getattr(dataset, 'data_list', None)
    if not isinstance(data_list, list) or not data_list or not isinstance(
            data_list[0], dict) or 'seg_map_path' not in data_list[0]:
        return
    for item in data_list:
        img, seg = item.get('img_path'), item.get('seg_map_path')
        if not img or not seg:
            continue
        a, b = _image_size(img), _image_size(seg)
        if a is None or b is None:
            continue
        if a != b:
            raise ValueError(
                f'the {role} dataset ({_describe(dataset)}) pairs images '
                f'and labels of different sizes: the first is {img!r} '
                f'({a[0]}x{a[1]}) with {seg!r} ({b[0]}x{b[1]}, width x '
                'height). Every label map must have its image\'s size; '
                'fix or remove that pair (and check the others)')
    print_log(f'checked the {role} dataset: {size} samples, images and '
              'labels of equal sizes', logger='current', level=10)
