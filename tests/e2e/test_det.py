"""Detection end to end on tiny synthetic COCO / VOC with the real configs.

COCO (Faster R-CNN and Mask R-CNN): train (distillation config, one short
epoch) -> tools/test.py (bbox / segm mAP) -> export_student.py -> mmdet's
own installed tools/test.py with mmdet's stock student config, which must
give the same predictions. The COCO teachers are random R101 detectors saved
as mmdet would. VOC: one training iteration. RetinaNet: one loss step in
process. Our tools run in this process (their ``main(argv)``; test_seg.py
runs each as a command); mmdet's own test.py runs as a command.
"""
import functools
import os.path as osp
import pickle

import mmdet
import pytest
import torch
import yaml
from cli_helpers import ROOT, metric, run_main, run_tool
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmswtat.testing import as_cli
from mmswtat.testing.det import det_batch, det_tiny_options

MMDET = osp.join(osp.dirname(mmdet.__file__), '.mim')
FRAGMENT = osp.join(ROOT, 'configs/_base_/distill/swtat_fpn.py')
VOC = 'configs/swtat/faster-rcnn_r101_to_r50_fpn_1x_voc0712.py'
RETINA = 'configs/swtat/retinanet_r101_to_r50_fpn_1x_coco.py'
# name: (distillation config, mmdet's stock student config, metrics)
COCO = {
    'faster': ('configs/swtat/faster-rcnn_r101_to_r50_fpn_1x_coco.py',
               'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', ['bbox']),
    'mask': ('configs/swtat/mask-rcnn_r101_to_r50_fpn_1x_coco.py',
             'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', ['bbox', 'segm']),
}
TASK_LOSSES = ['loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox']
ITERS = 2
# Small images, few proposals, every detection kept (a barely trained
# detector scores below the stock 0.05) so the predictions compared below
# are not empty.
TINY = dict(
    img_size=64, iters=ITERS, proposals=32, score_thr=0.0, max_per_img=20)


def stock(rel: str) -> str:
    """mmdet's own config file (as mmdet's tools take it)."""
    return osp.join(MMDET, 'configs', rel)


@functools.lru_cache(maxsize=None)
def _tiny(config: str, data_root: str, kwargs: tuple) -> tuple:
    return tuple(as_cli(det_tiny_options(config, data_root, **dict(kwargs))))


def tiny(config: str, data_root: str, **kwargs) -> list:
    """``--cfg-options`` for a tiny run; validation off (tools/test.py does
    not read it)."""
    kwargs = {**TINY, 'validate': False, **kwargs}
    return list(_tiny(config, data_root, tuple(sorted(kwargs.items()))))


def build_teacher(cfg_path: str, **overrides) -> torch.nn.Module:
    from mmswtat.models.distillers import load_model_cfg
    from mmswtat.registry import MODELS
    init_default_scope('mmdet')
    overrides.setdefault('backbone', {})['init_cfg'] = None
    cfg = load_model_cfg(dict(cfg_path=cfg_path, **overrides), 'teacher')
    torch.manual_seed(0)
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    out = tmp_path_factory.mktemp('coco')
    run_main([
        'tools/make_synthetic_data.py', 'coco', '--out',
        str(out), '--num-train',
        str(2 * ITERS), '--num-val', '2', '--size', '64'
    ])
    return str(out / 'coco') + '/'


@pytest.fixture(scope='module')
def teachers(tmp_path_factory):
    """Random R101 Mask R-CNN, and the same without its mask head (= R101
    Faster R-CNN: identical keys otherwise; the distiller loads strictly)."""
    out = tmp_path_factory.mktemp('teachers')
    state = build_teacher(
        'mmdet::mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py').state_dict()
    faster = {
        k: v
        for k, v in state.items() if not k.startswith('roi_head.mask_head.')
    }
    assert len(faster) < len(state)
    paths = dict(mask=str(out / 'mask.pth'), faster=str(out / 'faster.pth'))
    torch.save(dict(state_dict=state, meta=dict()), paths['mask'])
    torch.save(dict(state_dict=faster, meta=dict()), paths['faster'])
    return paths


@pytest.fixture(scope='module', params=sorted(COCO))
def distilled(request, coco, teachers, tmp_path_factory):
    name = request.param
    config = COCO[name][0]
    work = tmp_path_factory.mktemp(f'distill_{name}')
    opts = tiny(config, coco)
    proc = run_main([
        'tools/train.py', config, '--work-dir',
        str(work), '--cfg-options', *opts,
        f'model.teacher_ckpt={teachers[name]}'
    ])
    return name, work, proc.stdout + proc.stderr


def test_train_logs_task_and_distill_losses(distilled):
    name, work, log = distilled
    ckpt = work / 'epoch_1.pth'
    assert osp.isfile(ckpt)
    assert f'Epoch(train) [1][{ITERS}/{ITERS}]' in log
    losses = TASK_LOSSES + ['loss_swtat']
    if name == 'mask':
        losses.append('loss_mask')
    for key in losses:
        assert f'{key}: ' in log, key
    state = torch.load(ckpt, weights_only=True)['state_dict']
    assert not any(k.startswith('teacher') for k in state)
    assert any(k.startswith('student.neck.fpn_convs.3') for k in state)
    # The paper's form (embed=False, 256 = 256 channels): the losses have no
    # parameters, so a checkpoint holds the student and nothing else.
    assert all(k.startswith('student.') for k in state), sorted(
        k for k in state if not k.startswith('student.'))[:5]


def _predictions(path: str) -> list:
    with open(path, 'rb') as f:
        return [r['pred_instances'] for r in pickle.load(f)]


def _masks(pred: dict) -> torch.Tensor:
    """Masks as a bool tensor, from a tensor or mmdet's RLE dicts."""
    masks = pred['masks']
    if isinstance(masks, torch.Tensor):
        return masks.bool()
    import numpy as np
    from pycocotools import mask as mask_utils
    if not masks:
        return torch.zeros(0, dtype=torch.bool)
    return torch.from_numpy(np.stack([mask_utils.decode(m)
                                      for m in masks])).bool()


def test_test_export_and_mmdet_own_tool(distilled, coco, tmp_path):
    name, work, _ = distilled
    config, student, kinds = COCO[name]
    ckpt = str(work / 'epoch_1.pth')
    ours = run_main([
        'tools/test.py', config, ckpt, '--work-dir',
        str(tmp_path / 'ours'), '--out',
        str(tmp_path / 'ours.pkl'), '--cfg-options', *tiny(config, coco)
    ])
    ours_log = ours.stdout + ours.stderr
    maps = {k: metric(ours_log, f'coco/{k}_mAP') for k in kinds}
    assert all(0.0 <= v <= 1.0 for v in maps.values()), maps

    exported = str(tmp_path / 'student.pth')
    run_main(['tools/export_student.py', ckpt, exported])
    state = torch.load(exported, weights_only=True)['state_dict']
    assert state and not any(
        k.startswith(('student.', 'teacher.', 'distill_losses.'))
        for k in state)

    # mmdet's test.py as a command for Mask R-CNN (its entry point, without
    # mmswtat imported); in this process for Faster R-CNN.
    run = run_tool if name == 'mask' else run_main
    theirs = run([
        osp.join(MMDET, 'tools', 'test.py'),
        stock(student), exported, '--work-dir',
        str(tmp_path / 'theirs'), '--out',
        str(tmp_path / 'theirs.pkl'), '--cfg-options',
        *tiny(stock(student), coco)
    ])
    theirs_log = theirs.stdout + theirs.stderr
    for kind, value in maps.items():
        assert metric(theirs_log, f'coco/{kind}_mAP') == value, kind
    # The same detections, not just the same (near zero) mAP.
    ours_pred = _predictions(str(tmp_path / 'ours.pkl'))
    theirs_pred = _predictions(str(tmp_path / 'theirs.pkl'))
    assert len(ours_pred) == len(theirs_pred) == 2
    assert sum(len(p['scores']) for p in ours_pred) > 0
    for a, b in zip(ours_pred, theirs_pred):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(a[key], b[key]), key
        if 'segm' in kinds:
            assert torch.equal(_masks(a), _masks(b))


def test_coco_configs_use_metafile_teachers_and_stock_students():
    for config, student, _ in COCO.values():
        cfg = Config.fromfile(osp.join(ROOT, config))
        assert cfg.model.student.cfg_path == f'mmdet::{student}'
        teacher = cfg.model.teacher.cfg_path.split('::')[1]
        folder, fname = teacher.split('/')
        with open(stock(osp.join(folder, 'metafile.yml'))) as f:
            entries = yaml.safe_load(f)['Models']
        entry = next(e for e in entries if e['Config'] == f'configs/{teacher}')
        assert cfg.model.teacher_ckpt == entry['Weights'], config
        assert fname.replace('r101', 'r50') == student.split('/')[1]
        assert cfg.model.distill == Config.fromfile(FRAGMENT).swtat_fpn


def test_retinanet_config_loss_step():
    """The RetinaNet config's distiller (random teacher) on one batch."""
    from mmswtat.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(ROOT, RETINA))
    cfg.merge_from_dict({
        'model.teacher_ckpt': None,
        'model.student.backbone.init_cfg': None
    })
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    calls = []
    handle = model.teacher.bbox_head.register_forward_hook(
        lambda *a: calls.append(1))
    data = model.data_preprocessor(det_batch(size=64), True)
    losses = model(**data, mode='loss')
    handle.remove()
    assert calls == [], 'the teacher ran its head'
    for key in ('loss_cls', 'loss_bbox', 'loss_swtat'):
        value = losses[key]
        value = sum(value) if isinstance(value, list) else value
        assert torch.isfinite(value) and value > 0, key
    assert len(model.distill_losses.loss_swtat) == 5


@pytest.fixture(scope='module')
def voc(tmp_path_factory):
    out = tmp_path_factory.mktemp('voc')
    run_main([
        'tools/make_synthetic_data.py', 'voc-det', '--out',
        str(out), '--num-train', '2', '--num-val', '1', '--size', '96'
    ])
    return str(out / 'VOCdevkit') + '/'


def test_voc_config_trains_one_iteration(voc, tmp_path):
    """A random teacher here (teacher_ckpt=None): checkpoint loading is
    covered by the COCO runs, the placeholder path by the test below."""
    work = tmp_path / 'work'
    proc = run_main([
        'tools/train.py', VOC, '--work-dir',
        str(work), '--cfg-options', *tiny(VOC, voc, img_size=96, iters=1),
        'model.teacher_ckpt=None'
    ])
    log = proc.stdout + proc.stderr
    assert 'Epoch(train) [1][1/1]' in log
    for key in TASK_LOSSES + ['loss_swtat']:
        assert f'{key}: ' in log, key
    assert osp.isfile(work / 'epoch_1.pth')


def test_voc_teacher_checkpoint_is_the_users_own(tmp_path, monkeypatch):
    """The placeholder path fails at model build, naming the config key."""
    from mmswtat.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(ROOT, VOC))
    assert 'PLACEHOLDER' in open(osp.join(ROOT, VOC)).read()
    cfg.merge_from_dict({'model.student.backbone.init_cfg': None})
    monkeypatch.chdir(tmp_path)  # the relative placeholder cannot exist here
    with pytest.raises(
            FileNotFoundError,
            match=r"teacher checkpoint 'work_dirs/faster-rcnn_"
            r"r101_fpn_1x_voc0712/epoch_4.pth' does not exist; set "
            r'model.teacher_ckpt'):
        MODELS.build(cfg.model)
