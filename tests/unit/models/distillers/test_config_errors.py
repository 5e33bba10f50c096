"""Bad configs and batches: one clear error naming the mistake."""
import pytest
import torch
from seg_helpers import build_tiny_distiller as build
from seg_helpers import distiller_cfg, seg_batch
from seg_helpers import seg_loss_step as loss_step

from mmswtat.registry import MODELS
from mmswtat.utils.value_checks import ConfigTypeError

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def test_random_teacher_warned_at_the_first_step_not_at_test(monkeypatch):
    from mmswtat.models.distillers import single_teacher_distiller as mod
    calls = []
    monkeypatch.setattr(mod, 'warn_random_teacher', lambda: calls.append(1))
    model = build()
    model.eval()
    data = model.data_preprocessor(seg_batch(), False)
    model(**data, mode='predict')
    assert calls == []
    model.train()
    loss_step(model)
    loss_step(model)
    assert calls == [1]


# ------------------------------------------------------ config values (build)
def swtat(**kw):
    cfg = dict(
        type='mmswtat.SWTaTLoss',
        student_channels=64,
        teacher_channels=256,
        window_size=2,
        shift_size=1)
    cfg.update(kw)
    return cfg


def one_loss(cfg, name='loss_x'):
    return dict(distill_losses={name: cfg}, loss_forward_mappings=None)


LOSS_VALUES = [
    (dict(loss_weight=-1), ValueError, 'loss_weight must be a number >= 0, '
     'got -1'),
    (dict(loss_weight='1.0'), ConfigTypeError, "loss_weight must be a number "
     r">= 0, got '1.0' \(a str: write 1.0 without quotes\)"),
    (dict(loss_weight=None), ConfigTypeError, 'loss_weight must be a number '
     '>= 0, got None'),
    (dict(scale=0), ValueError, 'scale must be a number > 0, got 0'),
    (dict(scale=-2.0), ValueError, 'scale must be a number > 0, got -2.0'),
    (dict(scale='sqrt'), ConfigTypeError, "scale must be a number or 'auto'"),
    (dict(num_heads='2'), ConfigTypeError, r"num_heads must be an int > 0, "
     r"got '2' \(a str: write 2 without quotes\)"),
    (dict(num_heads=3), ValueError, 'teacher_channels=256 cannot be split '
     'into num_heads=3'),
    (dict(embed='yes'), ConfigTypeError, 'embed must be True or False'),
    (dict(student_channels=64.5), ValueError, 'student_channels must be a '
     'whole number'),
    (dict(window_size=0), ValueError, 'window_size must be positive'),
    (dict(shift_size=2), ValueError, 'shift_size .* must be smaller than '
     'window_size'),
    (dict(
        type='mmswtat.PatchMergeTaTLoss',
        window_size=None,
        shift_size=None,
        num_merges=-1), ValueError, 'num_merges must be an int >= 0'),
    (dict(
        type='mmswtat.PatchMergeTaTLoss',
        window_size=None,
        shift_size=None,
        num_merges='many'), ConfigTypeError,
     "num_merges must be an int >= 0 or 'auto'"),
    (dict(
        type='mmswtat.PatchMergeTaTLoss',
        window_size=None,
        shift_size=None,
        num_merges='auto',
        max_tokens=0), ValueError, 'max_tokens must be an int >= 1'),
]


@pytest.mark.parametrize('kw,error,words', LOSS_VALUES)
def test_tat_loss_values_checked_at_build_naming_loss_and_key(
        kw, error, words):
    cfg = swtat(**kw)
    cfg = {
        k: v
        for k, v in cfg.items()
        if v is not None or k not in ('window_size', 'shift_size')
    }
    with pytest.raises(
            error, match=r"distill_losses\['loss_x'\]: \w+Loss: " + words):
        build(**one_loss(cfg))


PEER_VALUES = [
    (dict(type='mmswtat.KDLoss',
          tau=0), ValueError, 'KDLoss: tau must be a positive number'),
    (dict(type='mmswtat.KDLoss',
          tau='4'), ConfigTypeError, 'KDLoss: tau must be a positive number'),
    (dict(type='mmswtat.DISTLoss',
          beta=-1.0), ValueError, 'DISTLoss: beta must be a number >= 0'),
    (dict(type='mmswtat.ChannelWiseDivergence', loss_weight=-3), ValueError,
     'ChannelWiseDivergence: loss_weight must be a number >= 0'),
    (dict(type='mmswtat.FeatureMSELoss', loss_weight=[1.0]), ConfigTypeError,
     r'FeatureMSELoss: loss_weight must be a number >= 0, got \[1.0\]'),
    (dict(type='mmswtat.PKDLoss', loss_weight='6'), ConfigTypeError,
     r"PKDLoss: loss_weight must be a number >= 0, got '6' \(a str: write "
     r'6 without quotes\)'),
]


@pytest.mark.parametrize('cfg,error,words', PEER_VALUES)
def test_peer_loss_values_checked_at_build(cfg, error, words):
    with pytest.raises(error, match=r"distill_losses\['loss_x'\]: " + words):
        build(**one_loss(cfg))


def test_multi_level_value_names_the_level():
    levels = dict(feat='backbone')
    mapping = dict(
        student=dict(recorder='feat', index=[2, 3]),
        teacher=dict(recorder='feat', index=[2, 3]))
    cfg = swtat(
        per_level=dict(
            loss_weight=[1.0, -0.5],
            student_channels=[32, 64],
            teacher_channels=[128, 256]))
    with pytest.raises(
            ValueError,
            match=r"distill_losses\['loss_x'\] "
            r'\(level 1\): SWTaTLoss: loss_weight must be a '
            'number >= 0, got -0.5'):
        build(
            student_recorders=levels,
            teacher_recorders=levels,
            distill_losses=dict(loss_x=cfg),
            loss_forward_mappings=dict(loss_x=mapping))


@pytest.mark.parametrize('value,error,words', [
    (-5, ValueError, 'distill_warmup_iters must be an int >= 0, got -5'),
    (0.5, ValueError, 'distill_warmup_iters must be a whole number'),
    ('ten', ConfigTypeError, "distill_warmup_iters must be an int >= 0, "
     r"got 'ten' \(a str\)"),
])
def test_warmup_iters_checked(value, error, words):
    with pytest.raises(error, match=words):
        build(distill_warmup_iters=value)
    with pytest.raises(error, match=words):  # in distill= as well
        build(distill=dict(distill_warmup_iters=value))


def test_warmup_iters_whole_float_accepted():
    assert build(distill_warmup_iters=4.0).distill_warmup_iters == 4


@pytest.mark.parametrize('key', [
    'check_finite', 'weights_only', 'teacher_ckpt_strict',
    'student_ckpt_strict'
])
def test_flags_must_be_bool(key):
    with pytest.raises(
            ConfigTypeError,
            match=f"{key} must be True or False, "
            "got 'no'.*counts as True"):
        build(**{key: 'no'})


def test_containers_of_the_wrong_form():
    with pytest.raises(
            ConfigTypeError,
            match=r"student_recorders must be a "
            r"dict \{name: ...\}, got a list \['backbone.layer4'\]"
            r".*dict\(feat='backbone.layer4'\)"):
        build(student_recorders=['backbone.layer4'])
    with pytest.raises(ConfigTypeError, match='distill_losses must be a dict'):
        build(distill_losses=[swtat()])
    with pytest.raises(
            ConfigTypeError,
            match=r"distill_losses\['loss_x'\] must be a "
            'registered module config'):
        build(**one_loss('SWTaTLoss'))
    with pytest.raises(
            ConfigTypeError,
            match=r"loss_forward_mappings\["
            r"'loss_swtat'\] must be a dict"):
        build(loss_forward_mappings=dict(loss_swtat='feat', loss_pmtat=None))
    with pytest.raises(ConfigTypeError, match='distill must be a dict'):
        build(distill='x')
    with pytest.raises(ConfigTypeError, match=r'distill\[0\] must be a dict'):
        build(distill=['x'])  # a recipe: a list of fragment dicts


def test_indices_must_be_ints():
    with pytest.raises(
            ConfigTypeError,
            match=r"loss_forward_mappings\["
            r"'loss_x'\]\['student'\]: index must be an int"):
        build(
            student_recorders=dict(feat='backbone'),
            teacher_recorders=dict(feat='backbone'),
            distill_losses=dict(loss_x=swtat()),
            loss_forward_mappings=dict(
                loss_x=dict(
                    student=dict(recorder='feat', index='3'),
                    teacher=dict(recorder='feat', index=3))))
    with pytest.raises(
            ValueError,
            match="student recorder 'feat': index must "
            "be an int .*got '3'"):
        build(student_recorders=dict(feat=dict(module='backbone', index='3')))


# ----------------------------------------------------- --cfg-options typos
def test_cfg_options_typo_in_a_loss_name_suggests_the_real_one():
    from mmengine.config import Config
    cfg = Config(dict(model=distiller_cfg()))
    cfg.merge_from_dict({'model.distill_losses.loss_swatt.window_size': 4})
    with pytest.raises(
            ValueError,
            match=r"distill_losses\['loss_swatt'\] has "
            r"no 'type' \(it holds only window_size=4\)\. Did you "
            r"mean 'loss_swtat'\?.*distill_losses\.loss_swtat\."
            'window_size='):
        MODELS.build(cfg.model)


def test_connector_without_type_suggests_the_real_one():
    s4 = dict(type='mmswtat.ConvBNConnector', in_channels=64, out_channels=256)
    with pytest.raises(
            ValueError,
            match=r"connectors\['s5'\] has no 'type'"
            r".*Did you mean 's4'\?"):
        build(connectors=dict(s4=s4, s5=dict(out_channels=128)))
    with pytest.raises(
            ValueError,
            match=r"connectors\['proj'\] has no "
            r"'type'.*The entries with a type are \[\]"):
        build(connectors=dict(proj=dict(out_channels=128)))


# ------------------------------------------ before the first step (dry run)
S4 = dict(type='mmswtat.ConvBNConnector', in_channels=32, out_channels=256)


def with_s4(connector=S4):
    cfg = distiller_cfg(connectors=dict(s4=connector))
    for name in ('loss_swtat', 'loss_pmtat'):
        cfg['distill_losses'][name]['student_channels'] = 256
        cfg['loss_forward_mappings'][name]['student'] = dict(
            recorder='feat', connector='s4')
    return cfg


def no_dry_run(monkeypatch):
    monkeypatch.setattr(
        MODELS.get('mmswtat.SingleTeacherDistiller'), 'check_at_build', False)


@pytest.mark.dry_run
def test_connector_in_channels_checked_at_build_naming_it(monkeypatch):
    words = (r"shared connector 's4' \(student feature 'feat', distill loss "
             r"'loss_swtat'\) \(ConvBNConnector\) expects in_channels=32 "
             r'\(input \(B, 32, H, W\)\) but gets a feature of shape '
             r'\(\d+, 64, \d+, \d+\); set its in_channels=64')
    torch.manual_seed(0)
    with pytest.raises(ValueError, match=words):
        MODELS.build(with_s4())
    no_dry_run(monkeypatch)  # a model the dry run cannot run: first step
    torch.manual_seed(0)
    model = MODELS.build(with_s4())
    model.train()
    with pytest.raises(ValueError, match=words):
        loss_step(model)


@pytest.mark.dry_run
def test_impossible_merges_refused_at_build_and_first_step(monkeypatch):
    cfg = distiller_cfg()
    cfg['distill_losses']['loss_pmtat']['num_merges'] = 5
    # 32x32 crop (the preprocessor's size), D8: a 4x4 teacher map.
    words = (r"distill loss 'loss_pmtat': PatchMergeTaTLoss: num_merges=5 "
             r'merges the 4x4 teacher map 5 times, but 2 merges already '
             r'leave one token.*num_merges<=2')
    with pytest.raises(ValueError, match=words):
        MODELS.build(cfg)
    no_dry_run(monkeypatch)
    model = MODELS.build(cfg)
    model.train()
    with pytest.raises(ValueError, match=words):
        loss_step(model)


@pytest.mark.dry_run
def test_dry_run_changes_nothing():
    from mmswtat.models import SingleTeacherDistiller
    states, rng = [], []
    for check in (True, False):
        SingleTeacherDistiller.check_at_build = check
        try:
            model = build()
        finally:
            SingleTeacherDistiller.check_at_build = True
        states.append(model.state_dict())
        rng.append(torch.rand(3))
        assert model.training and model.student.training
        assert all(m.training for m in model.loss_bank.modules())
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    assert torch.equal(rng[0], rng[1])


@pytest.mark.dry_run
def test_dry_run_skipped_when_the_model_cannot_run_on_a_dummy(monkeypatch):
    from mmswtat.models.distillers import dry_run

    def needs_real_samples(*args, **kwargs):
        raise TypeError('this model needs real data samples')

    monkeypatch.setattr(dry_run, 'record_forward', needs_real_samples)
    cfg = distiller_cfg(
        student_recorders=dict(feat=dict(module='backbone', index=7)))
    model = MODELS.build(cfg)  # no dry run: built
    model.train()
    with pytest.raises(IndexError, match='index 7 out of range'):
        loss_step(model)  # the first-step check


@pytest.mark.dry_run
def test_teacher_recorder_its_forward_never_reaches_fails_at_build():
    with pytest.raises(
            RuntimeError,
            match=r"teacher recorders \['feat'\] "
            "were not reached by the teacher's 'extract_feat'"):
        build(
            teacher_recorders=dict(feat='decode_head.conv_seg'),
            teacher_forward='extract_feat')


@pytest.mark.dry_run
def test_teacher_recorder_not_on_the_tensor_forward_gives_working_advice():
    """Advised teacher_forward='tensor', the mode that already failed: a
    module off the inference path (an auxiliary head, a loss module) is
    never run by the teacher."""
    with pytest.raises(
            RuntimeError,
            match=r"not reached by the teacher's 'tensor' forward \(the "
            r'inference path: backbone, neck and decode head\).*'
            'record a module of that path') as e:
        build(teacher_recorders=dict(feat='decode_head.loss_decode'))
    assert "set teacher_forward='tensor'" not in str(e.value)


# ----------------------------------------------------------- NaN messages
def _poison(model):
    with torch.no_grad():
        model.distill_losses.loss_swtat.value_embed.conv.weight.fill_(
            float('nan'))


def test_nan_at_iteration_0_points_at_inputs_and_weights():
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('iter', 0)
    model = build()
    model.train()
    _poison(model)
    with pytest.raises(
            FloatingPointError,
            match=r"distillation losses \['loss_swtat'\] not "
            'finite at iteration 0.*not the learning rate.*'
            r'the batch.*model\.teacher_ckpt'):
        loss_step(model)


def test_nan_later_names_task_and_distill_losses():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 7)
    try:
        model = build()
        model.train()
        _poison(model)
        with torch.no_grad():
            model.student.decode_head.conv_seg.weight.fill_(float('inf'))
        with pytest.raises(
                FloatingPointError,
                match=r"distillation losses \['loss_swtat'\] and "
                r"task losses \['decode.loss_ce'\] not finite at "
                r'iteration 7\. Lower the learning rate'):
            loss_step(model)
        model = build()
        model.train()
        with torch.no_grad():
            model.student.decode_head.conv_seg.weight.fill_(float('inf'))
        with pytest.raises(
                FloatingPointError,
                match=r"task losses \['decode.loss_ce'\] not "
                'finite.*clip gradients'):
            loss_step(model)
    finally:
        hub.update_info('iter', 0)


def test_misspelled_type_suggests_the_registered_one():
    with pytest.raises(
            KeyError,
            match=r"distill_losses\['loss_x'\]: type "
            r"'mmswtat.SWTatLoss' is not registered; did you mean "
            r"'mmswtat.SWTaTLoss'"):
        build(**one_loss(swtat(type='mmswtat.SWTatLoss')))


@pytest.mark.dry_run
def test_a_constant_teacher_feature_is_warned_naming_the_recorder(
        tmp_path, monkeypatch):
    """A teacher checkpoint with an all-zero backbone loads without a key
    error (an all-zero checkpoint is refused at load: test_bad_checkpoints);
    the student would be regressed onto zeros. The dry run says so."""
    from mmswtat.models.distillers import dry_run
    teacher = MODELS.build(distiller_cfg()).teacher
    zeros = {
        k: v if k.startswith('decode_head.') else torch.zeros_like(v)
        for k, v in teacher.state_dict().items()
    }
    path = tmp_path / 'zeros.pth'
    torch.save(dict(state_dict=zeros), path)
    said = []
    monkeypatch.setattr(dry_run, 'print_log', lambda msg, **kw: said.append(
        (msg, kw['level'])))
    MODELS.build(distiller_cfg(teacher_ckpt=str(path)))
    assert len(said) == 1 and said[0][1] == 30, said
    assert ("teacher recorder 'feat' ('backbone.layer4') gives a constant "
            'feature (every value 0)') in said[0][0]
    said.clear()
    build()  # a working (random) teacher: nothing said
    assert said == []
