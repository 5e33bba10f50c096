"""Loss settings that cannot take effect on the maps they meet (a
window covering the map, a lost shift, single-token passes, nothing
to merge) are warned about, once per map size."""

import pytest
import torch
from seg_helpers import distiller_cfg

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def test_window_covering_the_map_warns_once_per_size(logged):
    from mmswtat.models.losses import SWTaTLoss
    loss = SWTaTLoss(16, 16, window_size=8, shift_size=4, embed=False)
    s, t = torch.randn(2, 16, 4, 4), torch.randn(2, 16, 4, 4)
    loss(s, t)
    (msg, ) = logged
    for part in ('SWTaTLoss', 'window_size=(8, 8)', '4x4 teacher map',
                 'global TaT', "pass 'shifted' equals an unshifted pass",
                 'Set window_size smaller than the map'):
        assert part in msg, (part, msg)
    loss(s, t)  # same size: said once
    assert len(logged) == 1
    loss(torch.randn(1, 16, 16, 16), torch.randn(1, 16, 16, 16))
    assert len(logged) == 1  # 16x16: window and shift take effect
    for side in (5, 6, 7, 3):  # multi-scale: at most 3 warnings per loss
        loss(torch.randn(1, 16, side, side), torch.randn(1, 16, side, side))
    assert len(logged) == 3
    assert logged[-1].endswith('(further map sizes are not reported)')


def test_shift_lost_in_one_direction_warns(logged):
    from mmswtat.models.losses import SWTaTLoss
    loss = SWTaTLoss(8, 8, window_size=8, shift_size=4, embed=False)
    loss(torch.randn(1, 8, 4, 32), torch.randn(1, 8, 4, 32))
    (msg, ) = logged
    assert 'vertical shift' in msg and '4x32' in msg
    assert 'one global window' not in msg


def test_single_token_passes_warn(logged):
    from mmswtat.models.losses import PatchMergeTaTLoss, SWTaTLoss, TaTLoss
    run = [(TaTLoss(8, 8, embed=False), 1, 1),
           (PatchMergeTaTLoss(8, 8, num_merges=3, embed=False), 8, 8),
           (SWTaTLoss(8, 8, window_size=1, shift_size=0, embed=False), 6, 6)]
    for loss, h, w in run:
        loss(torch.randn(1, 8, h, w), torch.randn(1, 8, h, w))
    assert len(logged) == 3, logged
    assert all('attends over single tokens' in m and 'no effect' in m
               for m in logged)
    assert 'PatchMergeTaTLoss' in logged[1] and '1x1 grid' in logged[1]


def test_patch_merging_with_nothing_to_merge_warns(logged):
    """num_merges='auto' on a map within max_tokens merges nothing: the
    pass is global TaT at full resolution, said once (not silently a
    repeat of a covering window pass)."""
    from mmswtat.models.losses import PatchMergeTaTLoss
    loss = PatchMergeTaTLoss(
        8, 8, num_merges='auto', max_tokens=64, embed=False)
    loss(torch.randn(2, 8, 16, 16), torch.randn(2, 8, 16, 16))
    assert logged == []  # 256 tokens: merged once
    loss(torch.randn(2, 8, 8, 8), torch.randn(2, 8, 8, 8))
    (msg, ) = logged
    for part in ("pass 'merged' merges nothing on the 8x8 map",
                 'global TaT at full resolution', "window_size='auto'"):
        assert part in msg, (part, msg)
    assert 'Set window_size smaller' not in msg


def test_ineffective_passes_from_layouts():
    from mmswtat.models.losses import SWTaTLoss, TaTLoss
    from mmswtat.models.ops import REFERENCE_SIZE, ineffective_passes
    sw = SWTaTLoss(8, 8, window_size=8, shift_size=4, embed=False)
    ref = sw.pass_layouts(REFERENCE_SIZE, REFERENCE_SIZE)
    assert len(ineffective_passes(sw.pass_layouts(4, 4), ref)) == 3
    assert ineffective_passes(sw.pass_layouts(16, 16), ref) == []
    tat = TaTLoss(8, 8, embed=False)  # global by design: nothing to say
    assert ineffective_passes(
        tat.pass_layouts(4, 4), tat.pass_layouts(REFERENCE_SIZE,
                                                 REFERENCE_SIZE)) == []


@pytest.mark.dry_run
def test_dry_run_warns_about_a_window_larger_than_the_map(logged):
    from seg_helpers import build_distiller
    cfg = distiller_cfg()
    cfg['distill_losses']['loss_swtat'].update(window_size=8, shift_size=4)
    build_distiller(cfg)  # layer4 of the 32x32 crop: a 4x4 map
    msgs = [m for m in logged if 'cannot take effect' in m]
    assert msgs and "distill loss 'loss_swtat'" in msgs[0]
    assert '4x4' in msgs[0]
