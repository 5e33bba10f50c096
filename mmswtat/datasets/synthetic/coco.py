"""COCO 2017 detection / instance segmentation (mmdet), synthetic."""
import json
import os.path as osp

import numpy as np

from .drawing import make_styles
from .io import check_arguments, mkdirs, save_jpg, split_rng
from .labels import COCO_CATEGORIES
from .scene import render_scene


def _coco_header() -> dict:
    """Return the ``info``/``licenses`` blocks of a COCO json."""
    return {
        'info': {
            'description': 'mmswtat synthetic COCO-format data',
            'version': '1.0',
            'year': 2017,
            'contributor': 'tools/make_synthetic_data.py',
            'date_created': '2017/01/01'
        },
        'licenses': [{
            'id': 1,
            'name': 'synthetic',
            'url': ''
        }],
    }


def make_coco(out: str,
              *,
              num_train: int = 200,
              num_val: int = 50,
              size: int = 64,
              seed: int = 0,
              num_classes_used: int = 5,
              max_objects: int = 3) -> str:
    """COCO 2017 detection / instance segmentation.

    Layout (``data_root = OUT/coco/`` for mmdet's ``coco_detection.py`` and
    ``coco_instance.py``; also set ``val_evaluator.ann_file``)::

        train2017/<12-digit id>.jpg
        val2017/<12-digit id>.jpg
        annotations/instances_train2017.json
        annotations/instances_val2017.json

    The json files carry all 80 categories with the real COCO ids; objects
    use the first ``num_classes_used`` categories. Each annotation has a
    tight ``bbox`` [x, y, w, h] of its polygon ``segmentation`` [[x1, y1,
    ...]], the polygon ``area``, ``iscrowd`` 0. Objects never overlap.

    Args:
        out: Output directory; the dataset goes to ``OUT/coco``.
        num_train: Images of ``train2017`` (ids from 1).
        num_val: Images of ``val2017`` (ids after the training ones).
        size: Square image side in pixels (>= 16; the stock train datasets
            drop images below 32).
        seed: Seed of the per-split random streams (same seed, same bytes).
        num_classes_used: The first N of the 80 categories appear.
        max_objects: At most this many objects per image (at least one).

    Returns:
        One-line summary.
    """
    check_arguments(size, num_train, num_val, num_classes_used, max_objects)
    root = osp.join(out, 'coco')
    ann_dir = osp.join(root, 'annotations')
    mkdirs(ann_dir)
    n_cls = min(num_classes_used, len(COCO_CATEGORIES))
    styles = make_styles(n_cls)
    categories = [{
        'supercategory': sup,
        'id': cid,
        'name': name
    } for cid, name, sup in COCO_CATEGORIES]
    side = size
    img_id = 0
    ann_id = 0
    counts = {}
    for split, num in (('train', num_train), ('val', num_val)):
        img_dir = osp.join(root, f'{split}2017')
        mkdirs(img_dir)
        rng = split_rng(seed, 'coco/' + split)
        images, annotations = [], []
        for _ in range(num):
            img_id += 1
            file_name = f'{img_id:012d}.jpg'
            img, objs = render_scene(rng, side, styles, max_objects,
                                     max(8, side // 5), max(10, side * 5 // 8))
            save_jpg(img, osp.join(img_dir, file_name))
            images.append({
                'license': 1,
                'file_name': file_name,
                'height': side,
                'width': side,
                'id': img_id
            })
            for obj in objs:
                ann_id += 1
                x0, y0, x1, y1 = obj.box
                poly = obj.polygon
                xs, ys = poly[:, 0], poly[:, 1]
                cross = np.dot(xs, np.roll(ys, -1)) - np.dot(
                    ys, np.roll(xs, -1))
                area = round(0.5 * abs(float(cross)), 4)
                segm = [[round(float(v), 2) for v in poly.reshape(-1)]]
                bbox = [round(v, 2) for v in (x0, y0, x1 - x0, y1 - y0)]
                annotations.append(
                    dict(
                        segmentation=segm,
                        area=area,
                        iscrowd=0,
                        image_id=img_id,
                        bbox=bbox,
                        category_id=COCO_CATEGORIES[obj.cls][0],
                        id=ann_id))
        data = _coco_header()
        data.update(
            images=images, annotations=annotations, categories=categories)
        with open(
                osp.join(ann_dir, f'instances_{split}2017.json'),
                'w',
                encoding='utf-8') as f:
            json.dump(data, f)
        counts[split] = (len(images), len(annotations))
    names = ', '.join(c[1] for c in COCO_CATEGORIES[:n_cls])
    return (f'coco: {counts["train"][0]} train ({counts["train"][1]} objs) + '
            f'{counts["val"][0]} val ({counts["val"][1]} objs) images '
            f'{side}x{side}, categories {names} -> {root} '
            f'(mmdet data_root={root}/)')
