"""Recipes: lists of distillation fragments merged by the distiller, the
head-feature placement (pre-activation recorders) and the recipe table."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from seg_helpers import build_tiny_distiller, distiller_cfg, seg_loss_step

from mmswtat.models.distillers.distill_spec import merge_fragments
from mmswtat.recipes import parse_recipe, recipe_label

SWTAT = dict(
    student_recorders=dict(feat='backbone.layer4'),
    teacher_recorders=dict(feat='backbone.layer4'),
    distill_losses=dict(
        loss_swtat=dict(
            type='mmswtat.SWTaTLoss',
            student_channels=64,
            teacher_channels=256,
            window_size=2,
            shift_size=1)),
    loss_forward_mappings=dict(
        loss_swtat=dict(student='feat', teacher='feat')))
LOGITS = dict(
    student_recorders=dict(logits='decode_head.conv_seg'),
    teacher_recorders=dict(logits='decode_head.conv_seg'),
    distill_losses=dict(
        loss_cwd=dict(
            type='mmswtat.ChannelWiseDivergence', tau=4.0, loss_weight=3.0)),
    loss_forward_mappings=dict(
        loss_cwd=dict(student='logits', teacher='logits')))

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def test_merge_unions_names_and_shares_identical_entries():
    fitnet = copy.deepcopy(SWTAT)
    fitnet['distill_losses'] = dict(
        loss_fitnet=dict(type='mmswtat.FeatureMSELoss'))
    fitnet['loss_forward_mappings'] = dict(
        loss_fitnet=dict(student='feat', teacher='feat'))
    merged = merge_fragments([SWTAT, fitnet, LOGITS, None])
    assert merged['student_recorders'] == dict(
        feat='backbone.layer4', logits='decode_head.conv_seg')
    assert list(
        merged['distill_losses']) == ['loss_swtat', 'loss_fitnet', 'loss_cwd']
    assert set(merged['loss_forward_mappings']) == set(
        merged['distill_losses'])


def test_merge_conflict_names_both_fragments_and_the_key():
    other = copy.deepcopy(SWTAT)
    other['student_recorders'] = dict(feat='backbone.layer3')
    other['distill_losses'] = dict(loss_tat=dict(type='mmswtat.TaTLoss'))
    other['loss_forward_mappings'] = {}
    with pytest.raises(ValueError) as err:
        merge_fragments([SWTAT, other])
    msg = str(err.value)
    assert "distill[0] (losses loss_swtat) and distill[1] (losses loss_tat)" \
        in msg
    assert "student_recorders['feat']" in msg
    assert 'backbone.layer4' in msg and 'backbone.layer3' in msg
    # a loss defined twice, differently
    louder = copy.deepcopy(LOGITS)
    louder['distill_losses']['loss_cwd']['loss_weight'] = 9.0
    with pytest.raises(ValueError, match=r"distill_losses\['loss_cwd'\]"):
        merge_fragments([LOGITS, louder])
    with pytest.raises(ValueError, match='distill_warmup_iters'):
        merge_fragments([
            dict(SWTAT, distill_warmup_iters=5),
            dict(LOGITS, distill_warmup_iters=7)
        ])
    with pytest.raises(
            ValueError, match=r"distill\[1\]: unknown key 'lossez'"):
        merge_fragments([SWTAT, dict(lossez={})])
    with pytest.raises(TypeError, match=r'distill\[0\] must be a dict'):
        merge_fragments(['swtat_layer4'])


def test_distiller_takes_a_list_like_the_hand_merged_dict():
    keys = ('student_recorders', 'teacher_recorders', 'distill_losses',
            'loss_forward_mappings')
    cfg = distiller_cfg()
    none = {k: None for k in keys}
    logits = copy.deepcopy(LOGITS)
    logits['distill_losses']['loss_cwd']['tau'] = 1.0
    feats = {k: cfg[k] for k in keys}
    listed = build_tiny_distiller(**none, distill=[feats, logits])
    merged = {k: dict(feats[k], **logits[k]) for k in keys}
    by_hand = build_tiny_distiller(**none, distill=merged)
    torch.manual_seed(1)  # the same dropout masks
    a = seg_loss_step(listed)
    torch.manual_seed(1)
    b = seg_loss_step(by_hand)
    assert {'loss_swtat', 'loss_pmtat', 'loss_cwd'} <= set(a)
    for name in ('loss_swtat', 'loss_pmtat', 'loss_cwd'):
        torch.testing.assert_close(a[name], b[name])
    assert a['loss_cwd'] > 0


def _head_cfg(recorder):
    """Distil the tiny FCN head's last feature (16 channels both sides)."""
    return dict(
        student_recorders=dict(head=recorder),
        teacher_recorders=dict(head=recorder),
        distill_losses=dict(loss_fitnet=dict(type='mmswtat.FeatureMSELoss')),
        loss_forward_mappings=dict(
            loss_fitnet=dict(student='head', teacher='head')))


@pytest.mark.dry_run
def test_pre_activation_needs_clone_and_clone_records_it():
    # decode_head.convs.0 is conv -> bn -> ReLU(inplace=True): the BN
    # output is overwritten by the ReLU after the hook recorded it.
    with pytest.raises(RuntimeError, match=r"modified in place.*clone=True"):
        build_tiny_distiller(**_head_cfg('decode_head.convs.0.bn'))
    model = build_tiny_distiller(
        **_head_cfg(dict(module='decode_head.convs.0.bn', clone=True)))
    seen = {}
    model.compute_distill_losses = lambda s, t, labels=None: seen.update(
        s=s, t=t) or {}
    seg_loss_step(model)
    pre = seen['s']['head']
    assert (pre < 0).any(), 'a pre-activation (BN) feature has negatives'
    post = model.student.decode_head.convs[0].activate(pre.clone())
    assert (post >= 0).all()
    assert (seen['t']['head'] < 0).any()
    with pytest.raises(ValueError, match='clone must be True or False'):
        build_tiny_distiller(
            **_head_cfg(dict(module='decode_head.convs.0', clone='yes')))


def test_missing_head_module_lists_the_heads_modules():
    # an ASPP/PSP placement on an FCN head
    with pytest.raises(ValueError) as err:
        build_tiny_distiller(**_head_cfg('decode_head.bottleneck'))
    msg = str(err.value)
    assert "'decode_head' is a FCNHead with the modules" in msg
    assert "'convs'" in msg and "'conv_seg'" in msg


FRAGMENT_DIR = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', '_base_', 'distill')


def test_shipped_fragments_combine_in_a_config(tmp_path):
    cfg_file = tmp_path / 'recipe.py'
    cfg_file.write_text(
        f"_base_ = ['{FRAGMENT_DIR}/swtat_head_r101_to_r18.py',\n"
        f"          '{FRAGMENT_DIR}/swtat_layer4_r101_to_r18.py',\n"
        f"          '{FRAGMENT_DIR}/cwd_logits_r101_to_r18.py',\n"
        f"          '{FRAGMENT_DIR}/fitnet_layer4_r101_to_r18.py']\n"
        'model = dict(distill=[{{_base_.swtat_head}}, '
        '{{_base_.swtat_layer4}}, {{_base_.cwd_logits}}, '
        '{{_base_.fitnet_layer4}}])\n')
    cfg = Config.fromfile(str(cfg_file))
    merged = merge_fragments(cfg.model.distill)
    assert set(merged['distill_losses']) == {
        'loss_swtat_head', 'loss_pmtat_head', 'loss_swtat', 'loss_pmtat',
        'loss_cwd', 'loss_fitnet'
    }
    # swtat_layer4 and fitnet_layer4 share the recorder and connector
    assert merged['student_recorders'] == dict(
        head='decode_head.bottleneck',
        feat='backbone.layer4',
        logits='decode_head.conv_seg')
    assert set(merged['connectors']) == {'sh', 's4'}
    pre = cfg.swtat_head_preact
    assert pre['student_recorders']['head'] == dict(
        module='decode_head.bottleneck.bn', clone=True)
    assert pre['distill_losses'] == cfg.swtat_head['distill_losses']


def test_recipe_names():
    assert [c.name
            for c in parse_recipe('swtat_head+cwd')] == ['swtat_head', 'cwd']
    assert recipe_label('swtat+kd') == 'SW-TaT + PM (layer4) + KD (logits)'
    with pytest.raises(
            ValueError,
            match=r"unknown part\(s\) \['cdw'\].*"
            r'choose from swtat, swtat_head'):
        parse_recipe('swtat+cdw')
    with pytest.raises(ValueError, match='twice'):
        parse_recipe('cwd+cwd')
    with pytest.raises(
            ValueError,
            match=r"\['kd'\] cannot be used here; "
            'choose from swtat, cwd'):
        parse_recipe('kd', allowed=['swtat', 'cwd'])


def test_one_name_per_method_in_every_task():
    """A former name is the same component; labels name the task's
    placement and, for TaT components, a ``global_pass`` knob's pass."""
    from mmswtat.recipes import COMPONENTS, canonical_name
    assert parse_recipe('sw+cwd') == parse_recipe('swtat_nopm+cwd')
    assert canonical_name('sw') == 'swtat_nopm'
    assert recipe_label('swtat_nopm', 'det') == 'SW-TaT, no PM (FPN)'
    assert recipe_label('swtat', 'det', dict(global_pass='none')) == \
        'SW-TaT, no PM (FPN)'
    assert recipe_label('swtat+cwd', 'seg', dict(global_pass='anchor')) == \
        'SW-TaT + anchor (layer4) + CWD (logits)'
    assert recipe_label('cwd', 'det') == 'CWD (FPN)'
    assert [n for n in COMPONENTS if n in ('sw', )] == []


@pytest.mark.parametrize('task', ['seg', 'det'])
def test_every_component_is_wired_for_every_task_it_claims(task):
    """Each component of the method table builds in every task it claims:
    its fragment, its benchmark config with each knob variant and form,
    and (feature components) the config generator's loss builder."""
    from mmswtat.benchmark.accuracy.det_configs import (DetNetSettings,
                                                        det_distill_config)
    from mmswtat.benchmark.accuracy.methods import distill_config
    from mmswtat.benchmark.accuracy.settings import BenchmarkSettings
    from mmswtat.config_gen.methods import LOSS_BUILDERS
    from mmswtat.recipes import COMPONENTS, components_for
    names = components_for(task)
    assert names, task
    for name in names:
        wiring = COMPONENTS[name].tasks[task]
        for knobs in ({}, ) + wiring.knobs + wiring.forms:
            if task == 'seg':
                out = distill_config(name, BenchmarkSettings(), 1.0, knobs)
            else:
                out = det_distill_config(name, DetNetSettings(), 1.0, knobs)
            assert out['distill_losses'], (name, knobs)
            assert set(out['distill_losses']) == set(
                out['loss_forward_mappings'])
            assert not set(wiring.drop) & set(out['distill_losses'])
    for comp in COMPONENTS.values():
        if comp.kind == 'feature' and comp.generator:
            assert comp.builder in LOSS_BUILDERS, comp.name
        if comp.kind == 'logit' and comp.generator:
            assert comp.fragment is not None, comp.name
