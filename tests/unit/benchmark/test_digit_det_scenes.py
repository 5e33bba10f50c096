"""Digit detection scenes: footprint boxes, determinism, disjoint splits,
mmdet's CocoDataset and CocoMetric on the written files, and the FPN-level
warning."""
import filecmp
import json
import os
import os.path as osp
import warnings

import numpy as np
import pytest

from mmswtat.benchmark.data.digit_det_scenes import (DIGIT_DET_CLASSES,
                                                     DigitDetSettings,
                                                     FpnLevels, assign_levels,
                                                     warn_empty_levels,
                                                     write_digit_detection)
from mmswtat.benchmark.data.digit_scenes import (DigitSceneSettings,
                                                 iter_composed, load_sources,
                                                 split_digits, upscale_digit)

TINY = DigitDetSettings(num_train=12, num_val=6, seed=5)
#: P3..P5 with anchors 2x the stride: the defaults reach all three.
THREE = FpnLevels(strides=(8, 16, 32), anchor_scale=2)


def loop_box(ink, y, x):
    """Tight box of the ink, one pixel at a time (x1, y1 exclusive)."""
    ys = [
        y + i for i in range(ink.shape[0]) for j in range(ink.shape[1])
        if ink[i, j]
    ]
    xs = [
        x + j for i in range(ink.shape[0]) for j in range(ink.shape[1])
        if ink[i, j]
    ]
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def covered(a, b):
    """Intersection over the smaller box's area, from pixel sets."""
    pa = {(i, j) for i in range(a[1], a[3]) for j in range(a[0], a[2])}
    pb = {(i, j) for i in range(b[1], b[3]) for j in range(b[0], b[2])}
    return len(pa & pb) / min(len(pa), len(pb))


def write(tmp_path, settings=TINY, name='data'):
    root = str(tmp_path / name)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        counts = write_digit_detection(root, settings, THREE)
    return root, counts


def load(root, split):
    with open(osp.join(root, 'annotations', f'{split}.json')) as f:
        return json.load(f)


def test_boxes_are_the_footprints_and_overlap_little():
    digits, _, _ = load_sources()
    scenes = list(iter_composed(TINY, max_overlap=TINY.max_overlap))
    assert len(scenes) == 18
    for _, _, image, placed in scenes:
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        assert 1 <= len(placed) <= 5
        boxes = []
        for p in placed:
            side = p.ink.shape[0]
            assert 16 <= side <= 64 and 0 <= p.y <= 128 - side
            # The footprint is the digit's upscaled ink above the threshold.
            want = upscale_digit(digits[p.source], side) > 0.35
            assert np.array_equal(p.ink, want)
            assert p.box() == loop_box(p.ink, p.y, p.x)
            boxes.append(p.box())
        for i in range(len(boxes)):
            for j in range(i):
                assert covered(boxes[i], boxes[j]) <= TINY.max_overlap


def test_written_annotations_match_the_scenes(tmp_path):
    root, counts = write(tmp_path)
    scenes = list(iter_composed(TINY, max_overlap=TINY.max_overlap))
    for split in ('train', 'val'):
        coco = load(root, split)
        mine = [s for s in scenes if s[0] == split]
        assert counts[split] == len(coco['images']) == len(mine)
        assert counts[f'{split}_boxes'] == len(coco['annotations'])
        assert [c['name']
                for c in coco['categories']] == list(DIGIT_DET_CLASSES)
        by_image = {}
        for ann in coco['annotations']:
            by_image.setdefault(ann['image_id'], []).append(ann)
        for img, (_, name, image, placed) in zip(coco['images'], mine):
            assert img['file_name'] == name + '.jpg'
            assert (img['width'], img['height']) == (128, 128)
            anns = by_image[img['id']]
            assert len(anns) == len(placed)
            for ann, p in zip(anns, placed):
                x0, y0, x1, y1 = loop_box(p.ink, p.y, p.x)
                assert ann['bbox'] == [x0, y0, x1 - x0, y1 - y0]
                assert ann['area'] == (x1 - x0) * (y1 - y0)
                assert ann['category_id'] == p.digit + 1
                assert ann['iscrowd'] == 0
            assert osp.isfile(osp.join(root, 'images', name + '.jpg'))


def test_deterministic_for_a_seed(tmp_path):
    a, _ = write(tmp_path, name='a')
    b, _ = write(tmp_path, name='b')
    c, _ = write(
        tmp_path, DigitDetSettings(num_train=12, num_val=6, seed=6), name='c')
    files = sorted(os.listdir(osp.join(a, 'images')))
    assert len(files) == 18
    for sub, names in (('images', files), ('annotations',
                                           ['train.json', 'val.json'])):
        match, mismatch, errors = filecmp.cmpfiles(
            osp.join(a, sub), osp.join(b, sub), names, shallow=False)
        assert match == names and not mismatch and not errors
    assert load(a, 'train') != load(c, 'train')


def test_train_and_val_use_disjoint_digit_images():
    settings = DigitDetSettings(num_train=40, num_val=20, seed=2)
    used = {'train': set(), 'val': set()}
    for split, _, _, placed in iter_composed(settings, 0.3):
        used[split].update(p.source for p in placed)
    assert used['train'] and used['val']
    assert not used['train'] & used['val']
    train_ids, val_ids = split_digits(1797, settings.val_fraction, 2)
    assert used['train'] <= set(train_ids.tolist())
    assert used['val'] <= set(val_ids.tolist())


def test_segmentation_scenes_ignore_the_overlap_limit():
    """The shared composition redraws positions only when asked: the
    segmentation scenes' digits may overlap freely."""
    seg = DigitSceneSettings(
        num_train=30, num_val=0, size=64, digits=(3, 3), digit_size=(40, 44))
    placed = [p for _, _, _, ps in iter_composed(seg) for p in ps]
    assert len(placed) == 90  # never dropped
    worst = max(
        covered(a.box(), b.box()) for _, _, _, ps in iter_composed(seg)
        for i, a in enumerate(ps) for b in ps[:i])
    assert worst > 0.3


def test_level_assignment_and_warning():
    # anchors 16, 32, 64 px; boundaries at 16*sqrt(2) and 32*sqrt(2).
    assert assign_levels([11, 16, 22.6, 22.7, 32, 45.2, 45.3, 200],
                         THREE).tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        empty = warn_empty_levels([12, 20, 50], THREE, 'here')
    assert empty == ['P4']
    assert len(seen) == 1
    message = str(seen[0].message)
    assert 'FPN level P4 (stride 16, anchors ~32 px)' in message
    assert message.startswith('here:') and '12-50 px' in message


def test_writer_warns_for_a_level_without_objects(tmp_path):
    # 16-24 px digits: boxes of 13-21 px, all of P3's size.
    with pytest.warns(UserWarning, match='FPN level P. .* no object') as seen:
        write_digit_detection(
            str(tmp_path / 'small'),
            DigitDetSettings(num_train=6, num_val=2, digit_size=(16, 24)),
            THREE)
    assert sorted(str(w.message).split('FPN level ')[1][:2]
                  for w in seen) == ['P4', 'P5']
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        write_digit_detection(str(tmp_path / 'ok'), TINY, THREE)


# ------------------------------------------------------------ mmdet side
@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root, _ = write(tmp_path_factory.mktemp('det'))
    return root


def test_coco_dataset_reads_the_boxes(coco_root):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope

    from mmswtat.benchmark.accuracy.det_configs import (det_dataset,
                                                        det_pipelines)
    init_default_scope('mmdet')
    for split, count in (('train', 12), ('val', 6)):
        pipeline = det_pipelines(128)['train' if split == 'train' else 'test']
        ds = DATASETS.build(det_dataset(coco_root, split, pipeline))
        assert len(ds) == count
        assert ds.metainfo['classes'] == DIGIT_DET_CLASSES
        coco = load(coco_root, split)
        for i in (0, count - 1):
            info = ds.get_data_info(i)
            anns = [
                a for a in coco['annotations']
                if a['image_id'] == info['img_id']
            ]
            got = sorted((tuple(inst['bbox']), inst['bbox_label'])
                         for inst in info['instances'])
            want = sorted(((x, y, x + w, y + h), a['category_id'] - 1)
                          for a in anns for x, y, w, h in [a['bbox']])
            assert got == want
            sample = ds[i]['data_samples']
            assert sample.gt_instances.bboxes.shape[0] == len(anns)


def _score(root, shift=0.0):
    """CocoMetric on the val split with the ground truth as predictions
    (boxes shifted by ``shift`` pixels)."""
    import torch
    from mmdet.evaluation import CocoMetric
    coco = load(root, 'val')
    metric = CocoMetric(
        ann_file=osp.join(root, 'annotations', 'val.json'), metric='bbox')
    metric.dataset_meta = dict(classes=DIGIT_DET_CLASSES)
    samples = []
    for img in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == img['id']]
        boxes = torch.tensor([[x + shift, y, x + w + shift, y + h]
                              for x, y, w, h in (a['bbox'] for a in anns)],
                             dtype=torch.float32)
        samples.append(
            dict(
                img_id=img['id'],
                ori_shape=(128, 128),
                pred_instances=dict(
                    bboxes=boxes,
                    scores=torch.ones(len(anns)),
                    labels=torch.tensor([a['category_id'] - 1
                                         for a in anns]))))
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_coco_metric_scores_the_ground_truth_one(coco_root):
    perfect = _score(coco_root)
    assert perfect['bbox_mAP'] == pytest.approx(1.0)
    assert perfect['bbox_mAP_50'] == pytest.approx(1.0)
    # Boxes shifted by a quarter of the smallest box: no longer perfect.
    assert _score(coco_root, shift=4.0)['bbox_mAP'] < 0.9
