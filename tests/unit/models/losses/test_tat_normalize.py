"""The TaT losses' ``normalize=`` scale option against float64 loop
references built on ``reference_tat.py`` (values and gradients)."""
import pytest
import reference_tat as ref
import torch
from window_reference import package_window_errors

from mmswtat.models import PatchMergeTaTLoss, SWTaTLoss, TaTLoss
from mmswtat.models.ops import tat_normalize

F64 = torch.float64
EPS = 1e-2  # the relative variance floor of normalize='channel'


def randn(*shape, seed=0, scale=1.0, shift=0.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64) * scale + shift


def standardize_ref(v, t):
    """Per (b, c): mu, var over the map of the teacher t, by loops;
    d = var + EPS * mean_c var + 1e-12; returns (v - mu) / sqrt(d) and
    (t - mu) / sqrt(d)."""
    b, c, h, w = t.shape
    v2, t2 = v.clone(), t.clone()
    for n in range(b):
        mus, vars_ = [], []
        for ch in range(c):
            vals = [float(t[n, ch, y, x]) for y in range(h) for x in range(w)]
            mu = sum(vals) / len(vals)
            mus.append(mu)
            vars_.append(sum((a - mu)**2 for a in vals) / len(vals))
        floor = EPS * sum(vars_) / c + 1e-12
        for ch in range(c):
            d = (vars_[ch] + floor)**0.5
            v2[n, ch] = (v[n, ch] - mus[ch]) / d
            t2[n, ch] = (t[n, ch] - mus[ch]) / d
    return v2, t2


def self_standardize_ref(x):
    """normalize='self' on one map, by loops: per channel, mu and the
    sample std over its B*H*W values; (x - mu) / (std + 1e-6)."""
    b, c, h, w = x.shape
    out = x.clone()
    for ch in range(c):
        vals = [
            x[n, ch, y, z] for n in range(b) for y in range(h)
            for z in range(w)
        ]
        mu = sum(vals) / len(vals)
        std = (sum((a - mu)**2 for a in vals) / (len(vals) - 1))**0.5
        out[:, ch] = (x[:, ch] - mu) / (std + 1e-6)
    return out


def normalize_ref(q, k, v, tt, normalize):
    if normalize == 'channel':
        v, tt = standardize_ref(v, tt)
    if normalize == 'self':
        q, k, v, tt = (self_standardize_ref(x) for x in (q, k, v, tt))
    return q, k, v, tt


def mean_square_ref(t):
    vals = [float(a) for a in t.flatten()]
    return sum(a * a for a in vals) / len(vals)


def swtat_ref(s, t, normalize, window=4, shift=2):
    """SW-TaT (embed=False, query teacher): mean over passes of the MSE."""
    q, k, v, tt = normalize_ref(*ref.project(s, t), normalize)
    passes = [0, shift] if shift else [0]
    errs = [ref.window_pass_error(q, k, v, tt, window, sh) for sh in passes]
    loss = sum(ref.pass_loss(e, tt.shape[1]) for e in errs) / len(errs)
    if normalize == 'teacher_rms':
        loss = loss / mean_square_ref(t)
    return loss


def tat_ref(s, t, normalize):
    h, w = t.shape[-2:]
    return swtat_ref(s, t, normalize, window=(h, w), shift=0)


def pm_ref(s, t, normalize):
    q, k, v, tt = normalize_ref(*ref.project(s, t), normalize)
    q, k, v, tt = (ref.merge_once(x) for x in (q, k, v, tt))
    h, w = tt.shape[-2:]
    loss = ref.pass_loss(
        ref.window_pass_error(q, k, v, tt, (h, w), 0), tt.shape[1])
    if normalize == 'teacher_rms':
        loss = loss / mean_square_ref(t)
    return loss


CASES = {
    'swtat': (lambda **kw: SWTaTLoss(
        3, 3, window_size=4, shift_size=2, embed=False, **kw), swtat_ref),
    'tat': (lambda **kw: TaTLoss(3, 3, embed=False, **kw), tat_ref),
    'patch_merge':
    (lambda **kw: PatchMergeTaTLoss(3, 3, num_merges=1, embed=False, **kw),
     pm_ref),
}


@pytest.mark.parametrize('normalize',
                         ['none', 'channel', 'teacher_rms', 'self'])
@pytest.mark.parametrize('name', list(CASES))
def test_matches_reference_value_and_grad(name, normalize):
    make, reference = CASES[name]
    # Post-ReLU-like teacher far from unit scale; odd size -> padding.
    t = randn(2, 3, 7, 6, seed=1, scale=3.0, shift=2.0).relu()
    s = randn(2, 3, 7, 6, seed=2)
    s1 = s.clone().requires_grad_(True)
    got = make(normalize=normalize, loss_weight=0.5)(s1, t)
    got.backward()
    s2 = s.clone().requires_grad_(True)
    want = 0.5 * reference(s2, t, normalize)
    want.backward()
    torch.testing.assert_close(got, want.detach(), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-7, atol=1e-12)


def _loss_fixed_attention(q, k, v, t, mode):
    """SW-TaT-style loss with fixed queries and keys (ops level)."""
    q, k, v, t, div = tat_normalize(q, k, v, t, mode)
    errs = package_window_errors(q, k, v, t, 4, [0, 2], reduction='sum')
    return sum(errs) / len(errs) / t.numel() / div


def test_scale_free_in_the_teacher():
    """With the attention fixed, scaling value and target by a multiplies the
    raw loss by a^2 and leaves both normalised losses unchanged; 'channel'
    also ignores per-channel offsets (not per-channel gains: the variance
    floor is relative to the mean channel variance)."""
    q, k = randn(2, 3, 7, 6, seed=3), randn(2, 3, 7, 6, seed=4)
    v = randn(2, 3, 7, 6, seed=5)
    t = randn(2, 3, 7, 6, seed=6, shift=1.0).relu()
    a = 7.0
    raw = _loss_fixed_attention(q, k, v, t, 'none')
    torch.testing.assert_close(
        _loss_fixed_attention(q, k, a * v, a * t, 'none'), a**2 * raw)
    for mode in ('channel', 'teacher_rms'):
        torch.testing.assert_close(
            _loss_fixed_attention(q, k, a * v, a * t, mode),
            _loss_fixed_attention(q, k, v, t, mode))
    off = torch.tensor([0.5, -2.0, 3.0], dtype=F64)[None, :, None, None]
    torch.testing.assert_close(
        _loss_fixed_attention(q, k, v + off, t + off, 'channel'),
        _loss_fixed_attention(q, k, v, t, 'channel'))
    assert abs(
        float(
            _loss_fixed_attention(q, k, v + off, t + off, 'teacher_rms') -
            _loss_fixed_attention(q, k, v, t, 'teacher_rms'))) > 1e-3


def test_default_is_raw_and_modes_differ():
    t = randn(2, 3, 7, 6, seed=5, scale=3.0, shift=2.0).relu()
    s = randn(2, 3, 7, 6, seed=6)
    make, reference = CASES['swtat']
    default = make()(s, t)
    assert make().normalize == 'none'
    torch.testing.assert_close(default, make(normalize='none')(s, t))
    torch.testing.assert_close(default, reference(s, t, 'none'))
    values = {
        m: float(make(normalize=m)(s, t))
        for m in ('none', 'channel', 'teacher_rms', 'self')
    }
    assert len({round(v, 9) for v in values.values()}) == 4
    assert "normalize='channel'" in repr(make(normalize='channel'))


def test_error_maps_follow_normalize():
    t = randn(2, 3, 7, 6, seed=7, scale=3.0).relu()
    s = randn(2, 3, 7, 6, seed=8)
    make, _ = CASES['swtat']
    for mode in ('channel', 'teacher_rms', 'self'):
        loss = make(normalize=mode)
        maps = loss.error_maps(s, t)
        from_maps = sum(m.sum() for m in maps.values()) / (2 * t.numel())
        torch.testing.assert_close(
            from_maps, loss(s, t), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('bad', ['rms', None, 'Channel'])
def test_bad_normalize(bad):
    with pytest.raises(ValueError, match="normalize must be one of"):
        SWTaTLoss(4, 4, normalize=bad)


def test_channel_mode_refuses_a_one_position_map():
    """A 1x1 map (RetinaNet's P7 at 128 px) has no channel variance: one
    clear error instead of an infinite loss."""
    loss = SWTaTLoss(
        4, 4, window_size=2, shift_size=0, normalize='channel').double()
    with pytest.raises(
            ValueError, match=r"one position .*per_level=dict\("
            r"normalize="):
        loss(randn(2, 4, 1, 1, seed=1), randn(2, 4, 1, 1, seed=2))
    assert torch.isfinite(
        loss(randn(2, 4, 2, 2, seed=1), randn(2, 4, 2, 2, seed=2)))


def test_fp32_under_bf16_autocast():
    t = randn(2, 4, 8, 8, seed=9, scale=3.0).relu().to(torch.bfloat16)
    s = randn(2, 4, 8, 8, seed=10).to(torch.bfloat16)
    for mode in ('channel', 'teacher_rms', 'self'):
        loss = SWTaTLoss(
            4, 4, window_size=4, shift_size=2, embed=False, normalize=mode)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            got = loss(s, t)
        assert got.dtype == torch.float32
        torch.testing.assert_close(
            got, loss(s.float(), t.float()), rtol=1e-6, atol=1e-7)


def test_self_mode_ignores_each_side_s_channel_gain_and_offset():
    """normalize='self': a per-channel gain and offset of the student, and
    others of the teacher, leave the loss (attention included) unchanged,
    up to PKD's 1e-6 on the std; 'channel' follows the student's gain."""
    make, _ = CASES['swtat']
    t = randn(2, 3, 7, 6, seed=11, scale=3.0, shift=2.0).relu()
    s = randn(2, 3, 7, 6, seed=12)
    gain = torch.tensor([0.2, 5.0, 40.0], dtype=F64)[None, :, None, None]
    off = torch.tensor([0.5, -2.0, 3.0], dtype=F64)[None, :, None, None]
    base = make(normalize='self')(s, t)
    torch.testing.assert_close(
        make(normalize='self')(s * gain + off, t * gain.flip(1) - off),
        base,
        rtol=1e-5,
        atol=1e-9)
    assert abs(
        float(
            make(normalize='channel')(s * gain, t) -
            make(normalize='channel')(s, t))) > 1e-2


def test_self_mode_refuses_one_value_per_channel_only():
    """A 1x1 map is fine with a batch of 2 (two values a channel); batch 1
    is one clear error naming the fix."""
    loss = SWTaTLoss(
        4, 4, window_size=2, shift_size=0, embed=False,
        normalize='self').double()
    with pytest.raises(
            ValueError,
            match=r"normalize='self'.*one value per channel"
            r".*per_level=dict\(normalize="):
        loss(randn(1, 4, 1, 1, seed=1), randn(1, 4, 1, 1, seed=2))
    assert torch.isfinite(
        loss(randn(2, 4, 1, 1, seed=1), randn(2, 4, 1, 1, seed=2)))
