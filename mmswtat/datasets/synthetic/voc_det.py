"""PASCAL VOC 2007 + 2012 detection (mmdet), synthetic."""
import math
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Sequence

from .drawing import make_styles
from .io import check_arguments, mkdirs, save_jpg, split_rng, write_lines
from .labels import VOC_CLASSES
from .scene import SceneObject, render_scene


def _voc_xml(folder: str, img_id: str, side: int,
             objects: Sequence[SceneObject]) -> bytes:
    """Build a VOC ``Annotations/<id>.xml`` document.

    Boxes are 1-based inclusive pixel indices like real VOC (mmdet subtracts
    one on load).
    """
    root = ET.Element('annotation')
    ET.SubElement(root, 'folder').text = folder
    ET.SubElement(root, 'filename').text = img_id + '.jpg'
    source = ET.SubElement(root, 'source')
    ET.SubElement(source, 'database').text = 'mmswtat synthetic'
    size = ET.SubElement(root, 'size')
    ET.SubElement(size, 'width').text = str(side)
    ET.SubElement(size, 'height').text = str(side)
    ET.SubElement(size, 'depth').text = '3'
    ET.SubElement(root, 'segmented').text = '0'
    for obj in objects:
        x0, y0, x1, y1 = obj.box
        node = ET.SubElement(root, 'object')
        ET.SubElement(node, 'name').text = VOC_CLASSES[obj.cls]
        ET.SubElement(node, 'pose').text = 'Unspecified'
        ET.SubElement(node, 'truncated').text = '0'
        ET.SubElement(node, 'difficult').text = '0'
        bnd = ET.SubElement(node, 'bndbox')
        ET.SubElement(bnd, 'xmin').text = str(max(1, int(math.floor(x0)) + 1))
        ET.SubElement(bnd, 'ymin').text = str(max(1, int(math.floor(y0)) + 1))
        ET.SubElement(bnd, 'xmax').text = str(min(side, int(math.ceil(x1))))
        ET.SubElement(bnd, 'ymax').text = str(min(side, int(math.ceil(y1))))
    ET.indent(root)
    return ET.tostring(root, encoding='utf-8')


def make_voc_det(out: str,
                 *,
                 num_train: int = 200,
                 num_val: int = 50,
                 size: int = 128,
                 seed: int = 0,
                 num_classes_used: int = 5,
                 max_objects: int = 3,
                 min_obj_size: int = 36) -> str:
    """PASCAL VOC 2007 + 2012 detection.

    Layout (``data_root = OUT/VOCdevkit/`` for mmdet's ``voc0712.py``)::

        VOC2007/JPEGImages/<6 digits>.jpg
        VOC2007/Annotations/<6 digits>.xml
        VOC2007/ImageSets/Main/trainval.txt, test.txt
        VOC2012/JPEGImages/20XX_<6 digits>.jpg
        VOC2012/Annotations/20XX_<6 digits>.xml
        VOC2012/ImageSets/Main/trainval.txt, test.txt

    ``num_train`` images are split between VOC2007 and VOC2012 trainval
    (2007 gets the extra one); each year gets ``num_val`` test images.
    ``voc0712.py`` sets ``bbox_min_size=32`` for training (smaller boxes are
    marked ignore), hence the larger default ``size`` and
    ``min_obj_size``.

    Args:
        out: Output directory; the dataset goes to ``OUT/VOCdevkit``.
        num_train: Trainval images of both years together.
        num_val: Test images of each year.
        size: Square image side in pixels (>= 16).
        seed: Seed of the per-split random streams (same seed, same bytes).
        num_classes_used: VOC classes that appear (the first N of 20).
        max_objects: At most this many objects per image (at least one).
        min_obj_size: Smallest box side; 36 keeps boxes above
            ``voc0712.py``'s ``bbox_min_size=32``.

    Returns:
        One-line summary.
    """
    check_arguments(size, num_train, num_val, num_classes_used, max_objects)
    n_cls = min(num_classes_used, len(VOC_CLASSES))
    styles = make_styles(n_cls)
    side = size
    min_side = min(min_obj_size, side - 4)
    max_side = max(min_side, side * 5 // 8)
    n07 = (num_train + 1) // 2
    plan = (('VOC2007', 'trainval', n07), ('VOC2007', 'test', num_val),
            ('VOC2012', 'trainval', num_train - n07), ('VOC2012', 'test',
                                                       num_val))
    next_07 = 1
    n_objs = 0
    for year, split, num in plan:
        root = osp.join(out, 'VOCdevkit', year)
        img_dir = osp.join(root, 'JPEGImages')
        xml_dir = osp.join(root, 'Annotations')
        set_dir = osp.join(root, 'ImageSets', 'Main')
        mkdirs(img_dir, xml_dir, set_dir)
        rng = split_rng(seed, f'voc-det/{year}/{split}')
        ids = []
        for i in range(num):
            if year == 'VOC2007':
                img_id = f'{next_07:06d}'
                next_07 += 1
            else:
                img_id = f'{2008 if split == "trainval" else 2009}_{i + 1:06d}'
            img, objs = render_scene(rng, side, styles, max_objects, min_side,
                                     max_side)
            save_jpg(img, osp.join(img_dir, img_id + '.jpg'))
            with open(osp.join(xml_dir, img_id + '.xml'), 'wb') as f:
                f.write(_voc_xml(year, img_id, side, objs))
            ids.append(img_id)
            n_objs += len(objs)
        write_lines(osp.join(set_dir, f'{split}.txt'), ids)
    root = osp.join(out, 'VOCdevkit')
    return (f'voc-det: VOC2007 {n07} trainval + {num_val} test, VOC2012 '
            f'{num_train - n07} trainval + {num_val} test images '
            f'{side}x{side} ({n_objs} objs), classes '
            f'{", ".join(VOC_CLASSES[:n_cls])} -> {root} '
            f'(mmdet data_root={root}/)')
