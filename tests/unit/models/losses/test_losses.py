"""Tests of the TaT / SW-TaT / patch-merge / KL losses against the loop
reference in ``reference_tat.py`` (the executable form of the math contract).

All reference comparisons run in float64 on tiny maps, relative tolerance
1e-6.
"""
import math

import pytest
import reference_tat as ref
import torch

from mmswtat.models import KLDivLoss, PatchMergeTaTLoss, SWTaTLoss, TaTLoss

RTOL = 1e-6
F64 = torch.float64


def randn(*shape, seed=0, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64).to(dtype)


def feats(b=2, cs=4, ct=4, ts=(13, 10), ss=None, seed=0, dtype=F64):
    """Student ``(b, cs, *ss)`` and teacher ``(b, ct, *ts)`` features."""
    ss = ts if ss is None else ss
    return (randn(b, cs, *ss, seed=seed, dtype=dtype),
            randn(b, ct, *ts, seed=seed + 1000, dtype=dtype))


def assert_close(got, expected, rtol=RTOL, atol=1e-12):
    torch.testing.assert_close(
        got, expected.to(got.dtype), rtol=rtol, atol=atol)


def rel_err(a, b):
    return (abs(float(a) - float(b)) / max(abs(float(b)), 1e-30))


# ---------------------------------------------------------------- SW-TaT
# name -> (loss kwargs, teacher size, student size)
SW_CASES = {
    'odd_13x10_w4_s2': (dict(window_size=4, shift_size=2), (13, 10), None),
    'rect_w43_s21': (dict(window_size=(4, 3),
                          shift_size=(2, 1)), (13, 10), None),
    # Padding narrower than the shift: only the region labels keep wrapped
    # rows/columns apart (on 13x10 with shift 2 validity alone would do it).
    'odd_15x11_w4_s2': (dict(window_size=4, shift_size=2), (15, 11), None),
    'rect_15x11_w43_s22_heads':
    (dict(window_size=(4, 3), shift_size=(2, 2), num_heads=2), (15, 11), None),
    'rect_shift_one_side': (dict(window_size=(4, 3),
                                 shift_size=(0, 1)), (13, 10), None),
    'multi_head': (dict(window_size=(4, 3), shift_size=(2, 1),
                        num_heads=2), (13, 10), None),
    'four_heads': (dict(window_size=4, shift_size=2,
                        num_heads=4), (9, 7), None),
    'shift_0': (dict(window_size=4, shift_size=0), (13, 10), None),
    'no_padding_8x8': (dict(window_size=4, shift_size=2), (8, 8), None),
    'window_ge_map': (dict(window_size=16, shift_size=8), (7, 6), None),
    'window_ge_map_one_side': (dict(window_size=(16, 4),
                                    shift_size=(8, 2)), (13, 10), None),
    'window_eq_map': (dict(window_size=(7, 6),
                           shift_size=(3, 3)), (7, 6), None),
    'resize_student': (dict(window_size=4, shift_size=2), (13, 10), (7, 5)),
    'resize_student_up': (dict(window_size=(4, 3),
                               shift_size=(2, 1)), (9, 7), (13, 10)),
    'scale_auto':
    (dict(window_size=4, shift_size=2, scale='auto',
          num_heads=2), (13, 10), None),
    'scale_0.5': (dict(window_size=4, shift_size=2,
                       scale=0.5), (13, 10), None),
    'query_student':
    (dict(window_size=(4, 3), shift_size=(2, 1),
          query='student'), (13, 10), None),
    'loss_weight': (dict(window_size=4, shift_size=2,
                         loss_weight=0.3), (13, 10), None),
}


def _ref_kwargs(kw):
    return dict(
        num_heads=kw.get('num_heads', 1),
        scale=kw.get('scale', 1.0),
        query=kw.get('query', 'teacher'))


IMPLS = ['matmul', 'sdpa']


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('name', list(SW_CASES))
def test_swtat_matches_reference(name, impl):
    kw, ts, ss = SW_CASES[name]
    s, t = feats(ts=ts, ss=ss)
    loss = SWTaTLoss(4, 4, embed=False, attn_impl=impl, **kw)
    ref_maps = ref.swtat_error_maps(s, t, kw['window_size'], kw['shift_size'],
                                    **_ref_kwargs(kw))
    expected = ref.swtat_loss(
        s,
        t,
        kw['window_size'],
        kw['shift_size'],
        loss_weight=kw.get('loss_weight', 1.0),
        **_ref_kwargs(kw))
    got = loss(s, t)
    assert got.dtype == F64 and got.dim() == 0
    assert_close(got, expected)
    maps = loss.error_maps(s, t)
    assert set(maps) == set(ref_maps)
    for key, ref_map in ref_maps.items():
        assert maps[key].shape == (2, *ts)
        assert_close(maps[key], ref_map)


@pytest.mark.parametrize('size', [(7, 6), (5, 9)])
@pytest.mark.parametrize('window,shift', [('map', (3, 3)), (32, 16)])
def test_swtat_window_covering_map_equals_tat(size, window, shift):
    s, t = feats(ts=size, seed=3)
    window = size if window == 'map' else window
    sw = SWTaTLoss(4, 4, window_size=window, shift_size=shift, embed=False)
    tat = TaTLoss(4, 4, embed=False)
    assert_close(sw(s, t), tat(s, t))
    assert_close(sw(s, t), ref.tat_loss(s, t))


def test_swtat_shift_zero_is_plain_pass_only():
    s, t = feats()
    loss = SWTaTLoss(4, 4, window_size=4, shift_size=0, embed=False)
    maps = loss.error_maps(s, t)
    assert set(maps) == {'plain'}
    plain = ref.window_pass_error(*ref.project(s, t), 4, 0)
    assert_close(loss(s, t), ref.pass_loss(plain, 4))


def test_shift_mask_matters():
    """The shifted pass is not just a roll: the Swin region mask changes it.

    (On 13x10 with window 4 and shift 2 the padding is as wide as the shift,
    so validity alone separates the wrapped rows; 15x11 has less padding.)
    """
    for size in [(8, 8), (15, 11)]:
        s, t = feats(b=1, ts=size, seed=5)
        loss = SWTaTLoss(4, 4, window_size=4, shift_size=2, embed=False)
        got = loss.error_maps(s, t)['shifted']
        q, k, v, tt = ref.project(s, t)
        masked = ref.window_pass_error(q, k, v, tt, 4, 2)
        unmasked = ref.window_pass_error(q, k, v, tt, 4, 2, region_mask=False)
        assert_close(got, masked)
        assert (got - unmasked).abs().max() > 1e-3
        assert rel_err(got.sum(), unmasked.sum()) > 1e-4


# ------------------------------------------------------------------- TaT
TAT_CASES = {
    'odd_7x5': (dict(), (7, 5), None),
    'multi_head': (dict(num_heads=2), (7, 6), None),
    'resize_student': (dict(), (7, 6), (4, 3)),
    'scale_auto': (dict(scale='auto', num_heads=2), (7, 6), None),
    'query_student': (dict(query='student'), (7, 6), None),
    'loss_weight': (dict(loss_weight=2.5), (7, 6), None),
}


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('name', list(TAT_CASES))
def test_tat_matches_reference(name, impl):
    kw, ts, ss = TAT_CASES[name]
    s, t = feats(ts=ts, ss=ss, seed=7)
    loss = TaTLoss(4, 4, embed=False, attn_impl=impl, **kw)
    expected = ref.tat_loss(
        s, t, loss_weight=kw.get('loss_weight', 1.0), **_ref_kwargs(kw))
    assert_close(loss(s, t), expected)
    maps = loss.error_maps(s, t)
    assert set(maps) == {'global'}
    assert_close(maps['global'], ref.tat_error_map(s, t, **_ref_kwargs(kw)))


# ----------------------------------------------------------- patch merge
# name -> (loss kwargs, teacher size, student size, merged size)
PM_CASES = {
    'k0_odd': (dict(num_merges=0), (7, 5), None, (7, 5)),
    'k1_odd': (dict(num_merges=1), (13, 10), None, (7, 5)),
    'k2_odd': (dict(num_merges=2), (13, 10), None, (4, 3)),
    'k2_odd_both': (dict(num_merges=2), (11, 9), None, (3, 3)),
    'auto_max20': (dict(num_merges='auto',
                        max_tokens=20), (13, 10), None, (4, 3)),
    'auto_max35': (dict(num_merges='auto',
                        max_tokens=35), (13, 10), None, (7, 5)),
    'auto_default_no_merge': (dict(num_merges='auto'), (7, 5), None, (7, 5)),
    'multi_head': (dict(num_merges=1, num_heads=2), (13, 10), None, (7, 5)),
    'scale_auto': (dict(num_merges=1, scale='auto',
                        num_heads=2), (13, 10), None, (7, 5)),
    'resize_student': (dict(num_merges=1), (13, 10), (6, 5), (7, 5)),
    'query_student': (dict(num_merges=1,
                           query='student'), (13, 10), None, (7, 5)),
    'loss_weight': (dict(num_merges=1,
                         loss_weight=0.7), (13, 10), None, (7, 5)),
}


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('name', list(PM_CASES))
def test_patch_merge_matches_reference(name, impl):
    kw, ts, ss, merged = PM_CASES[name]
    s, t = feats(ts=ts, ss=ss, seed=11)
    loss = PatchMergeTaTLoss(4, 4, embed=False, attn_impl=impl, **kw)
    merge_kw = dict(
        num_merges=kw['num_merges'], max_tokens=kw.get('max_tokens', 1024))
    ref_map, ref_c = ref.patch_merge_error_map(s, t, **merge_kw,
                                               **_ref_kwargs(kw))
    expected = ref.patch_merge_loss(
        s,
        t,
        **merge_kw,
        loss_weight=kw.get('loss_weight', 1.0),
        **_ref_kwargs(kw))
    assert_close(loss(s, t), expected)
    maps = loss.error_maps(s, t)
    assert set(maps) == {'merged'}
    assert maps['merged'].shape == (2, *merged) == ref_map.shape
    assert_close(maps['merged'], ref_map)


# ------------------------------------------------------- gradient values
# Our backward (custom window gather, fused squared error, additive masks)
# against autograd through the float64 loop reference.
GRAD_CASES = {
    'sw_odd_13x10_w4_s2': (SWTaTLoss, dict(window_size=4,
                                           shift_size=2), (13, 10), None),
    'sw_15x11_rect_heads':
    (SWTaTLoss, dict(window_size=(4, 3), shift_size=(2, 2),
                     num_heads=2), (15, 11), None),
    'sw_8x8_no_padding': (SWTaTLoss, dict(window_size=4,
                                          shift_size=2), (8, 8), None),
    'sw_resize_student': (SWTaTLoss, dict(window_size=4,
                                          shift_size=2), (13, 10), (7, 5)),
    'sw_query_student':
    (SWTaTLoss, dict(window_size=(4, 3), shift_size=(2, 1),
                     query='student'), (13, 10), None),
    'tat_scale_auto': (TaTLoss, dict(scale='auto', num_heads=2), (7, 5), None),
    'pm_k1_odd': (PatchMergeTaTLoss, dict(num_merges=1), (13, 10), None),
}


def _reference_of(cls, s, t, kw):
    rkw = _ref_kwargs(kw)
    if cls is SWTaTLoss:
        return ref.swtat_loss(s, t, kw['window_size'], kw['shift_size'], **rkw)
    if cls is TaTLoss:
        return ref.tat_loss(s, t, **rkw)
    return ref.patch_merge_loss(
        s, t, num_merges=kw['num_merges'], max_tokens=1024, **rkw)


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('name', list(GRAD_CASES))
def test_student_gradient_matches_reference(name, impl):
    cls, kw, ts, ss = GRAD_CASES[name]
    s, t = feats(ts=ts, ss=ss, seed=3)
    s.requires_grad_(True)
    loss = cls(4, 4, embed=False, attn_impl=impl, **kw)
    got, = torch.autograd.grad(loss(s, t), s)
    expected, = torch.autograd.grad(_reference_of(cls, s, t, kw), s)
    assert got.abs().sum() > 0
    assert_close(got, expected)


def test_attention_impl_is_validated():
    with pytest.raises(ValueError, match='attn_impl must be one of'):
        SWTaTLoss(4, 4, embed=False, attn_impl='flash')
    loss = SWTaTLoss(4, 4, embed=False)
    with pytest.raises(ValueError, match='SWTaTLoss: attn_impl must be one'):
        loss.attn_impl = 'flash'
    with pytest.raises(ValueError, match="scale must be a number or 'auto'"):
        loss.scale = 'sqrt'
    # Set after build, then used as set (resolved once, when set).
    s, t = feats(ts=(9, 7), seed=5)
    loss.scale, loss.attn_impl = 'auto', 'sdpa'
    auto = SWTaTLoss(4, 4, embed=False, scale='auto')
    assert_close(loss(s, t), auto(s, t))


def test_inputs_are_checked_once_per_call(monkeypatch):
    loss = SWTaTLoss(4, 4, embed=False)
    calls = []
    check = loss.check_inputs
    monkeypatch.setattr(loss, 'check_inputs',
                        lambda *a: calls.append(1) or check(*a))
    s, t = feats(ts=(9, 7), seed=6)
    loss(s, t)
    loss.error_maps(s, t)
    assert len(calls) == 2


# ------------------------------------------------------ pass descriptions
@pytest.mark.parametrize(
    'cls, kw', [(SWTaTLoss, {}), (TaTLoss, {}), (PatchMergeTaTLoss, {}),
                (PatchMergeTaTLoss, dict(num_merges='auto', max_tokens=6))])
def test_pass_layouts_describe_the_passes_run(cls, kw):
    s, t = feats(ts=(9, 7), seed=7)
    loss = _make_loss(cls, 4, 4, embed=False, **kw)
    layouts = loss.pass_layouts(9, 7)
    maps = loss.error_maps(s, t)
    assert [lay.name for lay in layouts] == list(maps)
    for lay in layouts:
        assert lay.sizes[0] == (9, 7)
        assert maps[lay.name].shape[1:] == lay.grid
    expected = {
        SWTaTLoss: [('plain', 0, (4, 3), (0, 0)),
                    ('shifted', 0, (4, 3), (2, 1))],
        TaTLoss: [('global', 0, (9, 7), (0, 0))],
        PatchMergeTaTLoss: [('merged', 2 if kw else 1, (3, 2) if kw else
                             (5, 4), (0, 0))],
    }[cls]
    assert [(lay.name, lay.merges, (lay.geom.wh, lay.geom.ww),
             (lay.geom.sh, lay.geom.sw)) for lay in layouts] == expected


def test_a_loss_without_pass_layouts_says_what_to_implement():
    from mmswtat.models.losses import BaseTaTLoss

    class NoLayouts(BaseTaTLoss):
        pass

    loss = NoLayouts(4, 4, embed=False)
    with pytest.raises(NotImplementedError, match='implement pass_layouts'):
        loss(*feats(ts=(9, 7), seed=8))


# ------------------------------------------------------------- embeddings
def _make_loss(cls, cs, ct, **kw):
    extra = {
        SWTaTLoss: dict(window_size=(4, 3), shift_size=(2, 1)),
        TaTLoss: dict(),
        PatchMergeTaTLoss: dict(num_merges=1),
    }[cls]
    extra.update(kw)
    return cls(cs, ct, **extra)


def _ref_loss(cls, s, t, embeds, query, **kw):
    if cls is SWTaTLoss:
        return ref.swtat_loss(
            s, t, (4, 3), (2, 1), query=query, embeds=embeds, **kw)
    if cls is TaTLoss:
        return ref.tat_loss(s, t, query=query, embeds=embeds, **kw)
    return ref.patch_merge_loss(
        s, t, num_merges=1, query=query, embeds=embeds, **kw)


def _randomise_embeddings(loss, seed=0):
    """Non-trivial BN statistics/affine so that phi is far from identity."""
    gen = torch.Generator().manual_seed(seed)
    for m in loss.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.3)


@pytest.mark.parametrize('query', ['teacher', 'student'])
@pytest.mark.parametrize('cls', [SWTaTLoss, TaTLoss, PatchMergeTaTLoss])
def test_embed_matches_reference_with_raw_teacher_target(cls, query):
    cs, ct = 3, 4
    ts = (7, 6) if cls is TaTLoss else (9, 7)
    s, t = feats(cs=cs, ct=ct, ts=ts, seed=13)
    loss = _make_loss(cls, cs, ct, query=query, num_heads=2).double()
    _randomise_embeddings(loss)
    loss.eval()
    embeds = (loss.query_embed, loss.key_embed, loss.value_embed)
    with torch.no_grad():
        expected = _ref_loss(cls, s, t, embeds, query, num_heads=2)
        got = loss(s, t)
        assert_close(got, expected)

        # Through ``project``: the target is the raw teacher, Q/K/V embedded.
        q, k, v, target = loss.project(s, t)
        assert torch.equal(target, t)
        q_src, k_src = (t, s) if query == 'teacher' else (s, t)
        assert_close(q, loss.query_embed(q_src))
        assert_close(k, loss.key_embed(k_src))
        assert_close(v, loss.value_embed(s))

        # A loss regressing the *embedded* teacher would differ.
        if query == 'teacher' and cls is TaTLoss:
            wrong = ref.pass_loss(
                ref.window_pass_error(q, k, v, q, ts, 0, 2), ct)
            assert rel_err(got, wrong) > 1e-3


def test_embed_resize_path_matches_reference():
    s, t = feats(cs=3, ct=4, ts=(9, 7), ss=(5, 4), seed=17)
    loss = SWTaTLoss(3, 4, window_size=4, shift_size=2).double()
    _randomise_embeddings(loss, seed=1)
    loss.eval()
    embeds = (loss.query_embed, loss.key_embed, loss.value_embed)
    with torch.no_grad():
        assert_close(loss(s, t), ref.swtat_loss(s, t, 4, 2, embeds=embeds))


# ---------------------------------------------------------------- grads
@pytest.mark.parametrize('query', ['teacher', 'student'])
@pytest.mark.parametrize('cls', [SWTaTLoss, TaTLoss, PatchMergeTaTLoss])
def test_gradients_reach_embeddings_and_student_not_teacher(cls, query):
    s, t = feats(cs=3, ct=4, ts=(9, 7), seed=19, dtype=torch.float32)
    s.requires_grad_(True)
    t.requires_grad_(True)
    loss = _make_loss(cls, 3, 4, query=query)
    loss.train()
    value = loss(s, t)
    value.backward()
    assert torch.isfinite(value)
    assert t.grad is None
    assert s.grad is not None and torch.isfinite(s.grad).all()
    assert s.grad.abs().sum() > 0
    params = dict(loss.named_parameters())
    assert params, 'embed=True must register parameters'
    for name, p in params.items():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    for embed in ('query_embed', 'key_embed', 'value_embed'):
        grads = [p.grad.abs().sum() for p in getattr(loss, embed).parameters()]
        assert sum(grads) > 0, embed


@pytest.mark.parametrize('cls', [SWTaTLoss, TaTLoss, PatchMergeTaTLoss])
def test_gradients_without_embedding(cls):
    s, t = feats(ts=(9, 7), seed=23)
    s.requires_grad_(True)
    t.requires_grad_(True)
    loss = _make_loss(cls, 4, 4, embed=False)
    assert not list(loss.parameters())
    loss(s, t).backward()
    assert t.grad is None
    assert s.grad is not None and s.grad.abs().sum() > 0


# ----------------------------------------------------------------- bf16
@pytest.mark.parametrize('embed', [False, True])
@pytest.mark.parametrize('cls', [SWTaTLoss, TaTLoss, PatchMergeTaTLoss])
def test_bf16_autocast_matches_fp32(cls, embed):
    s, t = feats(ts=(9, 7), seed=29, dtype=torch.float32)
    loss = _make_loss(cls, 4, 4, embed=embed)
    loss.eval()
    with torch.no_grad():
        fp32 = loss(s, t)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            amp = loss(s, t)
        assert torch.isfinite(amp)
        assert rel_err(amp, fp32) < 1e-3

        # bf16 inputs vs the fp32 versions of the same bf16 values.
        s16, t16 = s.bfloat16(), t.bfloat16()
        fp32_of_bf16 = loss(s16.float(), t16.float())
        with torch.autocast('cpu', dtype=torch.bfloat16):
            amp16 = loss(s16, t16)
        assert torch.isfinite(amp16)
        assert rel_err(amp16, fp32_of_bf16) < 1e-3


def test_bf16_autocast_backward_finite():
    s, t = feats(cs=3, ct=4, ts=(9, 7), seed=31, dtype=torch.float32)
    s.requires_grad_(True)
    loss = SWTaTLoss(3, 4, window_size=4, shift_size=2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = loss(s, t)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(s.grad).all()


# ------------------------------------------------------------ error maps
@pytest.mark.parametrize('cls', [SWTaTLoss, TaTLoss, PatchMergeTaTLoss])
def test_error_maps_sum_to_pass_losses(cls):
    s, t = feats(ts=(9, 7), seed=37)
    b, c = t.shape[:2]
    loss = _make_loss(cls, 4, 4, embed=False, loss_weight=0.6)
    maps = loss.error_maps(s, t)
    q, k, v, tt = ref.project(s, t)
    if cls is SWTaTLoss:
        ref_passes = {
            'plain':
            ref.pass_loss(ref.window_pass_error(q, k, v, tt, (4, 3), 0), c),
            'shifted':
            ref.pass_loss(
                ref.window_pass_error(q, k, v, tt, (4, 3), (2, 1)), c),
        }
        channels = c
    elif cls is TaTLoss:
        ref_passes = {'global': ref.tat_loss(s, t)}
        channels = c
    else:
        ref_passes = {'merged': ref.patch_merge_loss(s, t, num_merges=1)}
        channels = 4 * c
    assert set(maps) == set(ref_passes)
    pass_values = []
    for key, err in maps.items():
        assert err.dim() == 3 and err.shape[0] == b
        assert (err >= 0).all()
        value = err.sum() / (b * channels * err.shape[1] * err.shape[2])
        assert_close(value, ref_passes[key])
        pass_values.append(value)
    assert_close(loss(s, t), 0.6 * sum(pass_values) / len(pass_values))


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize('cls', [SWTaTLoss, TaTLoss, PatchMergeTaTLoss])
def test_error_channel_mismatch_without_embed(cls):
    with pytest.raises(ValueError, match='embed=False'):
        cls(3, 4, embed=False)


@pytest.mark.parametrize('cls', [SWTaTLoss, TaTLoss, PatchMergeTaTLoss])
def test_error_channels_not_divisible_by_heads(cls):
    with pytest.raises(ValueError, match='num_heads'):
        cls(4, 6, num_heads=4)
    with pytest.raises(ValueError, match='num_heads'):
        cls(4, 4, num_heads=3, embed=False)


@pytest.mark.parametrize('window', [0, -2, (4, 0), (0, 3)])
def test_error_non_positive_window(window):
    with pytest.raises(ValueError, match='positive'):
        SWTaTLoss(4, 4, window_size=window, shift_size=0)


@pytest.mark.parametrize('window,shift', [(4, 4), (4, 5), ((4, 3), (2, 3)),
                                          ((4, 3), (4, 1))])
def test_error_shift_not_smaller_than_window(window, shift):
    with pytest.raises(ValueError, match='smaller'):
        SWTaTLoss(4, 4, window_size=window, shift_size=shift)


@pytest.mark.parametrize('shift', [-1, (2, -1), (-2, 0)])
def test_error_negative_shift(shift):
    with pytest.raises(ValueError, match='>= 0'):
        SWTaTLoss(4, 4, window_size=4, shift_size=shift)


@pytest.mark.parametrize('cls', [SWTaTLoss, TaTLoss, PatchMergeTaTLoss])
def test_error_3d_input(cls):
    loss = _make_loss(cls, 4, 4, embed=False)
    s, t = feats(ts=(5, 4))
    with pytest.raises(ValueError, match='4-D'):
        loss(s[:, :, 0], t)
    with pytest.raises(ValueError, match='4-D'):
        loss(s, t[:, :, 0])


@pytest.mark.parametrize('cls', [SWTaTLoss, TaTLoss, PatchMergeTaTLoss])
def test_error_declared_channels_do_not_match_input(cls):
    loss = _make_loss(cls, 3, 4)
    with pytest.raises(ValueError, match='student_channels'):
        loss(randn(2, 5, 5, 4), randn(2, 4, 5, 4))
    with pytest.raises(ValueError, match='teacher_channels'):
        loss(randn(2, 3, 5, 4), randn(2, 6, 5, 4))


# -------------------------------------------------------------------- KL
@pytest.mark.parametrize('tau', [1.0, 2.0, 0.5])
def test_kl_classification_matches_reference(tau):
    s, t = randn(5, 7, seed=41), randn(5, 7, seed=42) * 2
    loss = KLDivLoss(tau=tau, loss_weight=0.8)
    assert_close(loss(s, t), ref.kl_div(s, t, tau=tau, loss_weight=0.8))


@pytest.mark.parametrize('tau', [1.0, 3.0])
def test_kl_dense_with_valid_mask_matches_reference(tau):
    s, t = randn(2, 5, 6, 4, seed=43), randn(2, 5, 6, 4, seed=44) * 2
    gen = torch.Generator().manual_seed(45)
    mask = torch.rand(2, 6, 4, generator=gen) > 0.4
    assert 0 < mask.sum() < mask.numel()
    loss = KLDivLoss(tau=tau)
    assert_close(loss(s, t, mask), ref.kl_div(s, t, tau=tau, valid_mask=mask))
    assert_close(loss(s, t), ref.kl_div(s, t, tau=tau))
    # Masked-out pixels do not count, whatever their logits.
    s2 = s.clone()
    s2.permute(0, 2, 3, 1)[~mask] = 100.0
    assert_close(loss(s2, t, mask), loss(s, t, mask))


def test_kl_dense_resize_student_matches_reference():
    s, t = randn(2, 5, 3, 2, seed=46), randn(2, 5, 6, 4, seed=47)
    assert_close(KLDivLoss()(s, t), ref.kl_div(s, t))


def test_kl_tau_squared_scaling():
    s, t = randn(4, 6, seed=48), randn(4, 6, seed=49)
    for tau in (2.0, 4.0):
        plain = KLDivLoss(tau=1.0)(s / tau, t / tau)
        assert_close(KLDivLoss(tau=tau)(s, t), tau**2 * plain)
        # By hand: tau^2 * sum p_t (log p_t - log p_s).
        log_pt = torch.log_softmax(t / tau, 1)
        log_ps = torch.log_softmax(s / tau, 1)
        by_hand = (log_pt.exp() * (log_pt - log_ps)).sum(1).mean() * tau**2
        assert_close(KLDivLoss(tau=tau)(s, t), by_hand)


def test_kl_same_distribution_is_zero():
    z = randn(3, 6, 5, 4, seed=50)
    value = KLDivLoss(tau=2.0)(z, z.clone())
    assert abs(float(value)) < 1e-12
    z2 = randn(4, 9, seed=51)
    assert abs(float(KLDivLoss()(z2, z2 + 3.0))) < 1e-12  # shift-invariant
    assert float(KLDivLoss()(randn(4, 9, seed=52), z2)) > 0


def test_kl_gradient_only_to_student():
    s = randn(2, 5, 4, 3, seed=53, dtype=torch.float32).requires_grad_(True)
    t = randn(2, 5, 4, 3, seed=54, dtype=torch.float32).requires_grad_(True)
    KLDivLoss(tau=2.0)(s, t).backward()
    assert t.grad is None
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_kl_class_count_mismatch():
    with pytest.raises(ValueError, match='classes'):
        KLDivLoss()(randn(2, 5), randn(2, 6))
    with pytest.raises(ValueError, match='classes'):
        KLDivLoss()(randn(2, 5, 3, 3), randn(2, 4, 3, 3))


def test_reference_sanity():
    """Checks of the reference itself."""
    # Softmax weights sum to one: a constant value map is reconstructed
    # exactly whatever the queries and keys (every valid query has a key).
    t = torch.ones(
        1, 2, 5, 4, dtype=F64) * torch.tensor([1.5, -2.0],
                                              dtype=F64)[None, :, None, None]
    s = randn(1, 2, 5, 4, seed=55)
    q, k, _, tt = ref.project(s, t)
    err = ref.window_pass_error(q, k, t, tt, 2, 1)
    assert float(err.abs().max()) < 1e-24
    assert math.isclose(
        float(ref.pass_loss(torch.ones(2, 3, 4, dtype=F64), 5)), 0.2)
    # Region labels are those of the Swin Transformer's slicing code.
    hp, wp, wh, ww, sh, sw = 12, 9, 4, 3, 2, 1
    swin = torch.zeros(hp, wp, dtype=torch.long)
    cnt = 0
    for hs in (slice(0, -wh), slice(-wh, -sh), slice(-sh, None)):
        for ws in (slice(0, -ww), slice(-ww, -sw), slice(-sw, None)):
            swin[hs, ws] = cnt
            cnt += 1
    ours = torch.tensor([[
        3 * ref._region_id(y, hp, wh, sh) + ref._region_id(x, wp, ww, sw)
        for x in range(wp)
    ] for y in range(hp)])
    assert torch.equal(ours, swin)
