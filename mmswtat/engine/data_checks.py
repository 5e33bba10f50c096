"""Data mistakes found before training: empty datasets, misaligned pairs,
label values the model cannot take.

Without these checks an empty dataset fails inside numpy ("need at least
one array to concatenate"), images and labels of different sizes train
silently, then fail in mmseg's ``IoUMetric`` with an IndexError, a label
value past the class count fails in the loss at the first batch that holds
it (a raw ``IndexError`` naming no file), and 0/255 binary masks (objects
= the ignore index) train background only. :func:`check_dataset` runs on
every dataset that :class:`mmswtat.engine.DistillRunner` builds, before the
first step.
"""
import os
from typing import Any, Dict, List, Optional

import numpy as np
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


#: Dataset config keys that go into an mmseg dataset's metainfo (which
#: mmengine's ``ConcatDataset`` requires equal in every part).
_META_KEYS = ('type', 'metainfo', 'reduce_zero_label', 'ignore_index',
              'label_map')


def concat_metainfo_error(dataset_cfg: dict, role: str,
                          error: BaseException) -> ValueError:
    """mmengine's "The meta information of the 2-th dataset does not match
    ..." for a ``ConcatDataset``, naming the settings that differ between
    its parts (e.g. ``reduce_zero_label`` on one of them) and the fix."""
    parts = [
        c for c in dataset_cfg.get('datasets') or [] if isinstance(c, dict)
    ]
    diffs = []
    for key in _META_KEYS:
        values = [repr(c[key]) if key in c else 'not set' for c in parts]
        if len(set(values)) > 1:
            diffs.append(f'{key}: ' + ', '.join(f'datasets[{i}] {v}'
                                                for i, v in enumerate(values)))
    what = ('; '.join(diffs) if diffs else f'mmengine says: {error}')
    key = 'train_dataloader' if role == 'train' else 'val_dataloader'
    return ValueError(
        f'the {role} dataset concatenates datasets whose metainfo differs '
        f'(ConcatDataset needs the same classes and label settings in '
        f'every part): {what}. Set the same value in every one of '
        f'{key}.dataset.datasets')


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

    Segmentation datasets with ``metainfo['classes']`` also get their label
    values checked on an even sample of at most :data:`LABEL_SAMPLE` label
    maps each (:func:`_check_labels`); the log line says how many were read.

    Raises:
        ValueError: The dataset is empty (naming its data root and split),
            or the first image whose label map has another size (naming
            both files and sizes), or a sampled label map holds a value
            outside ``[0, num_classes)`` and not the ignore index (naming
            the file, the value and the class count).
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
    read = 0
    for base in _base_datasets(dataset):
        _check_pairs(base, role)
        read += _check_labels(base, role)
    print_log(
        f'checked the {role} dataset: {size} samples, images and '
        'labels of equal sizes' +
        (f'; the label values of {read} label maps (an even sample, at most '
         f'{LABEL_SAMPLE} per dataset) fit the classes' if read else ''),
        logger='current',
        level=20 if read else 10)


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


#: At most this many label maps of each dataset are read (evenly spread).
LABEL_SAMPLE = 20


def _as_loaded(values: np.ndarray, reduce_zero_label: bool,
               label_map: Optional[Dict[int, int]]) -> np.ndarray:
    """Label values as mmseg's ``LoadAnnotations`` turns them (uint8, then
    ``reduce_zero_label``: 0 -> 255, v -> v - 1; then ``label_map``)."""
    out = values.astype(np.uint8)
    if reduce_zero_label:
        out[out == 0] = 255
        out = out - 1
        out[out == 254] = 255
    if label_map:
        copy = out.copy()
        for old, new in label_map.items():
            out[copy == old] = new
    return out


def _read_label(path: str, where: str) -> np.ndarray:
    """The distinct values of a label map (as mmseg reads it: one channel).

    Raises:
        ValueError: A colour (RGB) label map, or values past 255 (a 16-bit
            file: mmseg keeps 8 bits).
    """
    from PIL import Image
    with Image.open(path) as img:
        mode = img.mode
        array = np.asarray(img)
    if array.ndim == 3:
        raise ValueError(
            f'{where} has the label map {path!r} in {mode} (colour) mode: a '
            'label map holds one class index per pixel (a P or L mode PNG), '
            'mmseg reads no colours. Convert it with the dataset\'s palette '
            '(each colour to its class index)')
    values = np.unique(array)
    if values.size and values.max() > 255:
        raise ValueError(
            f'{where} has the label map {path!r} with the value '
            f'{int(values.max())}: mmseg reads label maps as 8 bits '
            f'({int(values.max())} would become '
            f'{int(values.max()) % 256}). Save class indices 0..254 (255: '
            'ignore) as an 8-bit PNG')
    return values


def _reduce_zero_label(dataset: Any) -> bool:
    """``reduce_zero_label`` as mmseg applies it: the dataset's, unless its
    pipeline's ``LoadAnnotations`` sets its own."""
    value = bool(getattr(dataset, 'reduce_zero_label', False))
    for t in getattr(getattr(dataset, 'pipeline', None), 'transforms', ()):
        own = getattr(t, 'reduce_zero_label', None)
        if type(t).__name__ == 'LoadAnnotations' and own is not None:
            value = bool(own)
    return value


def check_splits_agree(train: Any, other: Any, role: str = 'val') -> None:
    """Refuse a val/test dataset that reads its labels with another
    ``reduce_zero_label`` than the training data: the model's class k would
    be scored against the split's class k - 1 (or k + 1), a wrong metric
    with no error. Called by :class:`mmswtat.engine.DistillRunner` once both
    loops are built.

    Raises:
        ValueError: Naming both datasets, both values and the fix.
    """
    if _empty_like(train) or _empty_like(other):
        return
    ours = {_reduce_zero_label(b) for b in _base_datasets(train)}
    theirs = {_reduce_zero_label(b) for b in _base_datasets(other)}
    if len(ours) == 1 and len(theirs) == 1 and ours != theirs:
        (a, ), (b, ) = ours, theirs
        raise ValueError(
            f'the train dataset ({_describe(_base_datasets(train)[0])}) '
            f'reads its label maps with reduce_zero_label={a}, but the '
            f'{role} dataset ({_describe(_base_datasets(other)[0])}) with '
            f'reduce_zero_label={b}: the {role} labels would be shifted by '
            f'one class against the ones the model learns, and the {role} '
            'metric would be wrong without any error. Set the same '
            'reduce_zero_label for every split (train_dataloader, '
            'val_dataloader and test_dataloader .dataset.reduce_zero_label)')


def _empty_like(dataset: Any) -> bool:
    return dataset is None or not hasattr(dataset, '__len__')


def _check_labels(dataset: Any, role: str) -> int:
    """Label values of an even sample of a segmentation dataset's maps.

    Values (as mmseg loads them: ``reduce_zero_label`` and ``label_map``
    applied) must be class indices ``[0, len(metainfo['classes']))`` or the
    dataset's ``ignore_index``. A sample that holds at most one class (e.g.
    0/255 binary masks: objects equal to the ignore index) is warned about.

    Returns:
        How many label maps were read (0: not a segmentation dataset with
        classes, or no local label maps).

    Raises:
        ValueError: The first sampled file with a value outside the classes
            (naming it, the value and the class count), a colour or a
            16-bit label map.
    """
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    info = getattr(dataset, 'get_data_info', None)
    if not classes or info is None:
        return 0
    try:
        size = len(dataset)
        if not isinstance(info(0), dict) or 'seg_map_path' not in info(0):
            return 0
    except Exception:  # noqa: BLE001  (a dataset without item infos)
        return 0
    num = len(classes)
    ignore = getattr(dataset, 'ignore_index', 255)
    reduce = _reduce_zero_label(dataset)
    where = f'the {role} dataset ({_describe(dataset)})'
    if reduce and str(classes[0]).strip('_').lower() in ('background', 'bg'):
        print_log(
            f'{where} reads its label maps with reduce_zero_label=True, but '
            f'class 0 of its classes is {classes[0]!r}: label 0 becomes the '
            f'ignore_index {ignore} and every other label moves down by '
            f'one, so {classes[0]!r} is learnt from the pixels of label 1 '
            'and every class name is off by one. reduce_zero_label is for '
            "label sets whose 0 means 'unlabelled' (ADE20K); for this one "
            'set reduce_zero_label=False',
            logger='current',
            level=30)
    seen = set()
    read: List[str] = []
    picks = np.linspace(0, size - 1, min(size, LABEL_SAMPLE))
    for i in sorted({int(round(x)) for x in picks}):
        item = info(i)
        path = item.get('seg_map_path')
        if not path or '://' in str(path) or not os.path.isfile(path):
            continue
        raw = _read_label(path, where)
        loaded = _as_loaded(raw, reduce, item.get('label_map'))
        bad = [(int(r), int(v)) for r, v in zip(raw, loaded)
               if v >= num and v != ignore]
        if bad:
            r, v = bad[0]
            as_read = (f' (the file\'s {r}, less 1 for reduce_zero_label)'
                       if r != v else '')
            raise ValueError(
                f'{where} has the label map {path!r} with the value '
                f'{v}{as_read}, outside the {num} classes [0, {num}) and '
                f'not the ignore_index {ignore} (values in it: '
                f'{sorted(int(x) for x in loaded)}): the loss would fail at '
                'the first batch with it (IndexError; a device-side assert '
                'on CUDA). Fix that file (class indices 0..'
                f'{num - 1}, {ignore} to ignore), or give the dataset the '
                'classes its labels use (metainfo=dict(classes=...), and '
                'num_classes of the model\'s heads)')
        seen.update(int(v) for v in loaded)
        read.append(path)
    found = sorted(v for v in seen if v < num and v != ignore)
    if read and len(found) <= 1:
        names = ', '.join(os.path.basename(p)
                          for p in read[:5]) + (f' ... (+{len(read) - 5} more)'
                                                if len(read) > 5 else '')
        what = (f'only class {found[0]} ({classes[found[0]]!r})'
                if found else 'no class at all')
        hint = ''
        if ignore in seen and (not found or found == [0]):
            hint = (f' Binary masks saved as 0/{ignore}? {ignore} is the '
                    f'ignore_index, so their objects are ignored: write the '
                    'objects as 1 (e.g. (mask > 0).astype(np.uint8)) for a '
                    '2-class set, or as their class index.')
        print_log(
            f'{where}: the {len(read)} label maps read (an even sample of at '
            f'most {LABEL_SAMPLE}: {names}) hold {what} besides the '
            f'ignore_index {ignore}: a model trained on them learns nothing '
            f'else.{hint}',
            logger='current',
            level=30)
    return len(read)
