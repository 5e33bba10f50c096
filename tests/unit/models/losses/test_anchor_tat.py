"""The official anchor pass (``AnchorTaTLoss``) against its float64 loop
reference, and the SW-TaT structure variants (``swtat_variant``): window 1
without a global pass is FitNet."""
import copy

import pytest
import reference_tat as ref
import torch
import torch.nn.functional as F

from mmswtat.models import FeatureMSELoss, SWTaTLoss
from mmswtat.models.losses import AnchorTaTLoss
from mmswtat.models.losses.anchor_tat_loss import anchor_pool_size
from mmswtat.recipes import GLOBAL_PASSES, swtat_variant

F64 = torch.float64


def feats(b=2, c=4, ts=(13, 10), ss=None, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ss = ts if ss is None else ss
    return (torch.randn(b, c, *ss, generator=gen, dtype=F64),
            torch.randn(b, c, *ts, generator=gen, dtype=F64))


# name -> (loss kwargs, teacher size, student size, reference pool)
CASES = {
    'pool2_divides': (dict(pool_size=2), (8, 6), None, (2, 2)),
    'pool3_remainder_dropped': (dict(pool_size=3), (13, 10), None, (3, 3)),
    'pool_pair_odd': (dict(pool_size=(4, 3)), (13, 10), None, (4, 3)),
    'pool1_is_global': (dict(pool_size=1), (7, 5), None, (1, 1)),
    'auto_small_map': (dict(pool_size='auto'), (9, 7), None, (1, 1)),
    'heads_scale_auto': (dict(pool_size=2, num_heads=2,
                              scale='auto'), (9, 7), None, (2, 2)),
    'query_student': (dict(pool_size=2,
                           query='student'), (9, 7), None, (2, 2)),
    'resize_student': (dict(pool_size=3), (13, 10), (6, 5), (3, 3)),
    'loss_weight': (dict(pool_size=2, loss_weight=0.7), (9, 7), None, (2, 2)),
}


def _ref(s, t, kw, pool):
    return ref.anchor_loss(
        s,
        t,
        pool,
        num_heads=kw.get('num_heads', 1),
        scale=kw.get('scale', 1.0),
        query=kw.get('query', 'teacher'),
        loss_weight=kw.get('loss_weight', 1.0))


@pytest.mark.parametrize('impl', ['matmul', 'sdpa'])
@pytest.mark.parametrize('name', list(CASES))
def test_anchor_matches_reference(name, impl):
    kw, ts, ss, pool = CASES[name]
    s, t = feats(ts=ts, ss=ss, seed=5)
    loss = AnchorTaTLoss(4, 4, embed=False, attn_impl=impl, **kw)
    got = loss(s, t)
    torch.testing.assert_close(got, _ref(s, t, kw, pool), rtol=1e-6, atol=0)
    maps = loss.error_maps(s, t)
    assert set(maps) == {'anchor'}
    expected_map = ref.anchor_error_map(
        s,
        t,
        pool,
        num_heads=kw.get('num_heads', 1),
        scale=kw.get('scale', 1.0),
        query=kw.get('query', 'teacher'))
    assert maps['anchor'].shape == (2, ts[0] // pool[0], ts[1] // pool[1])
    torch.testing.assert_close(
        maps['anchor'], expected_map, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize('name', ['pool3_remainder_dropped', 'resize_student'])
def test_anchor_student_gradient_matches_reference(name):
    kw, ts, ss, pool = CASES[name]
    s, t = feats(ts=ts, ss=ss, seed=9)
    s1 = s.clone().requires_grad_(True)
    s2 = s.clone().requires_grad_(True)
    AnchorTaTLoss(4, 4, embed=False, **kw)(s1, t).backward()
    _ref(s2, t, kw, pool).backward()
    assert s1.grad.abs().sum() > 0
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-6, atol=1e-12)


def test_anchor_with_embeddings_matches_reference():
    s, t = feats(ts=(9, 8), seed=2)
    loss = AnchorTaTLoss(4, 4, pool_size=2, embed=True).double().eval()
    embeds = (loss.query_embed, loss.key_embed, loss.value_embed)
    expected = ref.anchor_loss(s, t, 2, embeds=embeds)
    torch.testing.assert_close(loss(s, t), expected, rtol=1e-6, atol=0)


def test_anchor_pool_is_avg_pool2d():
    """The official code's pooling (``nn.AvgPool2d(kernel, kernel)``)."""
    x = torch.randn(2, 3, 13, 10, dtype=F64)
    torch.testing.assert_close(
        ref.anchor_pool(x, (3, 4)), F.avg_pool2d(x, (3, 4)))


def test_auto_pool_on_a_large_map_is_the_resolved_pool():
    s, t = feats(ts=(67, 33), seed=1)
    auto = AnchorTaTLoss(4, 4, embed=False, pool_size='auto')
    assert auto.pass_layouts(67, 33)[0].grid == (33, 33)
    torch.testing.assert_close(
        auto(s, t),
        AnchorTaTLoss(4, 4, embed=False, pool_size=(2, 1))(s, t),
        rtol=0,
        atol=0)


def test_auto_pool_leaves_about_32_anchors_per_side():
    assert anchor_pool_size(64, 64, 'auto') == (2, 2)
    assert anchor_pool_size(128, 100, 'auto') == (4, 3)
    assert anchor_pool_size(8, 8, 'auto') == (1, 1)  # under 32: no pooling


@pytest.mark.parametrize('pool', [0, -2, (2, 0)])
def test_pool_below_one_is_an_error(pool):
    with pytest.raises(ValueError, match='pool_size must be >= 1'):
        AnchorTaTLoss(4, 4, embed=False, pool_size=pool)


@pytest.mark.parametrize('pool', ['big', 2.5, (2, 2, 2), None])
def test_pool_of_a_wrong_type_is_an_error(pool):
    with pytest.raises(TypeError, match="an int >= 1, a pair .* or 'auto'"):
        AnchorTaTLoss(4, 4, embed=False, pool_size=pool)


def test_pool_larger_than_the_map_names_the_map():
    s, t = feats(ts=(5, 7))
    loss = AnchorTaTLoss(4, 4, embed=False, pool_size=6)
    with pytest.raises(ValueError, match=r'larger than the 5x7 teacher map'):
        loss(s, t)


# ------------------------------------------------------ structure variants
def _shipped_swtat_head() -> dict:
    """The shipped swtat_head fragment, channels set to the tests' 4."""
    from mmengine.config import Config

    from mmswtat.utils.config_utils import resolve_config_path
    cfg = Config.fromfile(
        resolve_config_path(
            'mmswtat::_base_/distill/swtat_head_r101_to_r18.py'))
    out = cfg.swtat_head.to_dict()
    for loss in out['distill_losses'].values():
        loss.update(student_channels=4, teacher_channels=4)
    return out


SWTAT = _shipped_swtat_head()


def test_variant_anchor_replaces_the_merge_pass():
    before = copy.deepcopy(SWTAT)
    out = swtat_variant(SWTAT, global_pass='anchor', window_size=2)
    assert SWTAT == before  # a copy
    losses = out['distill_losses']
    assert set(losses) == {'loss_swtat_head', 'loss_anchortat_head'}
    assert losses['loss_anchortat_head'] == dict(
        type='mmswtat.AnchorTaTLoss',
        student_channels=4,
        teacher_channels=4,
        embed=False,
        loss_weight=0.1)
    assert losses['loss_swtat_head']['window_size'] == 2
    assert losses['loss_swtat_head']['shift_size'] == 1
    assert set(out['loss_forward_mappings']) == set(losses)


def test_variant_none_and_back_to_pm():
    none = swtat_variant(SWTAT, global_pass='none', window_size=1)
    assert set(none['distill_losses']) == {'loss_swtat_head'}
    assert none['distill_losses']['loss_swtat_head']['shift_size'] == 0
    pm = swtat_variant(none, global_pass='pm')
    assert pm['distill_losses']['loss_pmtat_head']['num_merges'] == 1
    assert swtat_variant(SWTAT, global_pass='pm') == SWTAT


def test_variant_bad_input():
    with pytest.raises(ValueError, match='choose from pm, anchor, none'):
        swtat_variant(SWTAT, global_pass='global')
    with pytest.raises(ValueError, match='window_size must be an int >= 1'):
        swtat_variant(SWTAT, window_size=0)
    with pytest.raises(ValueError, match='window_size must be an int >= 1'):
        swtat_variant(SWTAT, window_size=1.5)
    # --knob window_size=2 arrives as 2.0 (the tool parses numbers as floats)
    sw = swtat_variant(SWTAT, window_size=2.0)['distill_losses']
    assert sw['loss_swtat_head']['window_size'] == 2
    assert list(GLOBAL_PASSES) == ['pm', 'anchor', 'none']


def test_window_one_without_global_pass_equals_fitnet():
    """FitNet is SW-TaT with the attention removed: window 1 (softmax over
    one key), no shift, no global pass."""
    s, t = feats(ts=(8, 8), seed=4)
    cfg = swtat_variant(SWTAT, global_pass='none', window_size=1)
    kw = dict(cfg['distill_losses']['loss_swtat_head'])
    kw.pop('type')
    sw = SWTaTLoss(**dict(kw, loss_weight=1.0))
    s1 = s.clone().requires_grad_(True)
    s2 = s.clone().requires_grad_(True)
    a, b = sw(s1, t), FeatureMSELoss()(s2, t)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
    a.backward()
    b.backward()
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-12, atol=0)


def test_inspection_of_the_anchor_pass_reproduces_the_loss():
    """mmswtat.analysis attends over what the passes attend over (the
    pooled anchors), so its per-pass losses sum to the loss."""
    from mmswtat.analysis.tat_inspection import inspect_tat_loss
    s, t = feats(ts=(9, 8), seed=6)
    loss = AnchorTaTLoss(4, 4, embed=False, pool_size=2)
    ins = inspect_tat_loss(loss, s.float(), t.float())
    assert ins.passes['anchor'].error_map.shape == (2, 4, 4)
    assert ins.total == pytest.approx(float(loss(s, t)), rel=1e-5)
