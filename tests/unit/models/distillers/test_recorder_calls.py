"""A recorder on a module that runs several times in one forward (ResNet
blocks reuse one ``relu``): an error naming the module and the count,
unless the config says which call (``call=``)."""
import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope
from seg_helpers import distiller_cfg

from mmswtat.models.distillers.recorder import (FeatureRecorder,
                                                RecorderCallError, StopForward)
from mmswtat.registry import MODELS


class Reuse(nn.Module):
    """``act`` runs three times: on x, x + 1, x + 2."""

    def __init__(self):
        super().__init__()
        self.act = nn.Identity()

    def forward(self, x):
        return [self.act(x + i) for i in range(3)]


def record(calls=None, stop=False):
    model = Reuse()
    rec = FeatureRecorder(
        model, dict(a='act'), 'student', stop_when_done=stop, calls=calls)
    x = torch.zeros(2)
    with rec:
        try:
            model(x)
        except StopForward:
            pass
        return rec.collect('the test'), dict(rec.counts)


def test_a_module_run_three_times_is_an_error_naming_it():
    with pytest.raises(
            RecorderCallError,
            match=r"student recorder 'a': the module 'act' ran 3 "
            r'times in one forward .* call=-1\) \(the last\)'):
        record()


@pytest.mark.parametrize('call, value', [(0, 0.0), (1, 1.0), (2, 2.0),
                                         (-1, 2.0), (-2, 1.0), (-3, 0.0)])
def test_the_configured_call_is_recorded(call, value):
    feats, counts = record({'a': call})
    assert counts == {'a': 3}
    assert torch.equal(feats['a'], torch.full((2, ), value))


def test_a_call_beyond_the_count_is_an_error():
    with pytest.raises(
            RecorderCallError,
            match=r"call=3 but the module 'act' ran 3 time\(s\) in one "
            'forward; use a call from -3 to 2'):
        record({'a': 3})
    with pytest.raises(RecorderCallError, match='use a call from -3 to 2'):
        record({'a': -4})


def test_early_stop_waits_for_the_call():
    feats, counts = record({'a': 1}, stop=True)  # stops right after call 1
    assert counts == {'a': 2} and torch.equal(feats['a'], torch.ones(2))
    feats, counts = record({'a': -1}, stop=True)  # the last: no early stop
    assert counts == {
        'a': 3
    } and torch.equal(feats['a'], torch.full((2, ), 2.))


@pytest.mark.dry_run
def test_distiller_build_refuses_a_reused_relu_of_either_side():
    """The probe's case: layer4.1.relu (a BasicBlock's relu runs twice,
    a Bottleneck's three times); the teacher, which stops early in
    training, is counted over its whole forward at the dry run."""
    init_default_scope('mmseg')
    with pytest.raises(
            RecorderCallError,
            match="teacher recorder 'feat': the module "
            "'backbone.layer4.1.relu' ran 3 times"):
        MODELS.build(
            distiller_cfg(
                student_recorders=dict(feat='backbone.layer4.1'),
                teacher_recorders=dict(feat='backbone.layer4.1.relu')))
    with pytest.raises(
            RecorderCallError,
            match="student recorder 'feat': the module "
            "'backbone.layer4.1.relu' ran 2 times"):
        MODELS.build(
            distiller_cfg(
                student_recorders=dict(feat='backbone.layer4.1.relu'),
                teacher_recorders=dict(feat='backbone.layer4.1')))
    # the fix the message advises builds, and call=-1 is the block output
    model = MODELS.build(
        distiller_cfg(
            student_recorders=dict(
                feat=dict(module='backbone.layer4.1.relu', call=-1)),
            teacher_recorders=dict(
                feat=dict(module='backbone.layer4.1.relu', call=-1),
                out='backbone.layer4.1')))
    teacher = model.frozen_teacher
    with torch.no_grad():
        feats = teacher(torch.randn(1, 3, 32, 32))
    assert torch.equal(feats['feat'], feats['out'])


def test_call_must_be_an_int():
    init_default_scope('mmseg')
    with pytest.raises(ValueError, match='call must be an int'):
        MODELS.build(
            distiller_cfg(
                student_recorders=dict(
                    feat=dict(module='backbone.layer4', call='last'))))
