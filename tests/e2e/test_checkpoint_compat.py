"""Checkpoints written before the distiller was split still load.

``distiller_state_dict_keys.json`` holds ``{config: {key: shape}}`` of
the distillers built from shipped configs by the code at commit 28ee655
(before the split into spec/head/teacher modules). A resumed run loads
these keys strictly, so they must stay exactly the same.
"""
import json
import os.path as osp

import pytest
from cli_helpers import ROOT
from mmengine.config import Config

import mmswtat  # noqa: F401  (mmswtat:: configs)
from mmswtat.utils import build_runner_model

with open(
        osp.join(
            osp.dirname(__file__), '..', 'helpers',
            'distiller_state_dict_keys.json')) as f:
    BEFORE = json.load(f)

# name: (shipped config, options); the multi-level FPN one with embeddings
# so that its per-level ModuleLists hold weights (distill_losses.<loss>.<i>.*).
BUILDS = {
    'voc': ('configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py', {}),
    'voc_embed': ('configs/swtat/deeplabv3_r101_to_r18_voc_embed.py', {}),
    # The paper's FPN form (swtat_fpn_paper, the configs' fragment before
    # 6 December 2026): checkpoints written with it keep loading.
    'fpn_embed': ('configs/swtat/faster-rcnn_r101_to_r50_fpn_1x_coco.py', {
        'model.distill': 'swtat_fpn_paper',
        'model.distill.distill_losses.loss_swtat.embed': True,
        'model.distill.distill_losses.loss_pmtat.embed': True
    }),
    'cls_in1k': ('configs/swtat/resnet34_to_resnet18_in1k.py', {}),
}


@pytest.mark.parametrize('name', sorted(BUILDS))
def test_state_dict_keys_and_shapes_unchanged(name):
    config, options = BUILDS[name]
    cfg = Config.fromfile(osp.join(ROOT, config))
    options = dict(options)
    fragment = options.pop('model.distill', None)
    if fragment is not None:
        cfg.model.distill = Config.fromfile(
            osp.join(ROOT, 'configs/_base_/distill/swtat_fpn.py'))[fragment]
    cfg.merge_from_dict(options)
    model = build_runner_model(cfg, teacher_ckpt=None)
    now = {k: list(v.shape) for k, v in model.state_dict().items()}
    before = BEFORE[name]
    assert sorted(set(now) - set(before)) == []  # new keys
    assert sorted(set(before) - set(now)) == []  # lost keys
    assert now == before  # shapes
