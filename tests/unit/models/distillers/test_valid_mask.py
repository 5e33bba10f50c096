"""``valid_mask`` in loss_forward_mappings: dense logit losses ignore the
pixels whose gt_sem_seg label is the ignore index (tiny mmseg models)."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope
from seg_helpers import SIZE, tiny_seg_model

from mmswtat.models.distillers import DistillSpec
from mmswtat.models.distillers.valid_mask import level_mask, stack_labels
from mmswtat.registry import MODELS
from mmswtat.testing import random_seg_batch

STRIDE = 8  # the tiny D8 models' logits are SIZE / 8 = 4 pixels wide

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def kd_cfg(valid_mask=dict(ignore_index=255), loss=None, **model):
    return dict(
        type='mmswtat.SingleTeacherDistiller',
        student=model.get('student', tiny_seg_model(18)),
        teacher=tiny_seg_model(50),
        student_recorders=dict(logits='decode_head.conv_seg'),
        teacher_recorders=dict(logits='decode_head.conv_seg'),
        distill_losses=dict(
            loss_kd=loss or dict(type='mmswtat.KDLoss', tau=2.0)),
        loss_forward_mappings=dict(
            loss_kd=dict(
                student='logits', teacher='logits', valid_mask=valid_mask)))


@pytest.fixture(scope='module')
def model():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(kd_cfg()).train()


def batch(ignore_rows=9, block=True, relabel=False):
    """Two samples; rows ``< ignore_rows`` and (sample 1) a block are 255."""
    raw = random_seg_batch(2, SIZE, 4, seed=0, ignore_rows=ignore_rows)
    labels = raw['data_samples'][1].gt_sem_seg.data
    if block:
        labels[:, 16:32, 8:24] = 255
    for ds in raw['data_samples']:
        gt = ds.gt_sem_seg.data
        if relabel:  # other classes, the same ignored pixels
            gt[gt != 255] = (gt[gt != 255] + 1) % 4
    return raw


def step(model, raw):
    """One loss step; the logits the loss saw (student keeps its grad)."""
    seen = {}

    def keep(role):

        def hook(module, args, out):
            if role == 'student':
                out.retain_grad()
            seen[role] = out

        return hook

    # prepend: before the teacher recorder's hook stops its forward
    handles = [
        getattr(model, role).decode_head.conv_seg.register_forward_hook(
            keep(role), prepend=True) for role in ('student', 'teacher')
    ]
    try:
        data = model.data_preprocessor(copy.deepcopy(raw), True)
        torch.manual_seed(1)  # the same dropout in every step
        losses = model(**data, mode='loss')
    finally:
        for h in handles:
            h.remove()
    return losses, seen, data


def mask_by_hand(data, ignore_index=255):
    """labels != ignore_index at the logit pixels (nearest: every 8th)."""
    labels = torch.stack(
        [ds.gt_sem_seg.data[0] for ds in data['data_samples']])
    return labels[:, ::STRIDE, ::STRIDE] != ignore_index


def kd_reference(student, teacher, mask, tau=2.0):
    """tau^2 * sum_valid KL(p_t || p_s) / #valid, float64, per pixel loop."""
    s, t = student.detach().double(), teacher.detach().double()
    total, count = 0.0, 0
    n, _, h, w = t.shape
    for i in range(n):
        for y in range(h):
            for x in range(w):
                if not mask[i, y, x]:
                    continue
                p_t = torch.softmax(t[i, :, y, x] / tau, 0)
                p_s = torch.softmax(s[i, :, y, x] / tau, 0)
                total += float((p_t * (p_t.log() - p_s.log())).sum())
                count += 1
    return tau**2 * total / max(count, 1)


def test_masked_kd_is_the_hand_computed_loss(model):
    losses, seen, data = step(model, batch())
    assert seen['student'].shape[-2:] == (SIZE // STRIDE, SIZE // STRIDE)
    mask = mask_by_hand(data)
    assert 0 < int(mask.sum()) < mask.numel()  # some pixels are ignored
    want = kd_reference(seen['student'], seen['teacher'], mask)
    assert losses['loss_kd'].item() == pytest.approx(want, rel=1e-5)
    unmasked = kd_reference(seen['student'], seen['teacher'],
                            torch.ones_like(mask))
    assert abs(unmasked - want) > 1e-4 * abs(want)  # the mask matters


def test_the_loss_follows_the_ignored_pixels_only(model):
    base, _, _ = step(model, batch())
    relabelled, _, _ = step(model, batch(relabel=True))
    assert relabelled['loss_kd'].item() == base['loss_kd'].item()
    assert relabelled['decode.loss_ce'].item() != base['decode.loss_ce'].item()
    for kw in (dict(block=False), dict(ignore_rows=0)):
        other, seen, data = step(model, batch(**kw))
        assert other['loss_kd'].item() != pytest.approx(
            base['loss_kd'].item(), rel=1e-4)
        assert other['loss_kd'].item() == pytest.approx(
            kd_reference(seen['student'], seen['teacher'], mask_by_hand(data)),
            rel=1e-5)


def test_no_gradient_at_ignored_pixels(model):
    model.zero_grad()
    losses, seen, data = step(model, batch())
    losses['loss_kd'].backward()
    grad = seen['student'].grad.abs().sum(1)  # (N, h, w)
    mask = mask_by_hand(data)
    assert float(grad[~mask].max()) == 0
    assert bool((grad[mask] > 0).all())


def test_true_takes_the_student_decode_heads_ignore_index():
    student = tiny_seg_model(18)
    student['decode_head']['ignore_index'] = 3  # a real class as ignored
    torch.manual_seed(0)
    model = MODELS.build(kd_cfg(valid_mask=True, student=student)).train()
    assert model.spec.routes['loss_kd'].valid_mask == 3
    losses, seen, data = step(model, batch(ignore_rows=0, block=False))
    mask = mask_by_hand(data, ignore_index=3)
    assert 0 < int(mask.sum()) < mask.numel()
    assert losses['loss_kd'].item() == pytest.approx(
        kd_reference(seen['student'], seen['teacher'], mask), rel=1e-5)


def test_one_mask_per_level_size():
    """Multi-level: each level's mask is on that level's grid."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='mmswtat.SingleTeacherDistiller',
            student=tiny_seg_model(18),
            teacher=tiny_seg_model(18),
            student_recorders=dict(feats='backbone'),
            teacher_recorders=dict(feats='backbone'),
            distill_losses=dict(loss_dist=dict(type='mmswtat.DISTLoss')),
            loss_forward_mappings=dict(
                loss_dist=dict(
                    student=dict(recorder='feats', index=[0, 3]),
                    teacher=dict(recorder='feats', index=[0, 3]),
                    valid_mask=dict(ignore_index=255))))).train()
    data = model.data_preprocessor(batch(), True)
    student, teacher = model.record_features(data['inputs'],
                                             data['data_samples'])
    labels = stack_labels(data['data_samples'], ['loss_dist'])
    assert labels.shape == (2, 1, SIZE, SIZE)
    items = list(model.loss_bank.loss_inputs(student, teacher, labels=labels))
    assert [i.teacher.shape[-1] for i in items] == [8, 4]  # layer1, layer4
    for item, stride in zip(items, (4, 8)):
        want = labels[:, 0, ::stride, ::stride] != 255
        assert torch.equal(item.valid_mask, want)
    total = model.compute_distill_losses(student, teacher, labels)
    ref = sum(
        i.module(i.student, i.teacher, valid_mask=i.valid_mask) for i in items)
    assert total['loss_dist'].item() == pytest.approx(ref.item(), rel=1e-6)
    with pytest.raises(ValueError, match=r'ask for a valid_mask; pass'):
        model.compute_distill_losses(student, teacher)


def test_a_loss_without_mask_support_is_a_build_error():
    cfg = kd_cfg(loss=dict(type='mmswtat.FeatureMSELoss'))
    with pytest.raises(ValueError) as e:
        MODELS.build(cfg)
    msg = str(e.value)
    assert "'loss_kd' (FeatureMSELoss) takes no valid_mask" in msg
    assert "remove valid_mask from loss_forward_mappings['loss_kd']" in msg
    assert 'KDLoss' in msg and 'DISTLoss' in msg


def test_a_batch_without_gt_sem_seg_names_the_key(model):
    data = model.data_preprocessor(batch(), True)
    for ds in data['data_samples']:
        del ds.gt_sem_seg
    with pytest.raises(ValueError) as e:
        model(**data, mode='loss')
    msg = str(e.value)
    assert "loss_forward_mappings['loss_kd']['valid_mask']" in msg
    assert 'no gt_sem_seg' in msg and 'remove the valid_mask key' in msg


def spec(valid_mask, **extra):
    return DistillSpec.from_config(
        student_recorders=dict(logits='head'),
        teacher_recorders=dict(logits='head'),
        distill_losses=dict(loss_kd=dict(type='mmswtat.KDLoss')),
        loss_forward_mappings=dict(
            loss_kd=dict(
                student='logits',
                teacher='logits',
                valid_mask=valid_mask,
                **extra)))


def test_spec_forms_and_bad_values():
    assert spec(None).routes['loss_kd'].valid_mask is None
    assert spec(False).routes['loss_kd'].valid_mask is None
    assert spec(True).routes['loss_kd'].valid_mask is True
    assert spec(dict(ignore_index=0)).routes['loss_kd'].valid_mask == 0
    for bad in (255, 'yes', dict(ignore_index='255'), dict(ignore=255),
                dict(ignore_index=True)):
        with pytest.raises(
                ValueError,
                match=r"\['valid_mask'\] must be "
                r'True .*dict\(ignore_index=255\)'):
            spec(bad)
    with pytest.raises(
            ValueError, match=r"unknown keys \['valid_masks'\] \(allowed"):
        spec(None, valid_masks=True)


def test_labels_and_dense_teacher_errors():
    same = [torch.zeros(1, 8, 8, dtype=torch.long)] * 2
    stacked = stack_labels([_Sample(x) for x in same], ['loss_kd'])
    assert stacked.shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match='differ in size'):
        stack_labels(
            [_Sample(same[0]), _Sample(torch.zeros(1, 8, 6))], ['loss_kd'])
    with pytest.raises(
            ValueError,
            match=r'needs dense teacher logits .* '
            r"remove valid_mask from loss_forward_mappings"):
        level_mask('loss_kd', 255, stacked, torch.zeros(2, 4), {})


class _Sample:

    def __init__(self, data):
        self.gt_sem_seg = type('PixelData', (), dict(data=data))()
