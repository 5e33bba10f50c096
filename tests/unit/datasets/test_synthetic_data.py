"""Tests for :mod:`mmswtat.datasets.synthetic` and its CLI
``tools/make_synthetic_data.py`` (the writers import no OpenMMLab package)."""
from __future__ import annotations
import hashlib
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from cli_helpers import run_tool
from PIL import Image

from mmswtat.datasets.synthetic import (FORMATS, make_coco, make_imagenet,
                                        make_voc, make_voc_det)

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / 'tools' / 'make_synthetic_data.py'

# yapf: disable
# Independent copies of the label spaces of the stock dataset classes.
MMDET_COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
    'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard',
    'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard',
    'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork',
    'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair',
    'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop',
    'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
    'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush')
COCO_IDS = (
    list(range(1, 12)) + list(range(13, 26)) + [27, 28] +
    list(range(31, 45)) + list(range(46, 66)) + [67, 70] +
    list(range(72, 83)) + list(range(84, 91)))
VOC_DET_CLASSES = (
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
    'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
# yapf: enable

SMALL = dict(num_train=6, num_val=3, size=32)


def run(fmt: str, out: Path, **options) -> str:
    """Write one format with the small settings; return its summary."""
    return FORMATS[fmt].writer(str(out), **dict(SMALL, **options))


def read_list(path: Path) -> List[str]:
    """Read a list file; it must end with a newline and have no blanks."""
    text = path.read_text()
    assert text.endswith('\n')
    lines = text.splitlines()
    assert all(line.strip() == line and line for line in lines)
    return lines


def tree_digest(root: Path) -> Dict[str, str]:
    """Map relative path -> sha1 of every file under ``root``."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = hashlib.sha1(
                p.read_bytes()).hexdigest()
    return out


def test_voc(tmp_path):
    summary = run('voc', tmp_path)
    assert str(tmp_path) in summary and '\n' not in summary
    root = tmp_path / 'VOCdevkit' / 'VOC2012'
    sets = root / 'ImageSets' / 'Segmentation'
    train = read_list(sets / 'train.txt')
    val = read_list(sets / 'val.txt')
    assert len(train) == 6 and len(val) == 3
    assert not set(train) & set(val)
    assert read_list(sets / 'aug.txt') == train
    jpgs = sorted(p.stem for p in (root / 'JPEGImages').glob('*.jpg'))
    assert jpgs == sorted(train + val)
    seen = set()
    for img_id in train + val:
        img = Image.open(root / 'JPEGImages' / f'{img_id}.jpg')
        assert img.format == 'JPEG' and img.mode == 'RGB'
        assert img.size == (32, 32)
        seg = Image.open(root / 'SegmentationClass' / f'{img_id}.png')
        assert seg.format == 'PNG' and seg.mode == 'P'
        pal = seg.getpalette()
        assert pal[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
        assert pal[255 * 3:256 * 3] == [224, 224, 192]
        lab = np.asarray(seg)
        assert lab.dtype == np.uint8 and lab.shape == (32, 32)
        vals = set(np.unique(lab).tolist())
        assert vals <= set(range(0, 6)) | {255}
        assert 255 in vals  # boundary band around objects
        aug = Image.open(root / 'SegmentationClassAug' / f'{img_id}.png')
        assert aug.mode == 'L'
        alab = np.asarray(aug)
        assert set(np.unique(alab).tolist()) <= set(range(0, 6))
        keep = lab != 255
        np.testing.assert_array_equal(alab[keep], lab[keep])
        seen |= vals - {0, 255}
    assert seen  # some object classes present


def test_cocostuff10k(tmp_path):
    summary = run('cocostuff10k', tmp_path)
    assert 'coco_stuff10k' in summary
    root = tmp_path / 'coco_stuff10k'
    lists = {
        s: read_list(root / 'imageLists' / f'{s}.txt')
        for s in ('train', 'test', 'all')
    }
    assert len(lists['train']) == 6 and len(lists['test']) == 3
    assert lists['all'] == lists['train'] + lists['test']
    for split in ('train', 'test'):
        img_dir = root / 'images' / f'{split}2014'
        ann_dir = root / 'annotations' / f'{split}2014'
        names = sorted(p.name[:-4] for p in img_dir.glob('*.jpg'))
        assert names == sorted(lists[split])
        anns = sorted(p.name for p in ann_dir.iterdir())
        assert anns == [n + '_labelTrainIds.png' for n in names]
        for name in names:
            assert name.startswith('COCO_train2014_')
            assert Image.open(img_dir / f'{name}.jpg').size == (32, 32)
            lab_img = Image.open(ann_dir / f'{name}_labelTrainIds.png')
            assert lab_img.mode == 'L'
            lab = np.asarray(lab_img)
            vals = set(np.unique(lab).tolist())
            # 0 = unlabeled (ignored after reduce_zero_label); 162 =
            # 'wall-other' + 1; 1..5 = the first five thing classes + 1.
            assert vals <= {0, 162, 1, 2, 3, 4, 5}
            assert 162 in vals and 0 in vals
            assert max(vals) <= 171


def test_coco(tmp_path):
    summary = run('coco', tmp_path)
    assert 'coco' in summary
    root = tmp_path / 'coco'
    all_img_ids, all_ann_ids = set(), set()
    for split in ('train', 'val'):
        data = json.loads(
            (root / 'annotations' / f'instances_{split}2017.json').read_text())
        assert {'info', 'licenses', 'images', 'annotations',
                'categories'} <= set(data)
        cats = data['categories']
        assert [c['id'] for c in cats] == COCO_IDS
        assert tuple(c['name'] for c in cats) == MMDET_COCO_CLASSES
        assert all(isinstance(c['supercategory'], str) for c in cats)
        images = {im['id']: im for im in data['images']}
        assert len(images) == len(
            data['images']) == (6 if split == 'train' else 3)
        assert not set(images) & all_img_ids
        all_img_ids |= set(images)
        files = sorted(p.name for p in (root / f'{split}2017').glob('*.jpg'))
        assert files == sorted(im['file_name'] for im in images.values())
        for im in images.values():
            with Image.open(root / f'{split}2017' / im['file_name']) as pil:
                assert pil.size == (im['width'], im['height']) == (32, 32)
        per_image = {i: 0 for i in images}
        for ann in data['annotations']:
            assert ann['id'] not in all_ann_ids
            all_ann_ids.add(ann['id'])
            assert ann['iscrowd'] == 0
            assert ann['category_id'] in COCO_IDS[:5]
            im = images[ann['image_id']]
            per_image[ann['image_id']] += 1
            x, y, w, h = ann['bbox']
            assert w >= 1 and h >= 1
            assert x >= 0 and y >= 0
            assert x + w <= im['width'] and y + h <= im['height']
            assert ann['area'] > 0 and ann['area'] <= w * h + 1e-6
            segm = ann['segmentation']
            assert isinstance(segm, list) and len(segm) == 1
            poly = np.asarray(segm[0], dtype=float).reshape(-1, 2)
            assert len(segm[0]) % 2 == 0 and len(poly) >= 3
            eps = 1e-6
            assert (poly[:, 0] >= x - eps).all()
            assert (poly[:, 0] <= x + w + eps).all()
            assert (poly[:, 1] >= y - eps).all()
            assert (poly[:, 1] <= y + h + eps).all()
            # bbox is tight around the polygon
            assert abs(poly[:, 0].min() - x) < 0.02
            assert abs(poly[:, 1].max() - (y + h)) < 0.02
        assert all(n >= 1 for n in per_image.values())


def test_voc_det(tmp_path):
    summary = make_voc_det(str(tmp_path), num_train=5, num_val=2, size=64)
    assert 'VOCdevkit' in summary
    n_train = {'VOC2007': 3, 'VOC2012': 2}
    for year in ('VOC2007', 'VOC2012'):
        root = tmp_path / 'VOCdevkit' / year
        ids = {
            s: read_list(root / 'ImageSets' / 'Main' / f'{s}.txt')
            for s in ('trainval', 'test')
        }
        assert len(ids['trainval']) == n_train[year]
        assert len(ids['test']) == 2
        assert not set(ids['trainval']) & set(ids['test'])
        all_ids = sorted(ids['trainval'] + ids['test'])
        assert sorted(p.stem for p in (root / 'JPEGImages').iterdir()) == \
            all_ids
        assert sorted(p.stem for p in (root / 'Annotations').iterdir()) == \
            all_ids
        for img_id in all_ids:
            with Image.open(root / 'JPEGImages' / f'{img_id}.jpg') as pil:
                assert pil.format == 'JPEG' and pil.size == (64, 64)
            tree = ET.parse(root / 'Annotations' / f'{img_id}.xml')
            ann = tree.getroot()
            assert ann.tag == 'annotation'
            assert ann.find('filename').text == f'{img_id}.jpg'
            size = ann.find('size')
            w = int(size.find('width').text)
            h = int(size.find('height').text)
            assert (w, h) == (64, 64)
            objs = ann.findall('object')
            assert objs
            for obj in objs:
                assert obj.find('name').text in VOC_DET_CLASSES[:5]
                assert int(obj.find('difficult').text) == 0
                bb = obj.find('bndbox')
                x1, y1, x2, y2 = (
                    int(bb.find(k).text)
                    for k in ('xmin', 'ymin', 'xmax', 'ymax'))
                assert 1 <= x1 < x2 <= w and 1 <= y1 < y2 <= h
                # survives voc0712.py's bbox_min_size=32 (mmdet subtracts 1)
                assert x2 - x1 >= 32 and y2 - y1 >= 32


def test_imagenet(tmp_path):
    summary = make_imagenet(
        str(tmp_path), num_train=12, num_val=6, size=32, num_classes=3)
    assert 'imagenet' in summary
    root = tmp_path / 'imagenet'
    wnids = read_list(root / 'meta' / 'classes.txt')
    assert len(wnids) == 3
    assert all(w.startswith('n') and len(w) == 9 for w in wnids)
    for split, num in (('train', 12), ('val', 6)):
        lines = read_list(root / 'meta' / f'{split}.txt')
        assert len(lines) == num
        labels = []
        listed = set()
        for line in lines:
            rel, label = line.rsplit(' ', 1)
            label = int(label)
            assert 0 <= label < 3
            labels.append(label)
            path = root / split / rel
            assert path.suffix == '.JPEG' and path.is_file()
            listed.add(str(path.relative_to(root / split)))
            if split == 'train':
                assert rel.split('/')[0] == wnids[label]
                assert rel.split('/')[1].startswith(wnids[label] + '_')
            else:
                assert '/' not in rel and rel.startswith('ILSVRC2012_val_')
            with Image.open(path) as pil:
                assert pil.size == (32, 32) and pil.mode == 'RGB'
        on_disk = {
            str(p.relative_to(root / split))
            for p in (root / split).rglob('*.JPEG')
        }
        assert on_disk == listed
        assert np.bincount(labels).tolist() == [num // 3] * 3


def test_imagenet_is_learnable(tmp_path):
    """A nearest-mean-colour classifier already separates the classes."""
    make_imagenet(
        str(tmp_path), num_train=50, num_val=20, size=32, num_classes=5)
    root = tmp_path / 'imagenet'

    def feats(split):
        xs, ys = [], []
        for line in read_list(root / 'meta' / f'{split}.txt'):
            rel, label = line.rsplit(' ', 1)
            img = np.asarray(Image.open(root / split / rel), dtype=float)
            sat = img.max(-1) - img.min(-1)
            fg = img[sat > 60]  # saturated pixels = the object
            xs.append(fg.mean(0))
            ys.append(int(label))
        return np.stack(xs), np.asarray(ys)

    xtr, ytr = feats('train')
    xva, yva = feats('val')
    means = np.stack([xtr[ytr == k].mean(0) for k in range(5)])
    pred = np.argmin(((xva[:, None] - means[None])**2).sum(-1), 1)
    assert (pred == yva).mean() >= 0.9


@pytest.mark.parametrize(
    'fmt', ['voc', 'cocostuff10k', 'coco', 'voc-det', 'imagenet'])
def test_same_seed_same_bytes(tmp_path, fmt):
    write = FORMATS[fmt].writer
    for name, seed in (('a', 7), ('b', 7), ('c', 8)):
        write(str(tmp_path / name), num_train=3, num_val=2, size=48, seed=seed)
    a = tree_digest(tmp_path / 'a')
    b = tree_digest(tmp_path / 'b')
    c = tree_digest(tmp_path / 'c')
    assert a and a == b
    assert set(a) == set(c) and a != c


def test_val_independent_of_train_count(tmp_path):
    make_voc(str(tmp_path / 'a'), **SMALL)
    make_voc(str(tmp_path / 'b'), num_train=2, num_val=3, size=32)
    va = tmp_path / 'a' / 'VOCdevkit' / 'VOC2012' / 'JPEGImages'
    vb = tmp_path / 'b' / 'VOCdevkit' / 'VOC2012' / 'JPEGImages'
    for name in ('2011_000001.jpg', '2011_000003.jpg'):
        assert (va / name).read_bytes() == (vb / name).read_bytes()


def test_cli_subprocess(tmp_path):
    res = run_tool([
        str(SCRIPT), 'coco', '--out',
        str(tmp_path), '--num-train', '2', '--num-val', '1'
    ])
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('coco:')
    assert osp.isfile(tmp_path / 'coco' / 'annotations' /
                      'instances_val2017.json')
    help_text = run_tool([str(SCRIPT), '--help']).stdout
    for fmt in ('voc', 'cocostuff10k', 'coco', 'voc-det', 'imagenet'):
        assert fmt in help_text


@pytest.mark.parametrize(('options', 'words'), [
    (dict(size=8), 'size must be >= 16'),
    (dict(num_val=-1), 'num_train/num_val must be >= 0'),
    (dict(num_classes_used=0), 'number of classes must be >= 1'),
    (dict(max_objects=0), 'max_objects must be >= 1'),
])
def test_out_of_range_arguments_are_rejected(tmp_path, options, words):
    with pytest.raises(ValueError, match=words):
        make_coco(str(tmp_path), **options)
    assert not any(tmp_path.iterdir())  # rejected before writing anything


def test_cli_reports_a_bad_size_without_a_traceback(tmp_path):
    res = run_tool([str(SCRIPT), 'voc', '--out',
                    str(tmp_path), '--size', '8'],
                   check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == 'size must be >= 16, got 8'


def test_cli_writes_into_a_filled_folder_only_with_force(tmp_path):
    """Other formats' folders beside it are fine; its own, filled, needs
    --force (voc-det would replace voc's VOCdevkit/VOC2012 images)."""
    from cli_helpers import load_tool
    tool = load_tool('tools/make_synthetic_data.py')
    small = ['--out', str(tmp_path), '--num-train', '1', '--num-val', '1']
    tool.main(['voc', *small])
    tool.main(['imagenet', *small])
    folder = str(tmp_path / 'VOCdevkit' / 'VOC2012')
    for fmt in ('voc', 'voc-det'):
        with pytest.raises(SystemExit) as err:
            tool.main([fmt, *small])
        assert str(err.value) == (
            f'tools/make_synthetic_data.py: --out {folder!r} already holds '
            'files that this run may replace; give an empty or new folder, '
            'or --force to write into it'), fmt
    assert not osp.exists(tmp_path / 'VOCdevkit' / 'VOC2007')
    tool.main(['voc-det', *small, '--force'])
    assert osp.isdir(tmp_path / 'VOCdevkit' / 'VOC2007')


def test_no_openmmlab_imports():
    package = REPO / 'mmswtat' / 'datasets' / 'synthetic'
    sources = [SCRIPT, *sorted(package.glob('*.py'))]
    assert len(sources) > 5
    for path in sources:
        src = path.read_text()
        for name in ('mmcv', 'mmengine', 'mmseg', 'mmdet', 'mmpretrain'):
            assert f'import {name}' not in src, path
            assert f'from {name}' not in src, path
