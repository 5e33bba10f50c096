"""ImageNet-1k classification (mmpretrain), synthetic."""
import os.path as osp
from typing import Dict, List

from .drawing import make_styles
from .io import check_arguments, mkdirs, save_jpg, split_rng, write_lines
from .scene import render_scene


def make_imagenet(out: str,
                  *,
                  num_train: int = 200,
                  num_val: int = 50,
                  size: int = 64,
                  seed: int = 0,
                  num_classes: int = 10) -> str:
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
        out: Output directory; the dataset goes to ``OUT/imagenet``.
        num_train: Training images, balanced over the classes.
        num_val: Validation images, balanced over the classes.
        size: Square image side in pixels (>= 16).
        seed: Seed of the per-split random streams (same seed, same bytes).
        num_classes: Classes (wnids ``n00000000``...), labels 0..N-1.

    Returns:
        One-line summary.
    """
    check_arguments(size, num_train, num_val, num_classes)
    root = osp.join(out, 'imagenet')
    meta_dir = osp.join(root, 'meta')
    val_dir = osp.join(root, 'val')
    mkdirs(meta_dir, val_dir)
    n_cls = num_classes
    styles = make_styles(n_cls)
    wnids = [f'n{k:08d}' for k in range(n_cls)]
    side = size
    lines: Dict[str, List[str]] = {'train': [], 'val': []}
    for split, num in (('train', num_train), ('val', num_val)):
        rng = split_rng(seed, 'imagenet/' + split)
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
