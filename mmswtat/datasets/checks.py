"""Data mistakes found before training: empty datasets, misaligned pairs.

Without these checks an empty dataset fails inside numpy ("need at least
one array to concatenate") and images and labels of different sizes train
silently, then fail in mmseg's ``IoUMetric`` with an IndexError.
:func:`check_dataset` runs on every dataset that
:class:`mmswtat.engine.DistillRunner` builds, before the first step.
"""
import os
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


def _empty(where: str, role: str) -> ValueError:
    key = ('train_dataloader'
           if role == 'train' else 'val_dataloader / test_dataloader')
    return ValueError(
        f'the {role} dataset ({where}) is empty: no sample was found. '
        f'Check {key}.dataset: its data_root, ann_file (the split list) '
        'and data_prefix, and that the files exist there')


def _describe_cfg(cfg: dict) -> str:
    """``Type: data_root=..., ann_file=...`` of a dataset config (wrappers
    unwrapped)."""
    if isinstance(cfg.get('datasets'), (list, tuple)):
        return '; '.join(
            _describe_cfg(c) for c in cfg['datasets'] if isinstance(c, dict))
    if isinstance(cfg.get('dataset'), dict):
        return _describe_cfg(cfg['dataset'])
    keys = ('data_root', 'ann_file', 'data_prefix')
    parts = [f'{k}={cfg[k]!r}' for k in keys if cfg.get(k)]
    return f'{cfg.get("type", "dataset")}: ' + ', '.join(parts)


def dataset_build_error(dataset_cfg: dict, role: str,
                        error: BaseException) -> FileNotFoundError:
    """A dataset that cannot be built (e.g. its split file does not exist),
    naming the dataset config and the keys to check."""
    key = ('train_dataloader'
           if role == 'train' else 'val_dataloader / test_dataloader')
    return FileNotFoundError(
        f'the {role} dataset ({_describe_cfg(dataset_cfg)}) cannot be read: '
        f'{error or type(error).__name__}. Check {key}.dataset: its '
        'data_root, ann_file (the split list) and data_prefix')


def empty_dataset_error(dataset_cfg: dict, role: str = 'train') -> ValueError:
    """The empty-dataset error for a dataset config whose build failed.

    mmengine's ``BaseDataset`` serialises its sample list at build time and
    fails on an empty one with numpy's "need at least one array to
    concatenate"; this names the config's data root and split instead.
    """
    return _empty(_describe_cfg(dataset_cfg), role)


def _image_size(path: str) -> Optional[tuple]:
    """``(width, height)`` from the file header, or ``None`` if the file is
    not local (mmcv's file backends decide).

    Raises:
        ValueError: A local file that is not an image (e.g. a truncated
            download or a text file).
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as img:
            return img.size
    except UnidentifiedImageError:
        raise ValueError(f'{path!r}, which is not an image (an empty, '
                         'truncated or text file?); replace it or remove its '
                         'pair from the split list') from None
    except Exception:  # noqa: BLE001  (not local: mmcv decides)
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
        FileNotFoundError: The first listed image or label map that does
            not exist.
    """
    try:
        size = len(dataset)
    except TypeError:  # an iterable dataset: nothing to count
        return
    if size == 0:
        raise _empty(
            '; '.join(f'{type(b).__name__}: {_describe(b)}'
                      for b in _base_datasets(dataset)), role)
    for base in _base_datasets(dataset):
        _check_pairs(base, role)
    print_log(
        f'checked the {role} dataset: {size} samples, images and '
        'labels of equal sizes',
        logger='current',
        level=10)


def _base_datasets(dataset: Any) -> list:
    """The datasets inside Repeat/ClassBalanced/Concat wrappers (each once).
    """
    if isinstance(getattr(dataset, 'datasets', None), (list, tuple)):
        return [b for d in dataset.datasets for b in _base_datasets(d)]
    inner = getattr(dataset, 'dataset', None)
    if inner is not None and hasattr(inner, '__len__'):
        return _base_datasets(inner)
    return [dataset]


def _check_pairs(dataset: Any, role: str) -> None:
    """The first image/label pair of different sizes of one dataset."""
    info = getattr(dataset, 'get_data_info', None)
    if info is None:  # not an mmengine dataset
        info = (getattr(dataset, 'data_list', None) or []).__getitem__
    try:
        size = len(dataset)
        first = info(0)
    except Exception:  # noqa: BLE001  (a dataset without item infos)
        return
    if not isinstance(first, dict) or 'seg_map_path' not in first:
        return
    for i in range(size):
        item = info(i)
        img, seg = item.get('img_path'), item.get('seg_map_path')
        if not img or not seg:
            continue
        if os.path.abspath(img) == os.path.abspath(seg):
            raise ValueError(
                f'the {role} dataset ({_describe(dataset)}) uses the image '
                f'{img!r} as its own label map; check data_prefix '
                '(seg_map_path) and img_suffix / seg_map_suffix')
        for what, path in (('image', img), ('label map', seg)):
            if '://' not in str(path) and not os.path.exists(path):
                raise FileNotFoundError(
                    f'the {role} dataset ({_describe(dataset)}) lists '
                    f'{what} {path!r}, which does not exist (the first '
                    'missing file); check data_prefix and the split list')
        try:
            a, b = _image_size(img), _image_size(seg)
        except ValueError as e:
            raise ValueError(f'the {role} dataset ({_describe(dataset)}) '
                             f'lists {e}') from None
        if a is None or b is None:
            continue
        if a != b:
            raise ValueError(
                f'the {role} dataset ({_describe(dataset)}) pairs images '
                f'and labels of different sizes: the first is {img!r} '
                f'({a[0]}x{a[1]}) with {seg!r} ({b[0]}x{b[1]}, width x '
                'height). Every label map must have its image\'s size; '
                'fix or remove that pair (and check the others)')
