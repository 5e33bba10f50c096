"""SingleTeacherDistiller on tiny mmseg models."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from seg_helpers import build_tiny_distiller as build
from seg_helpers import distiller_cfg, seg_batch
from seg_helpers import seg_loss_step as loss_step

from mmswtat.registry import MODELS

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def test_teacher_frozen_in_eval_and_outside_state_dict():
    model = build()
    model.train()
    assert model.student.training
    assert not model.teacher.training
    assert all(not m.training for m in model.teacher.modules())
    assert all(not p.requires_grad for p in model.teacher.parameters())
    keys = model.state_dict().keys()
    assert not any(k.startswith('teacher') for k in keys)
    assert any(k.startswith('student.backbone') for k in keys)
    assert any(
        k.startswith('distill_losses.loss_swtat.key_embed') for k in keys)
    # The teacher is not a submodule: not in parameters() (optimizer, DDP).
    teacher_ids = {id(p) for p in model.teacher.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}


def test_device_and_dtype_moves_reach_the_teacher():
    model = build()
    model.double()
    assert all(p.dtype == torch.float64 for p in model.teacher.parameters())
    model.float()
    assert all(p.dtype == torch.float32 for p in model.teacher.parameters())


def test_losses_keyed_and_gradients():
    model = build()
    model.train()
    losses = loss_step(model)
    assert {'decode.loss_ce', 'decode.acc_seg', 'loss_swtat',
            'loss_pmtat'} <= set(losses)
    assert all(k.startswith('loss_') for k in ('loss_swtat', 'loss_pmtat'))
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    embed = model.distill_losses.loss_swtat.key_embed.conv.weight
    assert embed.grad is not None and embed.grad.abs().sum() > 0
    assert model.student.backbone.layer4[0].conv1.weight.grad.abs().sum() > 0


def test_task_losses_unchanged():
    """The student's own losses equal those of the student trained alone."""
    model = build()
    model.train()
    data = model.data_preprocessor(seg_batch(), True)
    torch.manual_seed(1)
    losses = model(**data, mode='loss')
    torch.manual_seed(1)
    alone = model.student.loss(**data)
    for key, value in alone.items():
        assert torch.equal(losses[key], value), key


def test_recorded_features_released():
    model = build()
    model.train()
    loss_step(model)
    assert model.student_recorder.records == {}
    assert model.teacher_recorder.records == {}
    # predict mode records nothing either
    model.eval()
    data = model.data_preprocessor(seg_batch(), False)
    out = model(**data, mode='predict')
    assert len(out) == 2 and hasattr(out[0], 'pred_sem_seg')
    assert model.student_recorder.records == {}


def test_teacher_early_exit_matches_full_forward():
    model = build()
    model.train()
    data = model.data_preprocessor(seg_batch(), True)
    captured = {}

    def grab(m, i, o):
        captured['full'] = o.clone()

    handle = model.teacher.backbone.layer4.register_forward_hook(grab)
    with torch.no_grad():
        model.teacher(data['inputs'], data['data_samples'], mode='tensor')
    handle.remove()
    calls = []
    head = model.teacher.decode_head.register_forward_hook(
        lambda *a: calls.append(1))
    records = model.run_teacher(data['inputs'], data['data_samples'])
    head.remove()
    assert calls == [], 'the teacher ran its decode head'
    assert torch.equal(records['feat'], captured['full'])
    assert model.teacher_recorder.records == {}  # released on exit


def test_teacher_weights_and_bn_stats_untouched_by_training():
    model = build()
    before = copy.deepcopy(model.teacher.state_dict())
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train()
    for seed in range(3):
        model.train_step(seg_batch(seed=seed), optim)
    after = model.teacher.state_dict()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key


def test_wrong_recorder_path_lists_candidates():
    with pytest.raises(ValueError, match=r"backbone\.layer4") as err:
        build(student_recorders=dict(feat='backbone.layr4'))
    assert 'Nearest module names' in str(err.value)


def test_undefined_recorder_in_mapping():
    with pytest.raises(ValueError, match="recorders are \\['feat'\\]"):
        build(
            loss_forward_mappings=dict(
                loss_swtat=dict(student='nope', teacher='feat'),
                loss_pmtat=dict(student='feat', teacher='feat')))


def at_first_step_only(monkeypatch):
    """Build without the build-time dry run (as for a model it cannot run
    on a dummy batch): the same checks then happen at the first step."""
    monkeypatch.setattr(
        MODELS.get('mmswtat.SingleTeacherDistiller'), 'check_at_build', False)


@pytest.mark.dry_run
def test_tuple_index_out_of_range(monkeypatch):
    kw = dict(
        student_recorders=dict(
            feat='backbone.layer4', bad=dict(module='backbone', index=7)),
        loss_forward_mappings=dict(
            loss_swtat=dict(student='feat', teacher='feat'),
            loss_pmtat=dict(student='bad', teacher='feat')))
    words = (r"student recorder 'bad' \('backbone'\): index 7 out of range, "
             'it has 4 outputs')
    with pytest.raises(IndexError, match=words):  # at build (dry run)
        build(**kw)
    at_first_step_only(monkeypatch)
    model = build(**kw)
    model.train()
    with pytest.raises(IndexError, match=words):
        loss_step(model)
    assert model.student_recorder.records == {}


def test_recorder_that_feeds_no_loss_warns():
    with pytest.warns(
            UserWarning,
            match=r"student_recorders\['extra'\] "
            'feed no distillation loss'):
        build(
            student_recorders=dict(
                feat='backbone.layer4', extra='backbone.layer3'),
            loss_forward_mappings=dict(
                loss_swtat=dict(student='feat', teacher='feat'),
                loss_pmtat=dict(student='feat', teacher='feat')))


@pytest.mark.dry_run
def test_channel_mismatch_names_the_loss(monkeypatch):
    cfg = distiller_cfg()
    cfg['distill_losses']['loss_swtat']['student_channels'] = 32
    words = ("distill loss 'loss_swtat': SWTaTLoss: student_channels=32 .* "
             '64 channels')
    with pytest.raises(ValueError, match=words):  # at build (dry run)
        MODELS.build(cfg)
    at_first_step_only(monkeypatch)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.train()
    with pytest.raises(ValueError, match=words):
        loss_step(model)


def test_loss_names_must_start_with_loss():
    cfg = distiller_cfg()
    cfg['distill_losses']['swtat'] = cfg['distill_losses'].pop('loss_swtat')
    cfg['loss_forward_mappings'].pop('loss_swtat')
    with pytest.raises(ValueError, match="rename it to 'loss_swtat'"):
        MODELS.build(cfg)


def test_no_losses_warns():
    with pytest.warns(UserWarning, match='nothing is distilled'):
        build(distill_losses=dict(), loss_forward_mappings=dict())


def test_distill_grouping_and_conflict():
    cfg = distiller_cfg()
    group = {
        k: cfg.pop(k)
        for k in ('student_recorders', 'teacher_recorders', 'distill_losses',
                  'loss_forward_mappings')
    }
    model = MODELS.build(dict(cfg, distill=group))
    assert set(model.distill_losses) == {'loss_swtat', 'loss_pmtat'}
    with pytest.raises(ValueError, match='both directly and in distill'):
        MODELS.build(
            dict(
                cfg,
                distill=group,
                student_recorders=dict(feat='backbone.layer4')))


def test_cfg_path_that_does_not_resolve():
    with pytest.raises(ValueError, match='does not resolve'):
        build(teacher=dict(cfg_path='mmseg::nope/missing.py'))
    with pytest.raises(ValueError, match='does not resolve'):
        build(teacher=dict(cfg_path='/no/such/config.py'))


def test_teacher_ckpt_missing_and_wrong_architecture(tmp_path):
    with pytest.raises(FileNotFoundError, match='model.teacher_ckpt'):
        build(teacher_ckpt=str(tmp_path / 'missing.pth'))
    # A student checkpoint given as the teacher's: keys/shapes do not fit.
    student = build().student
    path = tmp_path / 'r18.pth'
    torch.save(dict(state_dict=student.state_dict()), path)
    with pytest.raises(RuntimeError, match='teacher checkpoint'):
        build(teacher_ckpt=str(path))
    # Another architecture with matching shapes but other keys.
    torch.save(dict(state_dict={'foo.weight': torch.zeros(1)}), path)
    with pytest.raises(RuntimeError, match='missing keys .*unexpected keys'):
        build(teacher_ckpt=str(path))


def test_teacher_ckpt_loads_exactly(tmp_path):
    teacher = build().teacher
    torch.nn.init.constant_(teacher.backbone.stem[0].weight, 0.5)
    path = tmp_path / 't.pth'
    torch.save(
        dict(state_dict={
            f'module.{k}': v
            for k, v in teacher.state_dict().items()
        }), path)
    model = build(teacher_ckpt=str(path))
    for k, v in teacher.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[k], v)


def test_unreachable_url_is_a_clear_error(monkeypatch):

    def offline(*args, **kwargs):
        raise OSError('network is unreachable')

    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', offline)
    with pytest.raises(RuntimeError, match='could not be downloaded'):
        build(teacher_ckpt='https://example.invalid/t.pth')


def test_non_finite_loss_raises_with_name():
    model = build()
    model.train()
    with torch.no_grad():
        model.distill_losses.loss_swtat.value_embed.conv.weight.fill_(
            float('nan'))
    with pytest.raises(FloatingPointError, match=r"\['loss_swtat'\]"):
        loss_step(model)


def test_warmup_schedule():
    from mmengine.logging import MessageHub
    model = build(distill_warmup_iters=4)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    assert model.distill_weight() == pytest.approx(0.25)
    hub.update_info('iter', 10)
    assert model.distill_weight() == 1.0


def test_multi_level_losses_with_per_level_settings():
    """One loss setting over several levels of a tuple output."""
    levels = [1, 2, 3]
    channels_s = [16, 32, 64]  # ResNet18 base 8: stages 1..3
    channels_t = [64, 128, 256]  # ResNet50 base 8
    cfg = distiller_cfg(
        student_recorders=dict(feats='backbone'),
        teacher_recorders=dict(feats='backbone'),
        distill_losses=dict(
            loss_levels=dict(
                type='mmswtat.SWTaTLoss',
                student_channels=16,
                teacher_channels=64,
                window_size=4,
                shift_size=2,
                per_level=dict(
                    student_channels=channels_s,
                    teacher_channels=channels_t,
                    window_size=[4, 2, 2],
                    shift_size=[2, 1, 1],
                    loss_weight=[1.0, 0.5, 0.0]))),
        loss_forward_mappings=dict(
            loss_levels=dict(
                student=dict(recorder='feats', index=levels),
                teacher=dict(recorder='feats', index=levels))))
    cfg['teacher_forward'] = 'tensor'
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    mods = model.distill_losses.loss_levels
    assert len(mods) == 3
    assert [m.window_size for m in mods] == [(4, 4), (2, 2), (2, 2)]
    model.train()
    data = model.data_preprocessor(seg_batch(), True)
    t = model.run_teacher(data['inputs'], data['data_samples'])['feats']
    losses = model(**data, mode='loss')
    # Equal to the sum of the level losses on the recorded levels.
    with model.student_recorder as recorder:
        model.student.loss(**data)
        s = recorder.records['feats']
    assert model.student_recorder.records == {}
    expected = sum(mods[i](s[lv], t[lv]) for i, lv in enumerate(levels))
    assert torch.allclose(losses['loss_levels'], expected, rtol=1e-5)


@pytest.mark.dry_run
def test_multi_level_mismatched_lists_and_bad_level_index(monkeypatch):
    base = dict(
        student_recorders=dict(feats='backbone'),
        teacher_recorders=dict(feats='backbone'),
        distill_losses=dict(
            loss_levels=dict(
                type='mmswtat.SWTaTLoss',
                student_channels=64,
                teacher_channels=256)))
    with pytest.raises(ValueError, match='lists of equal length'):
        build(
            **base,
            loss_forward_mappings=dict(
                loss_levels=dict(
                    student=dict(recorder='feats', index=[2, 3]),
                    teacher=dict(recorder='feats', index=[3]))))
    kw = dict(
        base,
        teacher_forward='tensor',
        loss_forward_mappings=dict(
            loss_levels=dict(
                student=dict(recorder='feats', index=[9]),
                teacher=dict(recorder='feats', index=[3]))))
    with pytest.raises(IndexError, match='index 9 out of range'):
        build(**kw)  # at build (dry run)
    at_first_step_only(monkeypatch)
    model = build(**kw)
    model.train()
    with pytest.raises(IndexError, match='index 9 out of range'):
        loss_step(model)


# ------------------------------------------------- teacher normalisation
CAFFE = dict(
    type='SegDataPreProcessor',
    mean=[103.53, 116.28, 123.675],
    std=[1.0, 1.0, 1.0],
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size=(32, 32))


def _teacher_with(preprocessor):
    teacher = copy.deepcopy(distiller_cfg()['teacher'])
    teacher['data_preprocessor'] = preprocessor
    return teacher


def test_teacher_with_other_normalisation_gets_its_own_inputs():
    # A caffe-style teacher (BGR, mean only) under an RGB mean/std student:
    # the re-normalised batch equals what the teacher's own preprocessor
    # makes of the same images.
    model = build(teacher=_teacher_with(CAFFE))
    batch = seg_batch(seed=3)
    student_in = model.data_preprocessor(copy.deepcopy(batch), True)['inputs']
    own = model.teacher.data_preprocessor(copy.deepcopy(batch), True)['inputs']
    assert not torch.allclose(student_in, own)
    torch.testing.assert_close(
        model.teacher_inputs(student_in), own, rtol=1e-5, atol=1e-4)
    assert model.teacher_inputs(student_in).dtype == student_in.dtype
    assert not any('_teacher' in k for k in model.state_dict())

    seen = {}
    handle = model.teacher.backbone.register_forward_pre_hook(
        lambda module, args: seen.setdefault('x', args[0]))
    try:
        model.run_teacher(student_in, None)
    finally:
        handle.remove()
    torch.testing.assert_close(seen['x'], own, rtol=1e-5, atol=1e-4)


def test_teacher_with_the_same_normalisation_gets_the_same_tensor():
    model = build()
    x = torch.randn(2, 3, 32, 32)
    assert model.teacher_inputs(x) is x


def test_teacher_normalisation_with_other_channel_count_is_an_error():
    gray = dict(CAFFE, mean=[120.0], std=[60.0])
    with pytest.raises(
            ValueError,
            match='normalises 3 channels and the '
            'teacher preprocessor 1'):
        build(teacher=_teacher_with(gray))
