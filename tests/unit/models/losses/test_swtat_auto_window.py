"""``SWTaTLoss(window_size='auto')``: windows sized per map, never the whole
map, against the float64 loop reference of ``reference_tat.py``."""
import pytest
import reference_tat as ref
import torch

from mmswtat.models import SWTaTLoss
from mmswtat.models.losses.swtat_loss import AUTO_WINDOW, auto_window

F64 = torch.float64


def randn(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64)


@pytest.mark.parametrize('size,window,shift', [
    ((128, 128), (8, 8), (4, 4)),
    ((16, 16), (8, 8), (4, 4)),
    ((8, 8), (4, 4), (2, 2)),
    ((4, 4), (2, 2), (1, 1)),
    ((2, 2), (1, 1), (0, 0)),
    ((5, 13), (2, 6), (1, 3)),
    ((3, 40), (1, 8), (0, 4)),
])
def test_auto_window_per_map(size, window, shift):
    assert auto_window(*size) == (window, shift)


def test_auto_window_never_covers_a_map_of_2_or_more():
    for h in range(2, 41):
        for w in range(2, 41):
            (wh, ww), (sh, sw) = auto_window(h, w)
            assert 1 <= wh < h and 1 <= ww < w and wh <= AUTO_WINDOW
            assert sh < wh or wh == 1


@pytest.mark.parametrize('size,window,shift', [((8, 8), 4, 2),
                                               ((5, 13), (2, 6), (1, 3)),
                                               ((4, 4), 2, 1)])
@pytest.mark.parametrize('shift_mode', ['auto', 0])
def test_auto_matches_the_reference_of_its_window(size, window, shift,
                                                  shift_mode):
    """Values and gradients equal SW-TaT with the window auto_window picks
    (shifted pass with 'auto', plain only with 0)."""
    t = randn(2, 3, *size, seed=1).relu()
    s = randn(2, 3, *size, seed=2)
    s1 = s.clone().requires_grad_(True)
    got = SWTaTLoss(
        3,
        3,
        window_size='auto',
        shift_size=shift_mode,
        embed=False,
        loss_weight=0.7)(s1, t)
    got.backward()
    s2 = s.clone().requires_grad_(True)
    want = ref.swtat_loss(
        s2, t, window, shift if shift_mode == 'auto' else 0, loss_weight=0.7)
    want.backward()
    torch.testing.assert_close(got, want.detach(), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-7, atol=1e-12)


def test_a_map_under_2x2_takes_no_pass_and_says_so_once(logged):
    loss = SWTaTLoss(
        4, 4, window_size='auto', shift_size='auto', embed=False).double()
    loss.owner = "distill loss 'loss_swtat' (level 4)"
    s = randn(2, 4, 1, 1, seed=1).requires_grad_(True)
    for _ in range(3):
        out = loss(s, randn(2, 4, 1, 1, seed=2))
    assert loss.pass_layouts(1, 1) == [] and loss.pass_layouts(1, 5) == []
    assert float(out.detach()) == 0.0
    out.backward()
    assert torch.equal(s.grad, torch.zeros_like(s))
    said = [m for m in logged if 'no window' in m]
    assert len(said) == 1, said
    assert "'loss_swtat' (level 4)" in said[0] and '1x1' in said[0]
    assert loss.error_maps(randn(2, 4, 1, 1), randn(2, 4, 1, 1)) == {}


@pytest.mark.parametrize('kwargs,match', [
    (dict(window_size='auto', shift_size=2), "shift_size must be 'auto' or 0"),
    (dict(window_size=4, shift_size='auto'), "shift_size 'auto' only"),
    (dict(window_size='big'), "window_size must be an int, an"),
])
def test_bad_auto_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        SWTaTLoss(4, 4, **kwargs)


def test_repr_says_auto():
    assert "window_size=auto" in repr(
        SWTaTLoss(4, 4, window_size='auto', shift_size='auto'))
