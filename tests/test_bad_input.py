"""Bad configs and batches: one clear error naming the mistake (issue 16)."""
import pytest
import torch
from mmengine.registry import init_default_scope

from mmswtat.registry import MODELS
from mmswtat.utils.value_checks import ConfigTypeError
from seg_helpers import distiller_cfg, seg_batch


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


def build(**overrides):
    torch.manual_seed(0)
    return MODELS.build(distiller_cfg(**overrides))


def loss_step(model, seed=0):
    data = model.data_preprocessor(seg_batch(seed=seed), True)
    return model(**data, mode='loss')


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
    cfg = dict(type='mmswtat.SWTaTLoss', student_channels=64,
               teacher_channels=256, window_size=2, shift_size=1)
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
    (dict(type='mmswtat.PatchMergeTaTLoss', window_size=None,
          shift_size=None, num_merges=-1), ValueError,
     'num_merges must be an int >= 0'),
    (dict(type='mmswtat.PatchMergeTaTLoss', window_size=None,
          shift_size=None, num_merges='many'), ConfigTypeError,
     "num_merges must be an int >= 0 or 'auto'"),
    (dict(type='mmswtat.PatchMergeTaTLoss', window_size=None,
          shift_size=None, num_merges='auto', max_tokens=0), ValueError,
     'max_tokens must be an int >= 1'),
]


@pytest.mark.parametrize('kw,error,words', LOSS_VALUES)
def test_tat_loss_values_checked_at_build_naming_loss_and_key(kw, error,
                                                             words):
    cfg = swtat(**kw)
    cfg = {k: v for k, v in cfg.items() if v is not None or k not in (
        'window_size', 'shift_size')}
    with pytest.raises(error, match=r"distill_losses\['loss_x'\]: \w+Loss: "
                       + words):
        build(**one_loss(cfg))


PEER_VALUES = [
    (dict(type='mmswtat.KDLoss', tau=0), ValueError,
     'KDLoss: tau must be a positive number'),
    (dict(type='mmswtat.KDLoss', tau='4'), ConfigTypeError,
     'KDLoss: tau must be a positive number'),
    (dict(type='mmswtat.DISTLoss', beta=-1.0), ValueError,
     'DISTLoss: beta must be a number >= 0'),
    (dict(type='mmswtat.ChannelWiseDivergence', loss_weight=-3), ValueError,
     'ChannelWiseDivergence: loss_weight must be a number >= 0'),
    (dict(type='mmswtat.FeatureMSELoss', loss_weight=[1.0]), ConfigTypeError,
     r'FeatureMSELoss: loss_weight must be a number >= 0, got \[1.0\]'),
]


@pytest.mark.parametrize('cfg,error,words', PEER_VALUES)
def test_peer_loss_values_checked_at_build(cfg, error, words):
    with pytest.raises(error, match=r"distill_losses\['loss_x'\]: " + words):
        build(**one_loss(cfg))


def test_multi_level_value_names_the_level():
    levels = dict(feat='backbone')
    mapping = dict(student=dict(recorder='feat', index=[2, 3]),
                   teacher=dict(recorder='feat', index=[2, 3]))
    cfg = swtat(per_level=dict(loss_weight=[1.0, -0.5],
                               student_channels=[32, 64],
                               teacher_channels=[128, 256]))
    with pytest.raises(ValueError, match=r"distill_losses\['loss_x'\] "
                       r'\(level 1\): SWTaTLoss: loss_weight must be a '
                       'number >= 0, got -0.5'):
        build(student_recorders=levels, teacher_recorders=levels,
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


@pytest.mark.parametrize('key', ['check_finite', 'weights_only',
                                 'teacher_ckpt_strict'])
def test_flags_must_be_bool(key):
    with pytest.raises(ConfigTypeError, match=f"{key} must be True or False, "
                       "got 'no'.*counts as True"):
        build(**{key: 'no'})


def test_containers_of_the_wrong_form():
    with pytest.raises(ConfigTypeError, match=r"student_recorders must be a "
                       r"dict \{name: ...\}, got a list \['backbone.layer4'\]"
                       r".*dict\(feat='backbone.layer4'\)"):
        build(student_recorders=['backbone.layer4'])
    with pytest.raises(ConfigTypeError, match='distill_losses must be a dict'):
        build(distill_losses=[swtat()])
    with pytest.raises(ConfigTypeError,
                       match=r"distill_losses\['loss_x'\] must be a "
                       'registered module config'):
        build(**one_loss('SWTaTLoss'))
    with pytest.raises(ConfigTypeError, match=r"loss_forward_mappings\["
                       r"'loss_swtat'\] must be a dict"):
        build(loss_forward_mappings=dict(loss_swtat='feat',
                                         loss_pmtat=None))
    with pytest.raises(ConfigTypeError, match='distill must be a dict'):
        build(distill=['x'])


def test_indices_must_be_ints():
    with pytest.raises(ConfigTypeError, match=r"loss_forward_mappings\["
                       r"'loss_x'\]\['student'\]: index must be an int"):
        build(student_recorders=dict(feat='backbone'),
              teacher_recorders=dict(feat='backbone'),
              distill_losses=dict(loss_x=swtat()),
              loss_forward_mappings=dict(loss_x=dict(
                  student=dict(recorder='feat', index='3'),
                  teacher=dict(recorder='feat', index=3))))
    with pytest.raises(ValueError, match="student recorder 'feat': index must "
                       "be an int .*got '3'"):
        build(student_recorders=dict(feat=dict(module='backbone',
                                               index='3')))


# ----------------------------------------------------- --cfg-options typos
def test_cfg_options_typo_in_a_loss_name_suggests_the_real_one():
    from mmengine.config import Config
    cfg = Config(dict(model=distiller_cfg()))
    cfg.merge_from_dict({'model.distill_losses.loss_swatt.window_size': 4})
    with pytest.raises(ValueError, match=r"distill_losses\['loss_swatt'\] has "
                       r"no 'type' \(it holds only window_size=4\)\. Did you "
                       r"mean 'loss_swtat'\?.*distill_losses\.loss_swtat\."
                       'window_size='):
        MODELS.build(cfg.model)


def test_connector_without_type_suggests_the_real_one():
    s4 = dict(type='mmswtat.ConvBNConnector', in_channels=64,
              out_channels=256)
    with pytest.raises(ValueError, match=r"connectors\['s5'\] has no 'type'"
                       r".*Did you mean 's4'\?"):
        build(connectors=dict(s4=s4, s5=dict(out_channels=128)))
    with pytest.raises(ValueError, match=r"connectors\['proj'\] has no "
                       r"'type'.*The entries with a type are \[\]"):
        build(connectors=dict(proj=dict(out_channels=128)))
