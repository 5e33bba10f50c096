"""Pictures of distillation and loss curves.

Unit tests check the inspection against the losses themselves (error maps,
loss values, the Swin mask rule); the end-to-end tests run both tools on the
session's 8-iteration distillation of the real VOC layer4 config on synthetic
data (conftest.py: seg_layer4_run).
"""
import importlib.util
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from cli_helpers import ROOT, SEG_WINDOW_OPTS, run_tool
from PIL import Image
from window_reference import pad_and_shift, window_partition

# yapf: disable
from mmswtat.analysis import (attention_size, boundaries, curves_size,
                              draw_curves, draw_features, draw_loss_maps,
                              draw_query_attention, draw_window_overlay,
                              features_size, find_scalar_files, from_windows,
                              inspect_tat_loss, load_run, locate,
                              loss_maps_size, overlay_size, pca_rgb,
                              query_attention, query_cell, save_figure,
                              split_series, to_windows)
# yapf: enable
from mmswtat.models.losses import PatchMergeTaTLoss, SWTaTLoss, TaTLoss
from mmswtat.models.ops import patch_merge
from mmswtat.testing import as_cli, seg_tiny_options

DISTILL = 'configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py'
ITERS = 8  # the session's layer4 run (conftest.py: seg_layer4_run)
WINDOW_OPTS = SEG_WINDOW_OPTS

ALL = ['swtat_pad_heads', 'swtat_rect', 'tat', 'pm']


def _losses():
    return {
        'swtat_pad_heads':
        SWTaTLoss(
            6,
            8,
            window_size=4,
            shift_size=2,
            num_heads=2,
            scale='auto',
            loss_weight=0.5),
        'swtat_rect':
        SWTaTLoss(6, 8, window_size=(3, 5), shift_size=(1, 2)),
        'tat':
        TaTLoss(6, 8, num_heads=2),
        'pm':
        PatchMergeTaTLoss(
            6, 8, num_merges=1, num_heads=4, scale='auto', loss_weight=2.0),
    }


def _maps(seed=0):
    g = torch.Generator().manual_seed(seed)
    # Odd teacher size (7x9): padding in every window pass and in the merge.
    return (torch.randn(2, 6, 5, 6,
                        generator=g), torch.randn(2, 8, 7, 9, generator=g))


def _png(path):
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == 'PNG'
        return im.size


# ------------------------------------------------------------------ units
@pytest.mark.parametrize('name', ALL)
def test_windows_round_trip(name):
    loss = _losses()[name]
    x = torch.randn(2, 8, 7, 9)
    for layout in loss.pass_layouts(7, 9):
        back = from_windows(to_windows(x, layout, loss.num_heads), layout, 2)
        assert torch.equal(back, x), layout.name


def test_windows_are_the_swin_recipe():
    """The gather cuts the windows the pad/roll/partition recipe cuts."""
    loss = _losses()['swtat_rect']
    x = torch.randn(2, 8, 7, 9)
    for layout in loss.pass_layouts(7, 9):
        recipe = window_partition(pad_and_shift(x, layout.geom), layout.geom)
        # (B, nW, C, L) vs the recipe's (nW, B, L, C).
        assert torch.equal(to_windows(x, layout).permute(1, 0, 3, 2), recipe)


@pytest.mark.parametrize('name', ALL)
def test_heat_maps_are_the_losses_per_position_errors(name):
    loss = _losses()[name].eval()
    student, teacher = _maps()
    ins = inspect_tat_loss(loss, student, teacher)
    maps = loss.error_maps(student, teacher)
    assert list(ins.passes) == list(maps)
    for pass_name, p in ins.passes.items():
        assert torch.equal(p.error_map, maps[pass_name].detach())
        # The reconstruction made here from the public ops gives the same
        # per-position error as the loss.
        target = patch_merge(ins.target, p.layout.merges)
        assert p.tokens.shape == target.shape
        err = (p.tokens - target).square().sum(1)
        torch.testing.assert_close(err, p.error_map, rtol=1e-5, atol=1e-5)
        assert p.reconstruction.shape == teacher.shape
        # Sum check: sum(map) / (B * C * H' * W') is the pass loss.
        b, h, w = p.error_map.shape
        assert p.loss == pytest.approx(
            float(p.error_map.sum()) / (b * p.channels * h * w))
    # ... and the mean of the pass losses times loss_weight is the loss.
    mean = sum(p.loss for p in ins.passes.values()) / len(ins.passes)
    assert float(loss(student, teacher).detach()) == pytest.approx(
        mean * loss.loss_weight, rel=1e-5)
    assert ins.total == pytest.approx(mean * loss.loss_weight)


@pytest.mark.parametrize('name', ['swtat_pad_heads', 'swtat_rect', 'pm'])
def test_query_attention_follows_the_mask_and_rebuilds_the_output(name):
    loss = _losses()[name].eval()
    ins = inspect_tat_loss(loss, *_maps(1))
    heads = loss.num_heads
    masked_somewhere = False
    for pass_name, p in ins.passes.items():
        layout = p.layout
        g = layout.geom
        values = to_windows(ins.value, layout, heads)
        for y in range(7):
            for x in range(9):
                att = query_attention(
                    loss, ins, pass_name, y, x, batch_index=1)
                w = att.weights
                np.testing.assert_allclose(w.sum((1, 2)), 1, rtol=1e-5)
                assert (w[:, ~att.allowed] == 0).all()
                # Independent Swin rule: a key is visible iff it is a real
                # position and the cyclic shift did not wrap between it and
                # the query (rolled offset == offset on the map).
                qy, qx = att.query_cell
                qry, qrx = (qy - g.sh) % g.hp, (qx - g.sw) % g.wp
                window, _ = locate(layout, y, x)
                wy, wx = divmod(window, g.wp // g.ww)
                ry = wy * g.wh + np.arange(g.wh)[:, None]
                rx = wx * g.ww + np.arange(g.ww)[None, :]
                same = ((qry - ry) == (qy - att.rows)) & (
                    (qrx - rx) == (qx - att.cols))
                np.testing.assert_array_equal(att.allowed, same & att.real)
                masked_somewhere |= bool((~att.allowed).any())
                # weights @ values is the loss's reconstruction there.
                _, token = locate(layout, y, x)
                v = values[heads:2 * heads, window]  # (heads, d, L)
                out = torch.einsum('hl,hdl->hd',
                                   torch.from_numpy(w).reshape(heads, -1), v)
                torch.testing.assert_close(
                    out.reshape(-1),
                    p.tokens[1, :, qy, qx],
                    rtol=1e-4,
                    atol=1e-5)
    # Padding (7x9 maps) and the shift hide keys somewhere.
    assert masked_somewhere == (name != 'pm')


def test_query_outside_the_map_is_refused():
    loss = _losses()['swtat_rect'].eval()
    ins = inspect_tat_loss(loss, *_maps())
    with pytest.raises(ValueError, match='outside the 7x9 feature map'):
        query_attention(loss, ins, 'plain', 7, 0)
    with pytest.raises(KeyError, match='no pass'):
        query_attention(loss, ins, 'merged', 0, 0)


def test_window_borders():
    loss = SWTaTLoss(4, 4, window_size=4, shift_size=2)
    plain, shifted = loss.pass_layouts(8, 8)
    assert boundaries(plain) == ([4], [4])
    assert boundaries(shifted) == ([2, 6], [2, 6])
    plain, shifted = loss.pass_layouts(7, 3)  # padded; width one window
    assert boundaries(plain) == ([4], [])
    assert boundaries(shifted) == ([2, 6], [])
    assert shifted.geom.sw == 0
    pm = PatchMergeTaTLoss(4, 4, num_merges=2).pass_layouts(8, 8)[0]
    assert pm.grid == (2, 2) and boundaries(pm) == ([4], [4])


def test_pca_rgb_shares_one_basis():
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(16, 5, 6, generator=g)
    rgb_t, rgb_same, rgb_other = pca_rgb(
        [teacher, teacher.clone(),
         torch.zeros(16, 3, 4)])
    assert rgb_t.shape == (5, 6, 3) and rgb_other.shape == (3, 4, 3)
    assert rgb_t.min() >= 0 and rgb_t.max() <= 1 and rgb_t.std() > 0.1
    np.testing.assert_array_equal(rgb_t, rgb_same)
    # A constant map is one colour (the teacher mean's).
    assert np.ptp(rgb_other.reshape(-1, 3), 0).max() == 0
    with pytest.raises(ValueError, match='same channel count'):
        pca_rgb([teacher, torch.zeros(3, 5, 6)])


def test_figures_have_their_sizes(tmp_path):
    loss = _losses()['swtat_pad_heads'].eval()
    ins = inspect_tat_loss(loss, *_maps())
    layouts = [p.layout for p in ins.passes.values()]
    image = np.random.default_rng(0).integers(0, 255, (56, 72, 3), np.uint8)
    figs = {
        'overlay': (draw_window_overlay(image, layouts, 'x',
                                        (6, 0)), overlay_size((56, 72))),
        'features': (draw_features(
            np.zeros((7, 9, 3)), {k: np.ones((7, 9, 3))
                                  for k in ins.passes}, np.zeros((7, 9)),
            {k: np.ones((7, 9))
             for k in ins.passes}), features_size(2)),
        'maps': (draw_loss_maps(
            {
                k: p.error_map[0].numpy()
                for k, p in ins.passes.items()
            }, {
                k: p.loss
                for k, p in ins.passes.items()
            }, {
                k: p.layout
                for k, p in ins.passes.items()
            }), loss_maps_size(2)),
        'attention': (draw_query_attention(
            query_attention(loss, ins, 'shifted', 6, 0), np.ones((7, 9)),
            1), attention_size()),
    }
    assert overlay_size((56, 72)) == (72 * 7, 56 * 7)
    for name, (fig, size) in figs.items():
        assert _png(save_figure(fig, str(tmp_path / f'{name}.png'))) == size


# ---------------------------------------------------------------- scalars
def _write_run(work, stamp, records, config=None):
    vis = work / stamp / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(''.join(
        json.dumps(r) + '\n' for r in records))
    if config is not None:
        (vis / 'config.py').write_text(config)


def test_scalars_epoch_based_run_and_runs(tmp_path):
    # mmpretrain/mmdet style: validation logged with step = epoch.
    records = []
    for it in range(1, 7):
        records.append(
            dict(
                lr=0.1,
                loss=3.0 - it * 0.1,
                loss_cls=1.0,
                loss_kd=2.0 - it * 0.1,
                epoch=(it - 1) // 3 + 1,
                iter=it,
                step=it))
        if it % 3 == 0:
            records.append({
                'accuracy/top1': 10.0 * it,
                'accuracy/top5': 50,
                'data_time': 0.1,
                'time': 0.2,
                'step': it // 3
            })
    config = ("model = dict(type='mmswtat.SingleTeacherDistiller', "
              "distill=dict(distill_losses=dict(loss_kd=dict(type='X'))))\n")
    _write_run(tmp_path, '20240101_000000', records[:4], config)
    _write_run(tmp_path, '20240102_000000', records, config)
    (tmp_path / '20240103_000000' / 'vis_data').mkdir(parents=True)  # test run

    assert find_scalar_files(str(tmp_path)) == [
        str(tmp_path / '20240102_000000' / 'vis_data' / 'scalars.json')
    ]
    assert len(find_scalar_files(str(tmp_path), 'all')) == 2
    run = load_run(str(tmp_path))
    assert run.label == tmp_path.name
    assert run.distill_keys == ['loss_kd'] and run.task_keys == ['loss_cls']
    steps, top1 = run.val['accuracy/top1']
    np.testing.assert_array_equal(steps, [3, 6])  # epochs 1, 2 -> iterations
    np.testing.assert_array_equal(top1, [30, 60])
    assert set(run.val) == {'accuracy/top1', 'accuracy/top5'}
    # Two runs from scratch: the line breaks where the steps go back.
    train, _ = split_series(records[:4] + records)
    assert np.isnan(train['loss'][0]).sum() == 1
    fig = draw_curves([run, load_run(str(tmp_path), 'all', label='b')])
    assert _png(save_figure(fig, str(tmp_path / 'c.png'))) == curves_size()


def test_scalars_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        find_scalar_files(str(tmp_path / 'missing'))
    with pytest.raises(FileNotFoundError, match='tools/test.py writes none'):
        find_scalar_files(str(tmp_path))
    _write_run(tmp_path, '20240101_000000', [dict(loss=1.0, step=1)])
    with pytest.raises(FileNotFoundError, match='no run'):
        find_scalar_files(str(tmp_path), '20990101_000000')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1, "step": 1}\nnot json\n')
    with pytest.raises(ValueError, match='bad.json:2 is not JSON'):
        load_run(str(bad))
    bad.write_text('{"loss": 1, "step": 1}\n{"loss": 2, "step": 2}\nx\n'
                   '{"loss": 3, "st')
    with pytest.raises(ValueError, match='bad.json:3 is not JSON'):
        load_run(str(bad))  # only the last line may be cut


def test_a_last_line_cut_by_a_killed_run_is_skipped(tmp_path, capsys):
    cut = tmp_path / 'cut.json'
    cut.write_text('{"loss": 1, "step": 1}\n{"loss": 2, "step": 2}\n'
                   '{"loss": 3, "st')
    run = load_run(str(cut))
    assert list(run.train['loss'][1]) == [1.0, 2.0]
    assert 'cut.json:3: the last line is cut short' in capsys.readouterr().err


# ------------------------------------------------------------- end to end
def _tool(name):
    path = osp.join(ROOT, 'tools', 'analysis', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def trained(seg_layer4_run, voc, teacher_ckpt):
    """The session's layer4 distillation run (synthetic VOC, a random R101
    teacher, 8 iterations with 4x4 windows shifted by 2)."""
    work = seg_layer4_run['work']
    assert (seg_layer4_run['options']
            ['model.distill.distill_losses.loss_swtat.window_size'] == 4)
    opts = dict(seg_tiny_options(DISTILL, voc, iters=ITERS), **WINDOW_OPTS)
    image = sorted(os.listdir(osp.join(voc, 'JPEGImages')))[0]
    return dict(
        work=work,
        ckpt=str(work / f'iter_{ITERS}.pth'),
        teacher=teacher_ckpt,
        image=osp.join(voc, 'JPEGImages', image),
        opts=opts)


def test_visualize_distill_writes_the_pictures(trained, tmp_path):
    out = tmp_path / 'vis'
    proc = run_tool([
        'tools/analysis/visualize_distill.py', DISTILL, trained['ckpt'],
        trained['image'], '--out',
        str(out), '--teacher-ckpt', trained['teacher'], '--query', '0,1',
        '--cfg-options', *as_cli(trained['opts'])
    ])
    assert '4/4 [2/2] loss_pmtat' in proc.stdout
    expected = {
        'loss_swtat':
        dict(
            windows=overlay_size((64, 64)),
            features=features_size(2),
            loss_maps=loss_maps_size(2),
            attention_plain=attention_size(),
            attention_shifted=attention_size()),
        'loss_pmtat':
        dict(
            windows=overlay_size((64, 64)),
            features=features_size(1),
            loss_maps=loss_maps_size(1),
            attention_merged=attention_size()),
    }
    assert sorted(os.listdir(out)) == sorted(expected)
    for folder, files in expected.items():
        assert sorted(os.listdir(
            out / folder)) == sorted([f'{k}.png'
                                      for k in files] + ['maps.npz'])
        for name, size in files.items():
            assert _png(out / folder / f'{name}.png') == size, (folder, name)
    assert overlay_size((64, 64)) == (512, 512)

    # The heat maps are the loss, position by position: sum(map) /
    # (B*C*H*W) per pass, averaged and weighted, equals the value the loss
    # module's own forward gave on the features the distiller selected.
    for folder, passes in (('loss_swtat', ('plain', 'shifted')),
                           ('loss_pmtat', ('merged', ))):
        data = np.load(out / folder / 'maps.npz')
        pass_losses = []
        for name in passes:
            err = data[f'{name}_error']
            b, h, w = err.shape
            assert b == 1 and (err >= 0).all() and err.sum() > 0
            value = err.sum() / (b * int(data[f'{name}_channels']) * h * w)
            assert value == pytest.approx(
                float(data[f'{name}_loss']), rel=1e-6)
            pass_losses.append(value)
        assert np.mean(pass_losses) * float(data['loss_weight']) == \
            pytest.approx(float(data['forward']), rel=1e-4)
        assert float(data['total']) == pytest.approx(
            float(data['forward']), rel=1e-4)
        assert f"{folder}: " in proc.stdout
    assert data['merged_error'].shape[1:] == (4, 4)  # num_merges=1: one merge
    # The shifted pass at (0, 1) wraps around: some keys are masked.
    data = np.load(out / 'loss_swtat' / 'maps.npz')
    assert (~data['shifted_allowed']).sum() > 0 and data['plain_allowed'].all()
    np.testing.assert_array_equal(data['query'], [0, 1])


def test_visualize_distill_query_cells():
    assert query_cell((8, 6), (64, 48), 'l') == (4, 3)
    assert query_cell((8, 6), (64, 48), 'l', query_px=(63, 10)) == (7, 1)
    with pytest.raises(
            ValueError, match='outside the 8x6 teacher map of loss_swtat'):
        query_cell((8, 6), (64, 48), 'loss_swtat', query=(8, 0))
    with pytest.raises(ValueError, match='outside the 64x48 model input'):
        query_cell((8, 6), (64, 48), 'l', query_px=(64, 0))
    tool = _tool('visualize_distill')
    args = tool.parse_args(
        ['c', 'k', 'i', '--out', 'o', '--query-px', '63,10'])
    assert args.query_px == (63, 10) and args.query is None
    with pytest.raises(SystemExit):  # argparse: not "Y,X"
        tool.parse_args(['c', 'k', 'i', '--out', 'o', '--query', '3'])


def test_visualize_distill_wrong_paths(trained, tmp_path):
    tool = _tool('visualize_distill')
    base = [DISTILL, trained['ckpt'], trained['image']]
    cases = [
        ([DISTILL, trained['ckpt'],
          str(tmp_path / 'no.jpg')], "image '.*no.jpg' does not exist"),
        ([DISTILL, str(tmp_path / 'no.pth'),
          trained['image']], "checkpoint '.*no.pth' does not exist"),
        (['configs/swtat/nope.py', trained['ckpt'], trained['image']],
         "config file 'configs/swtat/nope.py' does not exist"),
        (base + ['--teacher-ckpt', str(tmp_path / 't.pth')],
         "--teacher-ckpt '.*t.pth' does not exist"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            tool.main(argv + ['--out', str(tmp_path)])
        assert re.search(message, str(exc.value.code)), (argv, exc.value.code)


def test_plot_logs_on_the_training_run(trained, tmp_path):
    out = tmp_path / 'curves.png'
    proc = run_tool([
        'tools/analysis/plot_logs.py',
        str(trained['work']), '--out',
        str(out)
    ])
    assert _png(out) == curves_size()
    assert "distillation ['loss_swtat', 'loss_pmtat']" in proc.stdout
    assert "losses ['decode.loss_ce', 'aux.loss_ce']" in proc.stdout
    assert 'mIoU' in proc.stdout and str(out) in proc.stdout
    tool = _tool('plot_logs')
    for argv, message in (([str(tmp_path / 'none'), '--out',
                            str(out)], 'does not exist'),
                          ([str(tmp_path), '--out',
                            str(out)], 'no <timestamp>/vis_data'), ([
                                str(trained['work']), '--out',
                                str(out), '--metrics', 'mAP'
                            ], r"metrics \['mAP'\] were not logged"),
                          ([str(trained['work']), '--out',
                            'curves.pdf'], 'must be a .png')):
        with pytest.raises(SystemExit) as exc:
            tool.main(argv)
        assert re.search(message, str(exc.value.code)), (argv, exc.value.code)


def test_distill_loss_names_of_a_recipe_config(tmp_path):
    """A recipe's distill is a list of fragments (the shipped VOC config):
    plot_logs read only a dict (AttributeError: 'list' object has no
    attribute 'get')."""
    from mmswtat.analysis.scalars import distill_loss_names
    cfg = tmp_path / 'config.py'
    cfg.write_text(
        'model = dict(type="mmswtat.SingleTeacherDistiller", distill=[\n'
        '    dict(distill_losses=dict(loss_swtat_head=dict(), '
        'loss_pmtat_head=dict())),\n'
        '    dict(distill_losses=dict(loss_cwd=dict())),\n'
        '    None])\n')
    assert distill_loss_names(
        str(cfg)) == ['loss_swtat_head', 'loss_pmtat_head', 'loss_cwd']
