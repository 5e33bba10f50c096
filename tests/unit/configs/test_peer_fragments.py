"""Every peer-method fragment builds into a distiller and runs a loss step
on tiny mmseg models (the fragment's recorders, losses and connector, with
channel counts adapted to the tiny widths)."""
import copy
import os.path as osp

import pytest
import torch
from cli_helpers import ROOT
from mmengine.config import Config
from seg_helpers import seg_batch, tiny_seg_model

from mmswtat.registry import MODELS

FRAGMENTS = {
    'kd_logits': ('kd_logits_r101_to_r18.py', 'loss_kd'),
    'cwd_logits': ('cwd_logits_r101_to_r18.py', 'loss_cwd'),
    'dist_logits': ('dist_logits_r101_to_r18.py', 'loss_dist'),
    'fitnet_layer4': ('fitnet_layer4_r101_to_r18.py', 'loss_fitnet'),
}

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def fragment(name):
    path = osp.join(ROOT, 'configs', '_base_', 'distill', FRAGMENTS[name][0])
    return Config.fromfile(path)[name].to_dict()


@pytest.mark.parametrize('name', list(FRAGMENTS))
def test_fragment_builds_and_runs_a_loss_step(name):
    distill = copy.deepcopy(fragment(name))
    if 'connectors' in distill:  # 512 -> 2048 on the real pair
        assert distill['connectors']['s4']['in_channels'] == 512
        assert distill['connectors']['s4']['out_channels'] == 2048
        distill['connectors']['s4'].update(in_channels=64, out_channels=256)
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='mmswtat.SingleTeacherDistiller',
            student=tiny_seg_model(18),
            teacher=tiny_seg_model(50),
            distill=distill))
    model.train()
    data = model.data_preprocessor(seg_batch(), True)
    losses = model(**data, mode='loss')
    key = FRAGMENTS[name][1]
    assert {'decode.loss_ce', key} <= set(losses)
    value = losses[key]
    assert value.dim() == 0 and torch.isfinite(value)
    assert float(value.detach()) > 0
    value.backward()
    grad = model.student.backbone.layer4[0].conv1.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())
    if 'connectors' in distill:
        conv = model.connectors['s4'].conv.weight
        assert conv.grad is not None and conv.grad.abs().sum() > 0


@pytest.mark.parametrize('name', ['kd_logits', 'cwd_logits', 'dist_logits'])
def test_logit_fragments_record_the_logits(name):
    """The recorder path is the decode head's classifier: its output has
    num_classes channels at the decode head's resolution."""
    distill = fragment(name)
    assert distill['student_recorders']['logits'] == 'decode_head.conv_seg'
    model = MODELS.build(tiny_seg_model(18))
    seen = {}
    model.get_submodule('decode_head.conv_seg').register_forward_hook(
        lambda m, i, o: seen.setdefault('out', o))
    data = model.data_preprocessor(seg_batch(), True)
    model(**data, mode='tensor')
    assert seen['out'].shape[1] == 4  # tiny_seg_model's num_classes
