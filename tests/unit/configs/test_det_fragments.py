"""The detection peer fragments (PKD and CWD on FPN levels) build into a
distiller over two tiny RetinaNets of the detection benchmark and give the
published per-level loss on the recorded FPN maps."""
import os.path as osp

import pytest
import torch
from cli_helpers import ROOT
from mmengine.config import Config

from mmswtat.benchmark.accuracy.det_configs import (DetNetSettings,
                                                    det_distill_config,
                                                    det_model)
from mmswtat.benchmark.accuracy.settings import NetSettings
from mmswtat.models.ops import channel_wise_divergence, pkd_divergence
from mmswtat.registry import MODELS
from mmswtat.testing.det import det_batch
from mmswtat.utils.config_utils import resolve_config_path

TINY = DetNetSettings(
    teacher=NetSettings(base_channels=16, stem_channels=16, head_channels=16),
    student=NetSettings(base_channels=8, stem_channels=8, head_channels=8),
    neck_channels=16,
    size=64)

#: name: (file, loss key, levels, published weight, loss of one level)
FRAGMENTS = {
    'pkd_fpn': ('pkd_fpn.py', 'loss_pkd', [0, 1, 2, 3], 6.0, pkd_divergence),
    'cwd_fpn': ('cwd_fpn.py', 'loss_cwd', [0, 1, 2, 3, 4], 10.0,
                lambda s, t: channel_wise_divergence(s, t, 1.0)),
}

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def fragment(name):
    path = osp.join(ROOT, 'configs', '_base_', 'distill', FRAGMENTS[name][0])
    return Config.fromfile(path)[name].to_dict()


@pytest.mark.parametrize('name', list(FRAGMENTS))
def test_scope_path_is_this_tree(name):
    """``mmswtat::`` resolves to the configs of the imported package."""
    got = resolve_config_path(f'mmswtat::_base_/distill/{FRAGMENTS[name][0]}')
    assert osp.realpath(got) == osp.realpath(
        osp.join(ROOT, 'configs', '_base_', 'distill', FRAGMENTS[name][0]))


@pytest.mark.parametrize('name', list(FRAGMENTS))
def test_fragment_gives_the_published_loss_per_level(name):
    file, key, levels, weight, one_level = FRAGMENTS[name]
    distill = fragment(name)
    assert distill['distill_losses'][key]['loss_weight'] == weight
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='mmswtat.SingleTeacherDistiller',
            student=det_model(TINY.student, TINY),
            teacher=det_model(TINY.teacher, TINY),
            distill=distill))
    model.train()
    modules = model.distill_losses[key]
    assert len(modules) == len(levels)
    assert all(m.loss_weight == weight for m in modules)
    data = model.data_preprocessor(det_batch(size=64, num_classes=10), True)
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
    with torch.no_grad():
        teacher = model.teacher.extract_feat(data['inputs'])
    assert len(seen['fpn']) == len(teacher) == 5
    want = sum(weight *
               one_level(seen['fpn'][i].detach().double(), teacher[i].double())
               for i in levels)
    assert {'loss_cls', 'loss_bbox', key} <= set(losses)
    torch.testing.assert_close(
        losses[key].double(), want, rtol=1e-5, atol=1e-7)
    losses[key].backward()
    for i in range(5):  # exactly the fragment's levels get a gradient
        grad = seen['fpn'][i].grad
        # (CWD's softmax over a single position is 1 whatever the input:
        # no gradient on a 1x1 level, here P7.)
        single = seen['fpn'][i].shape[-2:].numel() == 1
        informative = i in levels and not (key == 'loss_cwd' and single)
        assert (grad is not None and grad.abs().sum() > 0) == informative
    assert all(p.grad is None for p in model.teacher.parameters())


@pytest.mark.parametrize('method,key', [('pkd', 'loss_pkd'),
                                        ('cwd', 'loss_cwd'),
                                        ('swtat', 'loss_swtat')])
def test_benchmark_method_is_the_fragment(method, key):
    """det_distill_config takes the shipped fragment, channels adapted."""
    got = det_distill_config(method, TINY)
    file, var = dict(
        pkd=('pkd_fpn', 'pkd_fpn'),
        cwd=('cwd_fpn', 'cwd_fpn'),
        swtat=('swtat_fpn', 'swtat_fpn_paper'))[method]
    shipped = Config.fromfile(
        osp.join(ROOT, 'configs', '_base_', 'distill',
                 file + '.py'))[var].to_dict()
    for loss in shipped['distill_losses'].values():
        for ch in ('student_channels', 'teacher_channels'):
            if ch in loss:
                loss[ch] = 16
    assert got == shipped
    assert key in got['distill_losses']


def test_shipped_swtat_fpn_is_the_measured_form():
    """``swtat_fpn`` is the benchmark's ``swtat`` with the knobs of its
    measured form (docs/detection.md), at the fragment's weight."""
    shipped = Config.fromfile(
        osp.join(ROOT, 'configs', '_base_', 'distill',
                 'swtat_fpn.py')).swtat_fpn.to_dict()
    weight = shipped['distill_losses']['loss_swtat']['loss_weight']
    got = det_distill_config(
        'swtat',
        TINY,
        weight=weight,
        knobs=dict(normalize='self', window_size='auto', global_pass='none'))
    for loss in shipped['distill_losses'].values():
        loss.update(student_channels=16, teacher_channels=16)
    assert got['distill_losses']['loss_swtat'].pop('loss_weight') == \
        pytest.approx(shipped['distill_losses']['loss_swtat'].pop(
            'loss_weight'))
    assert got == shipped
