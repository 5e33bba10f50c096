"""Recording an mmdet FPN neck (a tuple of 5 levels) and distilling each level.

The models are mmdet's stock Faster R-CNN config with small backbones
(R18 student, R34 teacher: same channels, random weights), on 64x64 images:
levels P2..P6 are 16, 8, 4, 2 and 1 tokens wide.
"""
import copy
import functools
import os.path as osp

import pytest
import torch
from cli_helpers import ROOT
from mmengine.config import Config

from mmswtat.registry import MODELS
from mmswtat.testing.det import det_batch

STOCK = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
FRAGMENT = osp.join(ROOT, 'configs/_base_/distill/swtat_fpn.py')
LEVELS = [0, 1, 2, 3, 4]
SIDES = [16, 8, 4, 2, 1]

pytestmark = pytest.mark.usefixtures('mmdet_scope')


@functools.lru_cache(maxsize=None)
def _stock_detector() -> dict:
    from mmswtat.models.distillers import load_model_cfg
    return load_model_cfg(STOCK, 'student')  # resolving mmdet:: is slow


def detector(depth: int) -> dict:
    """The stock config with a small ResNet and a light RoI stage."""
    cfg = Config(dict(model=copy.deepcopy(_stock_detector())))
    cfg.merge_from_dict({
        'model.backbone.depth': depth,
        'model.backbone.init_cfg': None,
        'model.neck.in_channels': [64, 128, 256, 512],
        'model.roi_head.bbox_head.fc_out_channels': 64,
        'model.train_cfg.rpn_proposal.nms_pre': 64,
        'model.train_cfg.rpn_proposal.max_per_img': 64,
        'model.train_cfg.rcnn.sampler.num': 32,
    })
    return cfg.model


def fpn_loss(**overrides) -> dict:
    cfg = dict(
        type='mmswtat.SWTaTLoss',
        student_channels=256,
        teacher_channels=256,
        window_size=2,
        shift_size=1)
    cfg.update(overrides)
    return cfg


def build(student_recorders=None,
          teacher_recorders=None,
          mappings=None,
          **kwargs):
    """A distiller of the two detectors; by default one loss on all levels."""
    cfg = dict(
        type='mmswtat.SingleTeacherDistiller',
        student=detector(18),
        teacher=detector(34),
        **kwargs)
    if 'distill' not in kwargs:
        cfg['student_recorders'] = student_recorders or dict(fpn='neck')
        cfg['teacher_recorders'] = teacher_recorders or dict(fpn='neck')
        cfg.setdefault('distill_losses', dict(loss_fpn=fpn_loss()))
        cfg['loss_forward_mappings'] = mappings or dict(
            loss_fpn=dict(
                student=dict(recorder='fpn', index=LEVELS),
                teacher=dict(recorder='fpn', index=LEVELS)))
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.train()
    return model


def preprocess(model, seed=0):
    return model.data_preprocessor(det_batch(seed=seed), True)


def record_student(model, data):
    """The student's records of one loss forward (kept, unlike loss())."""
    with model.student_recorder as recorder:
        model.student.loss(data['inputs'], data['data_samples'])
        records = recorder.collect('the test')
    assert model.student_recorder.records == {}
    return records


def test_tuple_record_and_per_level_records_address_the_same_maps():
    levels = dict(
        fpn='neck',
        p3=dict(module='neck', index=1),
        p6=dict(module='neck', index=-1))
    model = build(
        student_recorders=levels,
        teacher_recorders=levels,
        distill_losses=dict(loss_p3=fpn_loss(), loss_p6=fpn_loss()),
        mappings=dict(
            loss_p3=dict(student='p3', teacher=dict(recorder='fpn', index=1)),
            loss_p6=dict(student=dict(recorder='fpn', index=4), teacher='p6')))
    data = preprocess(model)
    teacher = model.run_teacher(data['inputs'], data['data_samples'])
    student = record_student(model, data)
    for role, records in (('student', student), ('teacher', teacher)):
        assert isinstance(records['fpn'], tuple) and len(records['fpn']) == 5
        assert [f.shape[-1] for f in records['fpn']] == SIDES
        assert all(f.shape[:2] == (2, 256) for f in records['fpn'])
        # A recorder records the whole output; the level is picked once,
        # where a loss reads it (the recorder's index, then the mapping's).
        assert records['p3'] is records['fpn']
        for loss in ('loss_p3', 'loss_p6'):
            level = 1 if loss == 'loss_p3' else 4
            got = model.select_feature(records, loss, role)
            assert got is records['fpn'][level], (role, loss)
    # The teacher's records are its neck outputs (early exit loses nothing).
    with torch.no_grad():
        full = model.teacher.extract_feat(data['inputs'])
    for got, want in zip(teacher['fpn'], full):
        assert torch.equal(got, want)
    # Teacher and student are different networks.
    assert not torch.allclose(student['fpn'][0], teacher['fpn'][0])


def test_teacher_stops_after_its_neck():
    model = build()
    data = preprocess(model)
    calls = []
    handle = model.teacher.rpn_head.register_forward_hook(
        lambda *a: calls.append('rpn_head'))
    try:
        model(**data, mode='loss')
    finally:
        handle.remove()
    assert calls == [], 'the teacher ran its RPN head'
    assert model.teacher_recorder.records == {}
    assert model.student_recorder.records == {}


def loss_with_neck_grads(model):
    """One loss forward of ``model`` on a batch, with the teacher's and
    the student's records (the student's from an identical forward) and
    the student's neck outputs kept for their gradients.

    Returns:
        ``(teacher records, student records, losses, {'fpn': neck outputs})``.
    """
    data = preprocess(model)
    teacher = model.run_teacher(data['inputs'], data['data_samples'])
    torch.manual_seed(1)
    student = record_student(model, data)
    torch.manual_seed(1)
    seen = {}

    def keep(module, inputs, outputs):
        for out in outputs:
            out.retain_grad()
        seen['fpn'] = outputs

    handle = model.student.neck.register_forward_hook(keep)
    try:
        losses = model(**data, mode='loss')
    finally:
        handle.remove()
    return teacher, student, losses, seen


def test_fragment_applies_one_setting_to_every_level():
    fragment = Config.fromfile(FRAGMENT).swtat_fpn_paper
    model = build(distill=fragment)
    swtat = model.distill_losses.loss_swtat
    pmtat = model.distill_losses.loss_pmtat
    assert len(swtat) == len(pmtat) == 5
    assert [m.window_size for m in swtat] == [(8, 8)] * 4 + [(4, 4)]
    assert [m.shift_size for m in swtat] == [(4, 4)] * 4 + [(2, 2)]
    assert all(m.num_merges == 'auto' and m.max_tokens == 1024 for m in pmtat)
    assert all(m.loss_weight == 0.2 and m.scale == 'auto'
               for m in [*swtat, *pmtat])
    # The paper's form: raw FPN features, one parameter-free module per level.
    assert all(not m.embed for m in [*swtat, *pmtat])
    assert swtat[0] is not swtat[1]

    teacher, student, losses, seen = loss_with_neck_grads(model)
    for name, modules in (('loss_swtat', swtat), ('loss_pmtat', pmtat)):
        expected = sum(modules[i](student['fpn'][i], teacher['fpn'][i])
                       for i in LEVELS)
        assert torch.allclose(losses[name], expected, rtol=1e-5), name
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'):
        assert key in losses, key
    (losses['loss_swtat'] + losses['loss_pmtat']).backward()
    for i in LEVELS:  # every level's student map gets a gradient
        grad = seen['fpn'][i].grad
        assert grad is not None and grad.abs().sum() > 0, i
    assert model.student.neck.fpn_convs[0].conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())


def test_shipped_fragment_windows_every_level_but_a_1x1_one():
    """The shipped swtat_fpn (normalize='self', window_size='auto', no
    global pass): one SW-TaT module per level; levels of 2x2 or more get
    real windows and a gradient, the 1x1 P6 here none (no window fits)."""
    model = build(distill=Config.fromfile(FRAGMENT).swtat_fpn)
    swtat = model.distill_losses.loss_swtat
    assert len(swtat) == 5 and set(model.distill_losses) == {'loss_swtat'}
    assert [
        m.pass_layouts(s, s)[0].geom.wh if s > 1 else None
        for m, s in zip(swtat, SIDES)
    ] == [8, 4, 2, 1, None]
    assert all(m.normalize == 'self' for m in swtat)
    teacher, student, losses, seen = loss_with_neck_grads(model)
    expected = sum(swtat[i](student['fpn'][i], teacher['fpn'][i])
                   for i in LEVELS)
    assert torch.allclose(losses['loss_swtat'], expected, rtol=1e-5)
    losses['loss_swtat'].backward()
    moved = [
        bool(seen['fpn'][i].grad is not None
             and seen['fpn'][i].grad.abs().sum() > 0) for i in LEVELS
    ]
    assert moved == [True, True, True, True, False]


@pytest.mark.dry_run
def test_levels_of_different_sizes_are_resized():
    """Student P2, P3 against teacher P3, P4 (maps twice as large)."""
    model = build(
        mappings=dict(
            loss_fpn=dict(
                student=dict(recorder='fpn', index=[0, 1]),
                teacher=dict(recorder='fpn', index=[1, 2]))))
    data = preprocess(model)
    teacher = model.run_teacher(data['inputs'], data['data_samples'])
    student = record_student(model, data)
    losses = model(**data, mode='loss')
    modules = model.distill_losses.loss_fpn
    expected = (
        modules[0](student['fpn'][0], teacher['fpn'][1]) +
        modules[1](student['fpn'][1], teacher['fpn'][2]))
    assert torch.isfinite(losses['loss_fpn'])
    assert torch.allclose(losses['loss_fpn'], expected, rtol=1e-5)


def fails_at_build_and_first_step(monkeypatch, error, match, **kwargs):
    """The build-time dry run raises; without it, the first step does."""
    with pytest.raises(error, match=match):
        build(**kwargs)
    with monkeypatch.context() as m:
        m.setattr(
            MODELS.get('mmswtat.SingleTeacherDistiller'), 'check_at_build',
            False)
        model = build(**kwargs)
    with pytest.raises(error, match=match):
        model(**preprocess(model), mode='loss')
    return model


@pytest.mark.dry_run
def test_level_index_out_of_range_in_mapping(monkeypatch):
    model = fails_at_build_and_first_step(
        monkeypatch,
        IndexError,
        r"student feature 'fpn': index 5 out of range, it has 5 outputs "
        r"\(valid 0..4\)",
        mappings=dict(
            loss_fpn=dict(
                student=dict(recorder='fpn', index=[0, 5]),
                teacher=dict(recorder='fpn', index=[0, 4]))))
    assert model.student_recorder.records == {}
    assert model.teacher_recorder.records == {}


@pytest.mark.dry_run
def test_level_index_out_of_range_in_recorder(monkeypatch):
    fails_at_build_and_first_step(
        monkeypatch,
        IndexError,
        r"student recorder 'p7' \('neck'\): index 5 out of range, it has 5 "
        r"outputs \(valid 0..4\)",
        student_recorders=dict(p7=dict(module='neck', index=5)),
        mappings=dict(
            loss_fpn=dict(student='p7', teacher=dict(recorder='fpn',
                                                     index=4))))


@pytest.mark.dry_run
def test_index_on_a_single_tensor_is_an_error(monkeypatch):
    # In a recorder: the module does not return a tuple.
    fails_at_build_and_first_step(
        monkeypatch,
        ValueError,
        r"\('backbone.layer4'\) is a single Tensor, not a tuple of levels; "
        'drop index',
        student_recorders=dict(c5=dict(module='backbone.layer4', index=0)),
        mappings=dict(
            loss_fpn=dict(student='c5', teacher=dict(recorder='fpn',
                                                     index=4))),
        distill_losses=dict(loss_fpn=fpn_loss(student_channels=512)))
    # In a mapping: the recorder holds one tensor.
    fails_at_build_and_first_step(
        monkeypatch,
        ValueError,
        "'c5' is a single Tensor, not a tuple of levels; drop index",
        student_recorders=dict(c5='backbone.layer4'),
        mappings=dict(
            loss_fpn=dict(
                student=dict(recorder='c5', index=[0]),
                teacher=dict(recorder='fpn', index=[4]))),
        distill_losses=dict(loss_fpn=fpn_loss(student_channels=512)))


@pytest.mark.dry_run
def test_whole_tuple_without_index_names_the_fix(monkeypatch):
    fails_at_build_and_first_step(
        monkeypatch,
        ValueError,
        r'tuple of 5 levels.*index=',
        mappings=dict(loss_fpn=dict(student='fpn', teacher='fpn')))
