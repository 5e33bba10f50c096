"""Distiller-level (shared) connectors referenced by name from the mappings.

Tiny mmseg models (see ``seg_helpers``): the student's layer4 has 64
channels, the teacher's 256, 4x4 maps. One shared ``s4`` projection
64 -> 256 feeds an SW-TaT and a patch-merge loss without embeddings.
"""
import pytest
import torch
from seg_helpers import build_distiller, distiller_cfg, preprocessed_seg_batch

from mmswtat.registry import MODELS

C_S, C_T = 64, 256
S4 = dict(type='mmswtat.ConvBNConnector', in_channels=C_S, out_channels=C_T)
LOSSES = dict(
    loss_swtat=dict(
        type='mmswtat.SWTaTLoss',
        student_channels=C_T,
        teacher_channels=C_T,
        embed=False,
        window_size=2,
        shift_size=1),
    loss_pmtat=dict(
        type='mmswtat.PatchMergeTaTLoss',
        student_channels=C_T,
        teacher_channels=C_T,
        embed=False,
        num_merges=1))

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def shared_cfg(
        losses=tuple(LOSSES), student=None, teacher='feat',
        **overrides) -> dict:
    """``losses`` all mapped to ``student`` (default: 'feat' through s4)."""
    student = student or dict(recorder='feat', connector='s4')
    cfg = dict(
        connectors=dict(s4=S4),
        distill_losses={name: LOSSES[name]
                        for name in losses},
        loss_forward_mappings={
            name: dict(student=student, teacher=teacher)
            for name in losses
        })
    cfg.update(overrides)
    return distiller_cfg(**cfg)


build = build_distiller
preprocess = preprocessed_seg_batch


class Calls:
    """Counts a module's forward calls and keeps the outputs."""

    def __init__(self, module):
        self.outputs = []
        self.handle = module.register_forward_hook(
            lambda m, i, o: self.outputs.append(o))


class Inputs:
    """Keeps the ``(student, teacher)`` inputs of a loss module."""

    def __init__(self, module):
        self.args = []
        self.handle = module.register_forward_pre_hook(
            lambda m, args: self.args.append(args))


def connector_grads(model, names):
    """Gradients of the shared connector's parameters from ``names``."""
    model.zero_grad(set_to_none=True)
    losses = model(**preprocess(model), mode='loss')
    sum(losses[n] for n in names).backward()
    return {
        k: p.grad.clone()
        for k, p in model.connectors.s4.named_parameters()
    }


def test_shared_connector_runs_once_and_feeds_both_losses():
    model = build(shared_cfg())
    assert list(model.connectors) == ['s4']  # no per-loss copies
    calls = Calls(model.connectors.s4)
    swtat = Inputs(model.distill_losses.loss_swtat)
    pmtat = Inputs(model.distill_losses.loss_pmtat)
    data = preprocess(model)
    losses = model(**data, mode='loss')
    assert len(calls.outputs) == 1
    projected = calls.outputs[0]
    assert projected.shape[1] == C_T
    assert swtat.args[0][0] is projected
    assert pmtat.args[0][0] is projected
    assert torch.isfinite(losses['loss_swtat'])
    assert torch.isfinite(losses['loss_pmtat'])
    model(**data, mode='loss')  # once per step, not once in all
    assert len(calls.outputs) == 2
    assert not hasattr(model, '_shared_outputs')  # no per-step state


def test_shared_connector_equals_per_loss_connectors_with_its_weights():
    """Same losses as two per-loss copies of it, at half the projections."""
    shared = build(shared_cfg())
    per_loss = build(
        shared_cfg(
            connectors=None, student=dict(recorder='feat', connector=S4)))
    assert set(
        per_loss.connectors) == {'loss_swtat_student', 'loss_pmtat_student'}
    with torch.no_grad():
        shared.connectors.s4.conv.weight.normal_()
    for key in per_loss.connectors:
        per_loss.connectors[key].load_state_dict(
            shared.connectors.s4.state_dict())
    calls = [Calls(m) for m in per_loss.connectors.values()]
    data = preprocess(shared)
    torch.manual_seed(1)
    want = per_loss(**data, mode='loss')
    torch.manual_seed(1)
    got = shared(**data, mode='loss')
    assert [len(c.outputs) for c in calls] == [1, 1]
    for name in LOSSES:
        assert torch.allclose(got[name], want[name], rtol=1e-6), name


def test_shared_connector_gradient_is_the_sum_over_its_losses():
    both = connector_grads(build(shared_cfg()), list(LOSSES))
    alone = {
        name: connector_grads(build(shared_cfg(losses=[name])), [name])
        for name in LOSSES
    }
    for key, grad in both.items():
        a, b = alone['loss_swtat'][key], alone['loss_pmtat'][key]
        assert a.abs().sum() > 0 and b.abs().sum() > 0, key
        assert not torch.allclose(grad, a, atol=1e-6), key  # b counts
        assert not torch.allclose(grad, b, atol=1e-6), key  # a counts
        assert torch.allclose(grad, a + b, rtol=0, atol=1e-6), key


def test_shared_connector_in_checkpoint_and_optimizer_not_in_student():
    model = build(shared_cfg())
    keys = set(model.state_dict())
    assert {
        'connectors.s4.conv.weight', 'connectors.s4.norm.weight',
        'connectors.s4.norm.running_mean'
    } <= keys
    params = {id(p) for p in model.parameters()}
    assert all(id(p) in params for p in model.connectors.s4.parameters())
    student = model.student_state_dict()
    assert student and not any('connectors' in k or 's4' in k for k in student)
    assert set(student) == set(model.student.state_dict())


def test_shared_connector_in_distill_group_and_conflict():
    cfg = shared_cfg()
    keys = ('student_recorders', 'teacher_recorders', 'connectors',
            'distill_losses', 'loss_forward_mappings')
    group = {k: cfg.pop(k) for k in keys}
    model = build(dict(cfg, distill=group))
    assert list(model.connectors) == ['s4']
    calls = Calls(model.connectors.s4)
    model(**preprocess(model), mode='loss')
    assert len(calls.outputs) == 1
    with pytest.raises(
            ValueError,
            match='connectors is given both directly and in '
            'distill'):
        MODELS.build(dict(cfg, distill=group, connectors=dict(s4=S4)))


def test_shared_connector_on_several_levels_is_one_module():
    """index=[3, -1] names the same level twice: one projection."""
    cfg = shared_cfg(
        losses=['loss_swtat'],
        student_recorders=dict(feats='backbone'),
        teacher_recorders=dict(feats='backbone'),
        student=dict(recorder='feats', index=[3, -1], connector='s4'),
        teacher=dict(recorder='feats', index=[3, 3]),
        teacher_forward='tensor')
    model = build(cfg)
    assert list(model.connectors) == ['s4']
    assert isinstance(model.connectors.s4, torch.nn.Module) and not \
        isinstance(model.connectors.s4, torch.nn.ModuleList)
    levels = model.distill_losses.loss_swtat
    assert len(levels) == 2
    calls = Calls(model.connectors.s4)
    inputs = [Inputs(m) for m in levels]
    losses = model(**preprocess(model), mode='loss')
    assert len(calls.outputs) == 1
    assert all(i.args[0][0] is calls.outputs[0] for i in inputs)
    expected = sum(m(*i.args[0]) for m, i in zip(levels, inputs))
    assert torch.allclose(losses['loss_swtat'], expected, rtol=1e-6)


@pytest.mark.dry_run
def test_shared_connector_error_keeps_no_state(monkeypatch):
    cfg = shared_cfg()
    # loss_pmtat takes the raw 64-channel map: a channel error after s4 ran.
    cfg['loss_forward_mappings']['loss_pmtat']['student'] = 'feat'
    with pytest.raises(ValueError, match='student_channels=256'):
        build(cfg)  # at build (dry run)
    # Without the dry run (a model it cannot run): at the first step.
    monkeypatch.setattr(
        MODELS.get('mmswtat.SingleTeacherDistiller'), 'check_at_build', False)
    model = build(cfg)
    calls = Calls(model.connectors.s4)
    with pytest.raises(ValueError, match='student_channels=256'):
        model(**preprocess(model), mode='loss')
    assert len(calls.outputs) == 1
    with pytest.raises(ValueError, match='student_channels=256'):
        model(**preprocess(model), mode='loss')
    assert len(calls.outputs) == 2  # nothing cached across calls


def test_select_feature_outside_a_step_runs_the_connector():
    """Analysis tools call select_feature directly: nothing is cached."""
    model = build(shared_cfg())
    feat = torch.randn(2, C_S, 4, 4)
    calls = Calls(model.connectors.s4)
    for _ in range(2):
        out = model.select_feature(dict(feat=feat), 'loss_swtat', 'student')
    assert len(calls.outputs) == 2 and out.shape == (2, C_T, 4, 4)


def test_head_loss_inputs_share_within_one_call():
    """The head yields every loss's inputs; s4 runs once per call."""
    model = build(shared_cfg())
    student = dict(feat=torch.randn(2, C_S, 4, 4))
    teacher = dict(feat=torch.randn(2, C_T, 4, 4))
    calls = Calls(model.connectors.s4)
    with torch.no_grad():
        items = list(model.loss_bank.loss_inputs(student, teacher))
    assert [(i.name, i.level) for i in items] == [('loss_swtat', None),
                                                  ('loss_pmtat', None)]
    assert items[0].module is model.distill_losses.loss_swtat
    assert len(calls.outputs) == 1
    assert items[0].student is items[1].student is calls.outputs[0]
    assert items[0].teacher is teacher['feat']
    with torch.no_grad():
        only = list(
            model.loss_bank.loss_inputs(
                student, teacher, names=['loss_pmtat']))
    assert [i.name for i in only] == ['loss_pmtat']
    assert len(calls.outputs) == 2
    with torch.no_grad():
        got = model.compute_distill_losses(student, teacher)
    for item in items:
        torch.testing.assert_close(got[item.name],
                                   item.module(item.student, item.teacher))


def test_unknown_shared_connector_name():
    with pytest.raises(
            ValueError,
            match=r"\['loss_swtat'\]\['student'\]: connector 's5' is not a "
            r"shared connector \(defined: \['s4'\]\); define it with "
            r'connectors=dict\(s5=dict\(type=\.\.\.\)\)'):
        MODELS.build(shared_cfg(student=dict(recorder='feat', connector='s5')))
    with pytest.raises(ValueError, match=r'\(defined: \[\]\)'):
        MODELS.build(shared_cfg(connectors=None))


def test_shared_connector_name_collision_and_invalid_names():
    with pytest.raises(
            ValueError,
            match="name 'loss_pmtat_student' collides with the "
            "per-loss connector key 'loss_pmtat_student' of "
            "distill loss 'loss_pmtat'"):
        MODELS.build(shared_cfg(connectors=dict(s4=S4, loss_pmtat_student=S4)))
    with pytest.raises(
            ValueError,
            match=r"name 'layer4\.proj' is not a "
            r"valid module name.*without '\.'"):
        MODELS.build(shared_cfg(connectors={'s4': S4, 'layer4.proj': S4}))
    with pytest.raises(
            ValueError, match="'keys' is an attribute of "
            'nn.ModuleDict'):
        MODELS.build(shared_cfg(connectors=dict(s4=S4, keys=S4)))
    with pytest.raises(
            ValueError,
            match=r"connectors\['s4'\] must be a "
            'registered module config'):
        MODELS.build(shared_cfg(connectors=dict(s4='ConvBNConnector')))


def test_learnable_teacher_connector_is_rejected():
    teacher_s4 = dict(
        type='mmswtat.ConvBNConnector', in_channels=C_T, out_channels=C_T)
    fix = 'Put the projection on the student side'
    # Shared, referenced from the teacher side.
    with pytest.raises(
            ValueError,
            match=r"\['loss_swtat'\]\['teacher'\]: "
            r"shared connector 't4' \(ConvBNConnector\) on the "
            r'teacher side has trainable parameters.*' + fix):
        MODELS.build(
            shared_cfg(
                connectors=dict(s4=S4, t4=teacher_s4),
                teacher=dict(recorder='feat', connector='t4')))
    # Per-loss.
    with pytest.raises(
            ValueError,
            match=r"\['loss_swtat'\]\['teacher'\]: "
            r'connector \(ConvBNConnector\) on the teacher side '
            'has trainable parameters.*' + fix):
        MODELS.build(
            shared_cfg(teacher=dict(recorder='feat', connector=teacher_s4)))


def test_parameter_free_teacher_connectors_are_allowed():
    resize = dict(type='mmswtat.ResizeConnector', size=4)
    for shared, teacher in ((dict(s4=S4, t4=resize),
                             dict(recorder='feat', connector='t4')),
                            (dict(s4=S4),
                             dict(recorder='feat', connector=resize))):
        model = build(shared_cfg(connectors=shared, teacher=teacher))
        losses = model(**preprocess(model), mode='loss')
        assert torch.isfinite(losses['loss_swtat'])


def test_unused_shared_connector_warns():
    with pytest.warns(
            UserWarning, match=r"shared connectors \['t4'\] are "
            'not referenced'):
        build(
            shared_cfg(
                connectors=dict(
                    s4=S4, t4=dict(type='mmswtat.ResizeConnector', size=4))))


@pytest.mark.dry_run
def test_connector_width_must_match_the_loss_at_build_time():
    # The usual slip: a 64 -> 256 connector added, student_channels left at
    # the recorded width. One clear error at build time, naming the fix.
    losses = dict(LOSSES)
    losses['loss_pmtat'] = dict(
        losses['loss_pmtat'], student_channels=C_S, embed=True)
    with pytest.raises(
            ValueError,
            match=r"'loss_pmtat' declares student_channels=64, "
            r"but shared connector 's4' outputs 256 channels; "
            r'set student_channels=256'):
        MODELS.build(shared_cfg(distill_losses=losses))
    per_loss = dict(recorder='feat', connector=S4)
    with pytest.raises(ValueError, match='its student connector outputs 256'):
        MODELS.build(
            shared_cfg(('loss_pmtat', ),
                       student=per_loss,
                       connectors=None,
                       distill_losses=dict(loss_pmtat=losses['loss_pmtat'])))
