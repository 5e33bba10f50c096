"""COCO-Stuff 10k semantic segmentation (mmseg), synthetic."""
import os.path as osp
from typing import Dict, List

from .drawing import make_styles
from .io import (check_arguments, mkdirs, save_jpg, save_png_index, split_rng,
                 write_lines)
from .labels import COCOSTUFF_BACKGROUND
from .scene import boundary_band, render_scene, semantic_label


def make_cocostuff10k(out: str,
                      *,
                      num_train: int = 200,
                      num_val: int = 50,
                      size: int = 64,
                      seed: int = 0,
                      num_classes_used: int = 5,
                      max_objects: int = 3,
                      boundary: int = 1) -> str:
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
        out: Output directory; the dataset goes to ``OUT/coco_stuff10k``.
        num_train: Images in ``train2014``.
        num_val: Images in ``test2014`` (numbered after the training ones).
        size: Square image side in pixels (>= 16).
        seed: Seed of the per-split random streams (same seed, same bytes).
        num_classes_used: Thing classes 0..N-1 that appear (at most 80).
        max_objects: At most this many objects per image (at least one).
        boundary: Half width of the unlabeled (0) band around objects.

    Returns:
        One-line summary.
    """
    check_arguments(size, num_train, num_val, num_classes_used, max_objects)
    root = osp.join(out, 'coco_stuff10k')
    n_cls = min(num_classes_used, 80)
    styles = make_styles(n_cls)
    values = [k + 1 for k in range(n_cls)]
    side = size
    lists: Dict[str, List[str]] = {}
    start = 1
    for split, num in (('train', num_train), ('test', num_val)):
        img_dir = osp.join(root, 'images', f'{split}2014')
        ann_dir = osp.join(root, 'annotations', f'{split}2014')
        mkdirs(img_dir, ann_dir, osp.join(root, 'imageLists'))
        rng = split_rng(seed, 'cocostuff10k/' + split)
        lists[split] = []
        for i in range(num):
            name = f'COCO_train2014_{start + i:012d}'
            img, objs = render_scene(rng, side, styles, max_objects,
                                     max(6, side // 5), max(8, side // 2))
            label, inst = semantic_label(objs, side, values,
                                         COCOSTUFF_BACKGROUND + 1)
            label[boundary_band(inst, boundary)] = 0
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
