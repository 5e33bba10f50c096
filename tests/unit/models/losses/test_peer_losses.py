"""KDLoss, ChannelWiseDivergence, DISTLoss, FeatureMSELoss and PKDLoss
against the loop references of ``reference_peer.py`` (float64: values and
gradients), plus errors and autocast behaviour."""
import pytest
import reference_peer as ref
import torch

from mmswtat.models import (ChannelWiseDivergence, DISTLoss, FeatureMSELoss,
                            KDLoss, KLDivLoss, PKDLoss)
from mmswtat.models.ops import valid_mask_from_labels
from mmswtat.registry import MODELS

F64 = torch.float64
RTOL = 1e-9


def randn(*shape, seed=0, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64) * scale


def mask_of(n, h, w, seed=0, p=0.4):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(n, h, w, generator=gen) > p
    assert 0 < mask.sum() < mask.numel()
    return mask


def check_value_and_grad(loss, reference, s, t, mask=None, weight=1.0):
    """loss(s, t[, mask]) == weight * reference(s, t[, mask]), and so are
    their gradients with respect to the student (none to the teacher)."""
    args = () if mask is None else (mask, )
    s1, t1 = s.clone().requires_grad_(True), t.clone().requires_grad_(True)
    got = loss(s1, t1, *args)
    assert got.dtype == F64 and got.dim() == 0
    got.backward()
    assert t1.grad is None
    s2 = s.clone().requires_grad_(True)
    want = weight * reference(s2, t, *args)
    want.backward()
    torch.testing.assert_close(got, want.detach(), rtol=RTOL, atol=1e-12)
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-7, atol=1e-12)
    assert s1.grad.abs().sum() > 0


# ------------------------------------------------------------------ KD
@pytest.mark.parametrize('tau', [1.0, 4.0, 0.5])
def test_kd_classification(tau):
    s, t = randn(5, 7, seed=1), randn(5, 7, seed=2, scale=2)
    check_value_and_grad(
        KDLoss(tau=tau, loss_weight=0.7),
        lambda a, b: ref.kd(a, b, tau),
        s,
        t,
        weight=0.7)


@pytest.mark.parametrize('tau', [1.0, 4.0])
def test_kd_dense_with_and_without_mask(tau):
    s, t = randn(2, 4, 3, 5, seed=3), randn(2, 4, 3, 5, seed=4, scale=2)
    loss = KDLoss(tau=tau)
    check_value_and_grad(loss, lambda a, b: ref.kd(a, b, tau), s, t)
    mask = mask_of(2, 3, 5, seed=5)
    check_value_and_grad(loss, lambda a, b, m: ref.kd(a, b, tau, m), s, t,
                         mask)
    # Ignored pixels do not count, whatever the logits there.
    s2 = s.clone()
    s2.permute(0, 2, 3, 1)[~mask] = 50.0
    torch.testing.assert_close(loss(s2, t, mask), loss(s, t, mask))
    # All pixels ignored: 0, with a (zero) gradient.
    none = torch.zeros_like(mask)
    s3 = s.clone().requires_grad_(True)
    value = loss(s3, t, none)
    value.backward()
    assert float(value.detach()) == 0 and float(s3.grad.abs().sum()) == 0


def test_kd_is_the_kldivloss_implementation():
    s, t = randn(2, 5, 4, 3, seed=6), randn(2, 5, 4, 3, seed=7)
    mask = mask_of(2, 4, 3, seed=8)
    assert isinstance(KLDivLoss(tau=2.0), KDLoss)
    torch.testing.assert_close(
        KLDivLoss(tau=2.0)(s, t, mask),
        KDLoss(tau=2.0)(s, t, mask))


def test_kd_dense_student_resized_to_teacher():
    s, t = randn(2, 3, 2, 3, seed=9), randn(2, 3, 4, 6, seed=10)
    up = torch.nn.functional.interpolate(
        s, size=(4, 6), mode='bilinear', align_corners=False)
    torch.testing.assert_close(KDLoss()(s, t), ref.kd(up, t))


def test_valid_mask_from_labels():
    labels = torch.tensor([[[0, 255, 1, 1], [2, 2, 255, 0], [1, 1, 1, 1],
                            [255, 255, 0, 0]]])
    full = valid_mask_from_labels(labels, 255, (4, 4))
    assert torch.equal(full, labels != 255)
    half = valid_mask_from_labels(labels[:, None], 255, (2, 2))
    # Nearest neighbour: the top-left pixel of each 2x2 block.
    assert torch.equal(half, torch.tensor([[[True, True], [True, True]]]))
    assert torch.equal(
        valid_mask_from_labels(labels[:, 1:], 255, (3, 4)), labels[:, 1:]
        != 255)
    with pytest.raises(ValueError, match='integer labels'):
        valid_mask_from_labels(labels.float(), 255, (2, 2))


# ----------------------------------------------------------------- CWD
@pytest.mark.parametrize('tau', [1.0, 4.0])
@pytest.mark.parametrize('shape', [(2, 3, 4, 5), (1, 6, 3, 3)])
def test_cwd_matches_reference(tau, shape):
    s, t = randn(*shape, seed=11), randn(*shape, seed=12, scale=3)
    check_value_and_grad(
        ChannelWiseDivergence(tau=tau, loss_weight=3.0),
        lambda a, b: ref.cwd(a, b, tau),
        s,
        t,
        weight=3.0)


def test_cwd_is_spatial_not_class_softmax():
    """A per-channel offset changes nothing (the softmax is over positions),
    while a per-position offset does."""
    s, t = randn(2, 3, 4, 4, seed=13), randn(2, 3, 4, 4, seed=14)
    loss = ChannelWiseDivergence(tau=2.0)
    shifted = s + randn(1, 3, 1, 1, seed=15)
    torch.testing.assert_close(loss(shifted, t), loss(s, t))
    assert abs(float(loss(s + randn(1, 1, 4, 4, seed=16), t) -
                     loss(s, t))) > 1e-6
    assert float(loss(t, t)) < 1e-12


# ---------------------------------------------------------------- DIST
@pytest.mark.parametrize('tau', [1.0, 2.0])
def test_dist_classification(tau):
    s, t = randn(6, 5, seed=17), randn(6, 5, seed=18, scale=2)
    loss = DISTLoss(beta=1.0, gamma=2.0, tau=tau, loss_weight=0.5)
    check_value_and_grad(
        loss, lambda a, b: ref.dist(a, b, tau, 1.0, 2.0), s, t, weight=0.5)


def test_dist_dense_rows_are_pixels():
    s, t = randn(2, 4, 3, 2, seed=19), randn(2, 4, 3, 2, seed=20, scale=2)
    loss = DISTLoss(beta=0.5, gamma=1.5)
    check_value_and_grad(loss, lambda a, b: ref.dist(a, b, 1.0, 0.5, 1.5), s,
                         t)
    mask = mask_of(2, 3, 2, seed=21)
    check_value_and_grad(
        loss, lambda a, b, m: ref.dist(a, b, 1.0, 0.5, 1.5, valid_mask=m), s,
        t, mask)
    s2 = s.clone().requires_grad_(True)
    value = loss(s2, t, torch.zeros_like(mask))
    value.backward()
    assert float(value.detach()) == 0 and float(s2.grad.abs().sum()) == 0


def test_dist_terms_separately():
    """beta and gamma weigh two distinct terms (each one alone matches)."""
    s, t = randn(5, 4, seed=22), randn(5, 4, seed=23)
    inter = DISTLoss(beta=1.0, gamma=0.0)(s, t)
    intra = DISTLoss(beta=0.0, gamma=1.0)(s, t)
    torch.testing.assert_close(inter, ref.dist(s, t, 1.0, 1.0, 0.0))
    torch.testing.assert_close(intra, ref.dist(s, t, 1.0, 0.0, 1.0))
    assert abs(float(inter - intra)) > 1e-6
    assert float(DISTLoss()(t, t)) < 1e-6


# ------------------------------------------------------------- FitNet
@pytest.mark.parametrize('shape', [(2, 3, 4, 5), (4, 6)])
def test_feature_mse_matches_reference(shape):
    s, t = randn(*shape, seed=24), randn(*shape, seed=25, scale=2)
    check_value_and_grad(
        FeatureMSELoss(loss_weight=2.0), ref.feature_mse, s, t, weight=2.0)


# -------------------------------------------------------------- errors
ALL = [KDLoss, ChannelWiseDivergence, DISTLoss, FeatureMSELoss, PKDLoss]
TEMPERED = [KDLoss, ChannelWiseDivergence, DISTLoss]


@pytest.mark.parametrize('cls', TEMPERED)
@pytest.mark.parametrize('tau', [0, -1.0, 'auto', True, float('nan')])
def test_bad_temperature(cls, tau):
    with pytest.raises(ValueError, match='tau must be a positive number'):
        cls(tau=tau)


@pytest.mark.parametrize('cls', ALL)
def test_shape_errors(cls):
    loss = cls()
    with pytest.raises(ValueError, match='channels.*(num_classes|connector)'):
        loss(randn(2, 3, 4, 4), randn(2, 5, 4, 4))
    with pytest.raises(ValueError, match='batch sizes differ'):
        loss(randn(2, 3, 4, 4), randn(3, 3, 4, 4))
    with pytest.raises(ValueError, match='expects'):
        loss(randn(2, 3, 4), randn(2, 3, 4))
    with pytest.raises(ValueError, match='expects'):
        loss((randn(2, 3, 4, 4), ), randn(2, 3, 4, 4))


def test_cwd_needs_maps():
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        ChannelWiseDivergence()(randn(2, 3), randn(2, 3))
    with pytest.raises(ValueError, match='differ in rank'):
        KDLoss()(randn(2, 3), randn(2, 3, 2, 2))


@pytest.mark.parametrize('cls', [KDLoss, DISTLoss])
def test_bad_valid_mask(cls):
    s, t = randn(2, 3, 4, 5), randn(2, 3, 4, 5)
    for bad in (torch.ones(2, 4, 5), torch.ones(2, 5, 4, dtype=torch.bool),
                torch.ones(2, 1, 4, 5, dtype=torch.bool)):
        with pytest.raises(ValueError, match='valid_mask_from_labels'):
            cls()(s, t, bad)
    with pytest.raises(ValueError, match='valid_mask'):
        cls()(randn(2, 3), randn(2, 3), torch.ones(2, dtype=torch.bool))


@pytest.mark.parametrize('cls',
                         [ChannelWiseDivergence, FeatureMSELoss, PKDLoss])
def test_mask_refused_where_unsupported(cls):
    with pytest.raises(ValueError, match='takes no valid_mask'):
        cls()(randn(2, 3, 4, 5), randn(2, 3, 4, 5),
              torch.ones(2, 4, 5, dtype=torch.bool))


# ------------------------------------------------------------ autocast
@pytest.mark.parametrize('cls', ALL)
def test_fp32_under_bf16_autocast(cls):
    """bf16 inputs under autocast: computed in fp32, equal to the fp32 loss
    on the same (bf16-rounded) inputs."""
    s = randn(2, 4, 6, 5, seed=26).to(torch.bfloat16).requires_grad_(True)
    t = randn(2, 4, 6, 5, seed=27).to(torch.bfloat16)
    loss = cls()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = loss(s, t)
    assert got.dtype == torch.float32
    want = loss(s.detach().float(), t.float())
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
    got.backward()
    assert s.grad is not None and torch.isfinite(s.grad).all()


@pytest.mark.parametrize('cfg', [
    dict(type='mmswtat.KDLoss', tau=4.0),
    dict(type='mmswtat.ChannelWiseDivergence', tau=4.0, loss_weight=3.0),
    dict(type='mmswtat.DISTLoss', beta=1.0, gamma=1.0),
    dict(type='mmswtat.FeatureMSELoss', loss_weight=1.0),
    dict(type='mmswtat.PKDLoss', loss_weight=6.0)
])
def test_registered(cfg):
    loss = MODELS.build(cfg)
    assert type(loss).__name__ == cfg['type'].split('.')[1]
    assert 'loss_weight' in repr(loss)


# ----------------------------------------------------------------- PKD
@pytest.mark.parametrize('shape', [(2, 3, 4, 5), (1, 4, 3, 3), (3, 2, 1, 2)])
def test_pkd_matches_reference(shape):
    s, t = randn(*shape, seed=28), randn(*shape, seed=29, scale=3) + 2
    check_value_and_grad(PKDLoss(loss_weight=6.0), ref.pkd, s, t, weight=6.0)


def test_pkd_student_resized_to_teacher():
    s, t = randn(2, 3, 2, 3, seed=30), randn(2, 3, 4, 6, seed=31)
    up = torch.nn.functional.interpolate(
        s, size=(4, 6), mode='bilinear', align_corners=False)
    torch.testing.assert_close(
        PKDLoss()(s, t), ref.pkd(up, t), rtol=RTOL, atol=1e-12)


def test_pkd_is_one_minus_pearson():
    """``L = (M - 1) / M * mean_c (1 - r_c)`` with numpy's correlation of
    each channel's N*H*W values (the paper's reading of the loss), so a
    per-channel affine map of the student (positive scale) changes nothing
    and a negated teacher gives the maximum ``2 (M - 1) / M``."""
    import numpy as np
    s, t = randn(2, 3, 4, 5, seed=32), randn(2, 3, 4, 5, seed=33)
    t = t + 0.8 * s  # correlated, so r is far from 0
    m = 2 * 4 * 5
    r = [
        np.corrcoef(s[:, c].flatten().numpy(), t[:, c].flatten().numpy())[0, 1]
        for c in range(3)
    ]
    want = (m - 1) / m * float(np.mean([1 - x for x in r]))
    loss = PKDLoss()
    assert abs(float(loss(s, t)) - want) < 1e-5
    affine = s * torch.tensor([0.1, 5.0, 30.0], dtype=F64).view(1, 3, 1, 1) \
        + randn(1, 3, 1, 1, seed=34) * 10
    torch.testing.assert_close(
        loss(affine, t), loss(s, t), rtol=1e-5, atol=1e-7)
    assert float(loss(t, t)) < 1e-12
    assert abs(float(loss(-t, t)) - 2 * (m - 1) / m) < 1e-5


def test_pkd_single_value_per_channel_is_finite():
    """One value per channel (N = H = W = 1): standardised to 0, loss 0 and
    a finite (zero) gradient, not NaN."""
    s = randn(1, 3, 1, 1, seed=35).requires_grad_(True)
    value = PKDLoss()(s, randn(1, 3, 1, 1, seed=36))
    value.backward()
    assert float(value.detach()) == 0
    assert torch.isfinite(s.grad).all() and float(s.grad.abs().sum()) == 0


def test_pkd_errors_name_the_loss():
    loss = PKDLoss()
    with pytest.raises(
            ValueError,
            match=r'PKDLoss: the student has 3 '
            r'channels and the teacher 5; .*ConvBNConnector'):
        loss(randn(2, 3, 4, 4), randn(2, 5, 4, 4))
    with pytest.raises(ValueError, match='PKDLoss: batch sizes differ'):
        loss(randn(2, 3, 4, 4), randn(3, 3, 4, 4))
    with pytest.raises(
            ValueError,
            match=r'PKDLoss expects \(N, C, H, W\) '
            r'student inputs, got \(2, 3\)'):
        loss(randn(2, 3), randn(2, 3))
    with pytest.raises(ValueError, match='PKDLoss takes no valid_mask'):
        loss(
            randn(2, 3, 4, 5), randn(2, 3, 4, 5),
            torch.ones(2, 4, 5, dtype=torch.bool))
    with pytest.raises(
            ValueError, match='PKDLoss: loss_weight must be a '
            'number >= 0'):
        PKDLoss(loss_weight=-1)
