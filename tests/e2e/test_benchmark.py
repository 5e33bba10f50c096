"""The benchmark tool (``--quick``), its library :mod:`mmswtat.benchmark`,
its naive baseline, and the token-major window ops it motivated.

No timing is asserted: the machine is shared. The quick run checks that every
case ran and that the report is consistent (overhead = c / (a + b), the early
exit of the teacher stops before its decode head).
"""
import json
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from cli_helpers import ROOT, run_tool
from window_reference import (package_window_errors, pad_and_shift,
                              window_partition, window_reverse_map)

from mmswtat.benchmark import (NaiveWindowTaTLoss, merge_reports,
                               naive_window_tat, naive_window_tat_error,
                               plan_loss_cases)
from mmswtat.models import SWTaTLoss
from mmswtat.models.ops import (gather_windows, window_attention_mask,
                                window_geometry)

F64 = torch.float64
SCRIPT = osp.join(ROOT, 'tools', 'analysis', 'benchmark.py')


def randn(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=F64)


# ------------------------------------------------------------ quick run
def test_quick_run_writes_a_complete_report(tmp_path):
    out = tmp_path / 'bench.json'
    proc = run_tool([SCRIPT, '--quick', '--out', str(out)], timeout=600)
    report = json.loads(out.read_text())
    assert 'overhead = c / (a + b)' in proc.stdout

    cases = report['loss']
    ran = {(c['loss'], c['mode'], c['cs'], c['ct'])
           for c in cases if 'median_s' in c}
    for name in ('tat', 'swtat', 'swtat_plain', 'pmtat', 'naive_window'):
        for mode in ('paper', 'module'):
            for cs, ct in ((16, 32), (16, 16)):
                assert (name, mode, cs, ct) in ran, (name, mode, cs, ct)
    for c in cases:
        assert 'error' not in c and 'skip' not in c, c
        assert c['median_s'] > 0 and math.isfinite(c['median_s'])
        assert c['peak_mib'] > 0 and c['peak_delta_mib'] >= 0

    step = {c['phase']: c for c in report['step']}
    assert set(step) == {
        'student', 'teacher', 'distill', 'teacher_full', 'distill_losses'
    }
    for c in step.values():
        assert 'error' not in c, c
        assert c['median_s'] > 0 and c['peak_mib'] > 0
    a, b, c = (step[p]['median_s'] for p in ('student', 'teacher', 'distill'))
    assert report['step_summary']['overhead'] == pytest.approx(c / (a + b))
    # The VOC fragment records backbone.layer4: the teacher runs its backbone
    # (through layer4) and stops before the decode head; the reference full
    # forward does run the head.
    early = step['teacher']['teacher_modules_run']
    full = step['teacher_full']['teacher_modules_run']
    assert 'backbone.layer4' in early
    assert not any(m.startswith('decode_head') for m in early), early
    assert any(m.startswith('decode_head') for m in full), full
    # crop 32, stride 8: layer4 maps are 4x4; R18 -> R101 channels.
    feats = step['distill_losses']['features']
    assert feats['student']['feat'] == [2, 512, 4, 4]
    assert feats['teacher']['feat'] == [2, 2048, 4, 4]

    # --report merges runs: a re-run case replaces the earlier one.
    rerun = dict(report, loss=[dict(cases[0], median_s=123.0)], step=[])
    path = tmp_path / 'rerun.json'
    path.write_text(json.dumps(rerun))
    merged = merge_reports([str(out), str(path)])
    assert len(merged['loss']) == len(cases)
    assert merged['loss'][0]['median_s'] == 123.0
    assert merged['loss'][1] == cases[1]
    assert len(merged['step']) == len(step)


def test_cases_that_cannot_fit_are_skipped_with_a_reason():
    cpu = torch.device('cpu')
    cases = plan_loss_cases(
        cpu,
        sizes=[128],
        channels=[(512, 2048)],
        losses=['tat', 'swtat'],
        modes=['paper'],
        memory_fraction=1e-4)
    assert len(cases) == 2
    for c in cases:
        assert c['skip'].startswith('would not fit'), c
    # A budget that only the windowed pass meets: global TaT is skipped as
    # too slow, with its estimate.
    cases = {
        c['loss']: c
        for c in plan_loss_cases(
            cpu,
            sizes=[128],
            channels=[(512, 512)],
            losses=['tat', 'swtat'],
            modes=['paper'],
            case_budget=1e-3,
            memory_fraction=1.0)
    }
    assert cases['tat']['est_gflop'] > 50 * cases['swtat']['est_gflop']
    assert 'too slow' in cases['tat']['skip']


# ------------------------------------------------------- naive baseline
NAIVE_CASES = {
    'square_w4': ((8, 8), 4, 1, 1.0),
    'rect_map_rect_window': ((8, 12), (4, 3), 1, 1.0),
    'two_heads_auto_scale': ((8, 8), 4, 2, 'auto'),
    'one_window': ((4, 4), 4, 1, 1.0),
}


@pytest.mark.parametrize('case', sorted(NAIVE_CASES))
def test_naive_equals_swtat_plain_pass(case):
    size, window, heads, scale = NAIVE_CASES[case]
    q, k, v, t = (randn(2, 6, *size, seed=i) for i in range(4))
    naive = naive_window_tat_error(q, k, v, t, window, heads, scale)
    ours, = package_window_errors(q, k, v, t, window, [0], heads, scale)
    assert naive.shape == (2, *size)
    torch.testing.assert_close(naive, ours, rtol=1e-10, atol=1e-12)

    # As losses (embed=False: Q = T, K = V = S), values and gradients.
    s = randn(2, 6, *size, seed=7).requires_grad_(True)
    loss = SWTaTLoss(
        6,
        6,
        window_size=window,
        shift_size=0,
        num_heads=heads,
        scale=scale,
        embed=False).double()
    ours = loss(s, t)
    (g_ours, ) = torch.autograd.grad(ours, s)
    naive = naive_window_tat(t, s, s, t, window, heads, scale)
    (g_naive, ) = torch.autograd.grad(naive, s)
    torch.testing.assert_close(naive, ours, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_naive, g_ours, rtol=1e-8, atol=1e-12)


def test_naive_loss_module_equals_swtat_with_the_same_embeddings():
    torch.manual_seed(0)
    ours = SWTaTLoss(4, 8, window_size=4, shift_size=0).double()
    naive = NaiveWindowTaTLoss(4, 8, window_size=4).double()
    naive.load_state_dict(ours.state_dict())
    s, t = randn(2, 4, 8, 8, seed=1), randn(2, 8, 8, 8, seed=2)
    torch.testing.assert_close(naive(s, t), ours(s, t), rtol=1e-10, atol=1e-12)


def test_naive_rejects_sizes_the_official_code_cannot_take():
    x = randn(1, 4, 9, 8)
    with pytest.raises(ValueError, match='divisible by the window'):
        naive_window_tat_error(x, x, x, x, 4)


# ------------------------------------------- gathered window passes
def reference_pass(q, k, v, t, window, shift, heads):
    """One pass composed from the plain primitives (pad, roll, partition)."""
    b, _, h, w = t.shape
    geom = window_geometry(h, w, window, shift)
    q, k, v, tw = (
        window_partition(pad_and_shift(x, geom), geom, heads)
        for x in (q, k, v, t))
    mask = window_attention_mask(geom, t.device)
    recon = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0)
    err = (recon - tw).square().sum(-1)
    err = err.view(err.shape[0], b, heads, -1).sum(2)
    return window_reverse_map(err, geom, b)


GEOMS = {
    'padded_shifted': ((13, 10), 4, 2, 1),
    'rect_heads': ((15, 11), (4, 3), (2, 1), 2),
    'shift_one_side': ((8, 9), (4, 3), (0, 1), 1),
    'divisible_plain': ((8, 8), 4, 0, 1),
    'window_ge_map': ((5, 6), 8, 4, 2),
}


@pytest.mark.parametrize('case', sorted(GEOMS))
def test_gathered_window_pass_equals_pad_roll_partition(case):
    size, window, shift, heads = GEOMS[case]
    leaves = [
        randn(2, 4, *size, seed=i).requires_grad_(True) for i in range(3)
    ]
    t = randn(2, 4, *size, seed=9)
    weight = randn(2, *size, seed=10)
    plain, shifted = package_window_errors(*leaves, t, window, [0, shift],
                                           heads)
    for got, sh in ((plain, 0), (shifted, shift)):
        ref = reference_pass(*leaves, t, window, sh, heads)
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)
        grads = torch.autograd.grad(
            (got * weight).sum(), leaves, retain_graph=True)
        ref_grads = torch.autograd.grad((ref * weight).sum(), leaves)
        for g, r in zip(grads, ref_grads):
            torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)


def test_shared_inputs_are_gathered_once_and_still_exact():
    """``query is target`` and ``key is value`` (embed=False)."""
    s = randn(2, 4, 9, 7, seed=1).requires_grad_(True)
    t = randn(2, 4, 9, 7, seed=2)
    errs = package_window_errors(t, s, s, t, 4, [0, 2])
    ref = [reference_pass(t, s, s, t, 4, sh, 1) for sh in (0, 2)]
    for e, r in zip(errs, ref):
        torch.testing.assert_close(e, r, rtol=1e-10, atol=1e-12)
    g, = torch.autograd.grad(sum(e.sum() for e in errs), s)
    g_ref, = torch.autograd.grad(sum(r.sum() for r in ref), s)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_gather_windows_layout_and_gradcheck(layout):
    geom = window_geometry(5, 6, (2, 4), (1, 2))  # padded and shifted
    x = randn(2, 4, 5, 6, seed=3)
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    windows = gather_windows(x, geom, 2)  # (B * heads, nW, d, L)
    expected = window_partition(pad_and_shift(x, geom), geom, 2)
    # Same windows: (B * heads, nW, d, L) vs (nW, B * heads, L, d).
    torch.testing.assert_close(windows.permute(1, 0, 3, 2), expected)

    def fn(inp):
        out = gather_windows(inp, geom, 2)
        # A transposed consumer, as attention hands gradients back.
        return out.mT * torch.arange(out.shape[-1], dtype=F64)[:, None]

    assert torch.autograd.gradcheck(fn, (x, ))


def test_step_sweep_over_crops_and_teacher_precisions(tmp_path):
    # A tiny distiller config (helpers/seg_helpers), two crops, two teacher
    # precisions, in one run: the student step and the losses once per crop,
    # the teacher phases once per crop and precision.
    from mmengine.config import Config
    from seg_helpers import distiller_cfg
    config = tmp_path / 'tiny_distill.py'
    Config(
        dict(
            default_scope='mmseg',
            model=distiller_cfg(),
            optim_wrapper=dict(
                type='OptimWrapper',
                optimizer=dict(type='SGD', lr=0.01)))).dump(str(config))
    out = tmp_path / 'sweep.json'
    proc = run_tool([
        SCRIPT, '--quick', '--part', 'step', '--config',
        str(config), '--crops', '32', '48', '--phases', 'student', 'teacher',
        'distill', 'distill_losses', '--teacher-precision', 'fp32', 'bf16',
        '--out',
        str(out)
    ],
                    timeout=600)
    report = json.loads(out.read_text())
    ran = sorted((c['crop'], c['teacher_precision'], c['phase'])
                 for c in report['step'])
    assert ran == sorted([(crop, 'fp32', p) for crop in (32, 48)
                          for p in ('student', 'teacher', 'distill',
                                    'distill_losses')] +
                         [(crop, 'bf16', p) for crop in (32, 48)
                          for p in ('teacher', 'distill')])
    by = {
        (c['crop'], c['teacher_precision'], c['phase']): c
        for c in report['step']
    }
    assert all('error' not in c for c in by.values())
    assert by[(48, 'bf16', 'distill')]['teacher_runs_in'] == 'bf16'
    rows = report['step_summary']['settings']
    assert [(r['crop'], r['teacher_precision'])
            for r in rows] == [(32, 'fp32'), (32, 'bf16'), (48, 'fp32'),
                               (48, 'bf16')]
    for r in rows:
        get = lambda p, prec=r['teacher_precision']: by[  # noqa: E731
            (r['crop'], prec, p)]['median_s']
        a, b, c = get('student', 'fp32'), get('teacher'), get('distill')
        assert r['overhead'] == pytest.approx(c / (a + b))
        b32 = get('teacher', 'fp32')
        assert r['overhead_vs_fp32_floor'] == pytest.approx(c / (a + b32))
        assert r['losses_share'] == pytest.approx(
            get('distill_losses', 'fp32') / (a + b))
        # crop / 8 (stride 8) squared teacher positions
        assert r['tokens'] == (r['crop'] // 8)**2
    assert report['step_summary']['overhead'] == rows[0]['overhead']
    assert 'c/(a+b_fp32)' in proc.stdout and 'b_fp32 / b' in proc.stdout
