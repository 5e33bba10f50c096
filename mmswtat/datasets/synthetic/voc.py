"""PASCAL VOC 2012 semantic segmentation (mmseg), synthetic."""
import os.path as osp
from typing import Dict, List

from .drawing import make_styles
from .io import (check_arguments, mkdirs, save_jpg, save_png_index, split_rng,
                 voc_palette, write_lines)
from .labels import VOC_CLASSES
from .scene import boundary_band, render_scene, semantic_label


def make_voc(out: str,
             *,
             num_train: int = 200,
             num_val: int = 50,
             size: int = 64,
             seed: int = 0,
             num_classes_used: int = 5,
             max_objects: int = 3,
             boundary: int = 1) -> str:
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
        out: Output directory; the dataset goes to ``OUT/VOCdevkit/VOC2012``.
        num_train: Images of ``train.txt`` (ids ``2010_*``).
        num_val: Images of ``val.txt`` (ids ``2011_*``).
        size: Square image side in pixels (>= 16).
        seed: Seed of the per-split random streams (same seed, same bytes).
        num_classes_used: VOC classes 1..N that appear (at most 20).
        max_objects: At most this many objects per image (at least one).
        boundary: Half width of the 255 band around objects (0 = none).

    Returns:
        One-line summary.
    """
    check_arguments(size, num_train, num_val, num_classes_used, max_objects)
    root = osp.join(out, 'VOCdevkit', 'VOC2012')
    img_dir = osp.join(root, 'JPEGImages')
    cls_dir = osp.join(root, 'SegmentationClass')
    aug_dir = osp.join(root, 'SegmentationClassAug')
    set_dir = osp.join(root, 'ImageSets', 'Segmentation')
    mkdirs(img_dir, cls_dir, aug_dir, set_dir)
    n_cls = min(num_classes_used, len(VOC_CLASSES))
    styles = make_styles(n_cls)
    values = list(range(1, n_cls + 1))
    palette = voc_palette()
    side = size
    ids: Dict[str, List[str]] = {}
    for split, num, year in (('train', num_train, 2010), ('val', num_val,
                                                          2011)):
        rng = split_rng(seed, 'voc/' + split)
        ids[split] = []
        for i in range(num):
            img_id = f'{year}_{i + 1:06d}'
            img, objs = render_scene(rng, side, styles, max_objects,
                                     max(6, side // 5), max(8, side // 2))
            label, inst = semantic_label(objs, side, values, 0)
            save_jpg(img, osp.join(img_dir, img_id + '.jpg'))
            save_png_index(label, osp.join(aug_dir, img_id + '.png'))
            label[boundary_band(inst, boundary)] = 255
            save_png_index(label, osp.join(cls_dir, img_id + '.png'), palette)
            ids[split].append(img_id)
    write_lines(osp.join(set_dir, 'train.txt'), ids['train'])
    write_lines(osp.join(set_dir, 'val.txt'), ids['val'])
    write_lines(osp.join(set_dir, 'aug.txt'), ids['train'])
    return (f'voc: {len(ids["train"])} train + {len(ids["val"])} val images '
            f'{side}x{side}, classes 1..{n_cls} '
            f'({", ".join(VOC_CLASSES[:n_cls])}) -> {root} '
            f'(mmseg data_root={root})')
