"""Tests of the accuracy benchmark harness (never of its accuracy)."""
import json
import os.path as osp
import sys

import numpy as np
import pytest
from PIL import Image

from mmswtat.benchmark.accuracy import (DEFAULT_METHODS, BenchmarkSettings,
                                        distill_config, quick_settings)
from mmswtat.benchmark.accuracy.cache import cached
from mmswtat.benchmark.data.digit_scenes import (DigitSceneSettings,
                                                 load_sources, split_digits,
                                                 write_digit_scenes)
from mmswtat.recipes import recipe_label


def _tool():
    from cli_helpers import load_tool
    return load_tool('tools/analysis/accuracy_benchmark.py')


def test_quick_run_writes_table_and_chart(tmp_path):
    """--quick: every method trains and tests; JSON, Markdown, PNG exist."""
    out = _tool().main(['--quick', '--seeds', '1', '--out-dir', str(tmp_path)])
    runs = out['records']
    main = [r for r in runs if 'iters' not in r['knobs']]
    assert sorted(r['method'] for r in main) == sorted(DEFAULT_METHODS)
    assert all(np.isfinite(r['mIoU']) and r['iters'] == 2 for r in main)
    # the baseline at N/2 and 2N (plateau, matched compute)
    assert sorted(r['iters'] for r in runs if r['knobs']) == [1, 4]
    md = open(tmp_path / 'table.md').read()
    for m in DEFAULT_METHODS:
        assert f'| {recipe_label(m)} |' in md
    assert '| SW-TaT + PM (head) + CWD (logits) | 3 + 3 |' not in md
    assert '| SW-TaT + PM (head) + CWD (logits) | 1 + 3 |' in md
    assert '| teacher |' in md and 'matched-compute none' in md
    assert 'Undistilled student by schedule length: 1 it' in md
    with open(tmp_path / 'table.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    data = json.load(open(tmp_path / 'table.json'))
    assert len(data['runs']) == len(DEFAULT_METHODS) + 2
    assert {row['method'] for row in data['summary']} == set(DEFAULT_METHODS)


def test_matched_compute_interpolates_the_baseline_schedule():
    from mmswtat.benchmark.accuracy.report import (baseline_curve, markdown,
                                                   matched_compute)
    rows = [
        dict(
            method='none',
            knobs={},
            iters=300,
            mean=10.0,
            std=0.0,
            s_per_it=0.2,
            weight=None,
            n=1,
            seeds=[0],
            values=[10.0]),
        dict(
            method='none',
            knobs=dict(iters=600),
            iters=600,
            mean=16.0,
            std=0.0,
            s_per_it=0.2,
            weight=None,
            n=1,
            seeds=[0],
            values=[16.0]),
        dict(
            method='cwd',
            knobs={},
            iters=300,
            mean=20.0,
            std=0.0,
            s_per_it=0.3,
            weight=9.0,
            n=1,
            seeds=[0],
            values=[20.0])
    ]
    curve = baseline_curve(rows)
    assert [c[0] for c in curve] == [300, 600]
    ratio, value, extrapolated = matched_compute(rows[2], rows[0], curve)
    # 1.5x the cost: the baseline at 450 iterations, halfway: 13.0
    assert ratio == pytest.approx(1.5) and value == pytest.approx(13.0)
    assert not extrapolated
    md = markdown(rows, dict(mIoU=30.0, s_per_it=0.5))
    assert '| CWD (logits) | 9 |  | 20.00 ± 0.00 | +10.00 | +10.00 ± 0.00 ' \
        '| 1 | 0.300 | 1.50x | 13.00 | +7.00 | 50% | s0 +10.00 |' in md
    assert 'Plateau check' not in md  # no run at 150 iterations


def test_plateau_check_compares_half_and_full_schedule():
    """Paired over the seeds that ran both lengths (a 2-seed mean at N
    against seed 0 alone at N/2 compared two different students)."""
    from mmswtat.benchmark.accuracy.report import plateau_note

    def row(iters, values):
        return dict(
            method='none',
            iters=iters,
            seeds=list(values),
            values=list(values.values()))

    full = row(8000, {0: 51.02, 1: 55.79})
    assert plateau_note([full, row(4000, {0: 50.13})], 8000) == (
        'Plateau check: 4000 -> 8000 it +0.89 (paired over seed 0); within '
        '1.5: the undistilled student has converged.')
    # Measured on the detection benchmark: little gain from N/2 to N, a
    # large one from N to 2N: not converged.
    det = [row(500, {0: 0.2}), row(1000, {0: 1.1}), row(2000, {0: 4.9})]
    assert plateau_note(det, 1000) == (
        'Plateau check: 500 -> 1000 it +0.90 (paired over seed 0); 1000 -> '
        '2000 it +3.80 (seed 0); NOT within 1.5: the undistilled student '
        'has not converged.')
    assert 'NOT within 1.5: the undistilled student has not converged' in \
        plateau_note([row(2000, {0: 43.6}), row(1000, {0: 29.6})], 2000)
    assert plateau_note([full, row(2000, {0: 43.6})], 8000) == ''


def test_recipe_is_a_list_of_adapted_fragments():
    s = BenchmarkSettings()
    d = distill_config('swtat_head+cwd', s, weight=3.0)
    assert isinstance(d, list) and len(d) == 2
    head, cwd = d
    conn = head['connectors']['sh']
    assert (conn['in_channels'],
            conn['out_channels']) == (s.student.head_channels,
                                      s.teacher.head_channels)
    assert head['student_recorders'] == dict(head='decode_head.bottleneck')
    sw = head['distill_losses']['loss_swtat_head']
    assert (sw['window_size'], sw['shift_size']) == (4, 2)
    assert sw['loss_weight'] == pytest.approx(3.0)  # 3 x published 1
    assert cwd['distill_losses']['loss_cwd']['loss_weight'] == \
        pytest.approx(9.0)
    pre = distill_config('swtat_head', s, knobs=dict(preact=True))
    assert pre['student_recorders']['head'] == dict(
        module='decode_head.bottleneck.bn', clone=True)
    assert 'preact' not in pre['distill_losses']['loss_swtat_head']


def test_structure_knobs_change_the_passes_after_the_adaptation():
    s = BenchmarkSettings()
    d = distill_config(
        'swtat_head',
        s,
        weight=3.0,
        knobs=dict(global_pass='anchor', window_size=2))
    losses = d['distill_losses']
    assert set(losses) == {'loss_swtat_head', 'loss_anchortat_head'}
    sw, anchor = losses['loss_swtat_head'], losses['loss_anchortat_head']
    assert (sw['window_size'], sw['shift_size']) == (2, 1)
    assert anchor['type'] == 'mmswtat.AnchorTaTLoss'
    ct = s.teacher.head_channels
    assert anchor['student_channels'] == anchor['teacher_channels'] == ct
    assert sw['loss_weight'] == anchor['loss_weight'] == pytest.approx(3.0)
    fit = distill_config(
        'swtat_head', s, knobs=dict(global_pass='none', window_size=1))
    assert list(fit['distill_losses']) == ['loss_swtat_head']
    assert fit['distill_losses']['loss_swtat_head']['shift_size'] == 0
    # the knobs reach only the SW-TaT part of a recipe
    sw_part, fit_part = distill_config(
        'swtat_head+fitnet_head', s, knobs=dict(global_pass='none'))
    assert list(sw_part['distill_losses']) == ['loss_swtat_head']
    assert fit_part['distill_losses'] == dict(
        loss_fitnet_head=dict(type='mmswtat.FeatureMSELoss', loss_weight=1.0))
    assert fit_part['connectors'] == sw_part['connectors']  # shared 'sh'
    with pytest.raises(ValueError, match='choose from pm, anchor, none'):
        distill_config('swtat_head', s, knobs=dict(global_pass='merge'))


def test_structure_sweep_crosses_knobs_and_weights():
    from mmswtat.benchmark.accuracy.bench import shard_grid, sweep_grid
    from mmswtat.recipes import SWTAT_STRUCTURE
    grid = sweep_grid(['none', 'swtat_head', 'fitnet_head'], (0.3, 1.0),
                      dict(swtat_head=SWTAT_STRUCTURE),
                      cross=True)
    assert len(grid) == 1 + 2 * (1 + len(SWTAT_STRUCTURE)) + 2
    assert ('swtat_head', 0.3, dict(global_pass='none', window_size=1)) in grid
    assert dict(global_pass='pm', window_size=4) not in SWTAT_STRUCTURE
    parts = [shard_grid(grid, (k, 3)) for k in (1, 2, 3)]
    assert sorted(map(repr, sum(parts, []))) == sorted(map(repr, grid))
    assert {len(p) for p in parts} <= {len(grid) // 3, len(grid) // 3 + 1}


def test_merged_grid_lists_every_run_of_the_reports(tmp_path):
    from mmswtat.benchmark.accuracy.bench import merged_grid

    def report(path, runs):
        with open(path, 'w') as f:
            json.dump(dict(meta={}, runs=runs), f)
        return str(path)

    def run(method, weight, seed, **knobs):
        return dict(method=method, weight=weight, knobs=knobs, seed=seed)

    a = report(tmp_path / 'a.json', [run('none', None, 0), run('cwd', 3.0, 0)])
    b = report(
        tmp_path / 'b.json',
        [run('cwd', 3.0, 2), run('cwd', 3.0, 1, tau=2)])
    grid, seeds = merged_grid([a, b])
    assert grid == [('none', None, {}), ('cwd', 3.0, {}),
                    ('cwd', 3.0, dict(tau=2))]
    assert seeds == [0, 1, 2]


@pytest.mark.parametrize('argv, message', [
    (['--regime', 'converged', '--iters', '2000'], 'needs --iters >= 8000'),
    (['--regime', 'converged', '--baseline-factors', '2'
      ], 'keep 0.5 in --baseline-factors'),
    (['--shard', '1/2'], '--shard splits a sweep'),
    (['--structure-sweep'
      ], '--structure-sweep is a sweep option; add --sweep'),
])
def test_settings_that_cannot_work_are_refused_before_training(
        tmp_path, argv, message):
    with pytest.raises(SystemExit, match=message):
        _tool().main(argv + ['--out-dir', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()


@pytest.mark.parametrize('text', ['0/2', '3/2', '1', 'a/b', '1/0'])
def test_bad_shard_is_an_argparse_error(text, capsys):
    with pytest.raises(SystemExit):
        _tool().parse_args(['--sweep', '--shard', text])
    assert 'expected K/N with 1 <= K <= N' in capsys.readouterr().err


def test_cache_builds_once_for_processes_side_by_side(tmp_path):
    """Two builders of one artefact at once (threads here; the lock is
    per open file, as between processes): one builds, the other waits and
    reuses it instead of deleting it as incomplete."""
    import threading
    import time
    builds = []

    def build(d):
        builds.append(d)
        time.sleep(0.3)
        open(osp.join(d, 'x'), 'w').close()

    out = []
    threads = [
        threading.Thread(target=lambda: out.append(
            cached(str(tmp_path), 'kind', dict(a=1), build, log=str)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and out[0] == out[1]
    assert osp.isfile(osp.join(out[0], 'x'))


def test_unknown_regime_lists_the_choices(tmp_path):
    from mmswtat.benchmark.accuracy.settings import regime_settings
    assert regime_settings('long').student_train.iters == 2000
    with pytest.raises(
            ValueError,
            match="unknown regime 'longer'; choose "
            'from default, long'):
        regime_settings('longer')
    with pytest.raises(SystemExit):
        _tool().parse_args(['--regime', 'longer'])


def test_unknown_method_is_one_clear_error(tmp_path):
    """The command line (its one subprocess run): one line naming the
    choices, no traceback, nothing written."""
    from cli_helpers import run_tool
    out = str(tmp_path / 'out')
    args = ['tools/analysis/accuracy_benchmark.py', '--methods', 'swtat']
    proc = run_tool(args + ['sw-tat', '--out-dir', out], check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "accuracy_benchmark.py: error: --methods: unknown method 'sw-tat'; "
        'choose from swtat, swtat_head,')
    assert 'Traceback' not in proc.stderr
    with pytest.raises(SystemExit, match='unknown detection method .nope.'):
        _tool().main(['--task', 'det', '--methods', 'nope', '--out-dir', out])
    assert not (tmp_path / 'out').exists()


def test_an_existing_report_is_kept_without_force(tmp_path):
    """Refused before the data, backbones or teacher are built."""
    (tmp_path / 'table.json').write_text('{}')
    with pytest.raises(SystemExit) as err:
        _tool().main(['--quick', '--out-dir', str(tmp_path)])
    path = str(tmp_path / 'table.json')
    assert str(err.value) == (
        'tools/analysis/accuracy_benchmark.py: --out-dir report '
        f'{path!r} already exists; give another path, or --force to '
        'replace it; to keep its runs, give a new --out-dir and --reuse '
        f'{path}')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['table.json']


def test_missing_scikit_learn_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'sklearn.datasets', None)
    with pytest.raises(ImportError, match='pip install scikit-learn'):
        load_sources()


def test_cache_rebuilds_on_mismatch_and_reuses_on_match(tmp_path):
    built = []

    def build(d):
        built.append(d)
        open(osp.join(d, 'teacher.pth'), 'w').write('w')

    path = cached(str(tmp_path), 'teacher', dict(iters=4), build, log=str)
    assert cached(
        str(tmp_path), 'teacher', dict(iters=4), build, log=str) == path
    assert len(built) == 1
    # Another setting: another key, a new build.
    other = cached(str(tmp_path), 'teacher', dict(iters=8), build, log=str)
    assert other != path and len(built) == 2
    # A directory whose stored settings do not match its key is rebuilt.
    with open(osp.join(path, 'settings.json'), 'w') as f:
        json.dump(dict(iters=999), f)
    assert cached(
        str(tmp_path), 'teacher', dict(iters=4), build, log=str) == path
    assert len(built) == 3
    assert json.load(open(osp.join(path, 'settings.json'))) == dict(iters=4)
    # An interrupted build (no DONE marker) is rebuilt.
    import os
    os.remove(osp.join(path, 'DONE'))
    cached(str(tmp_path), 'teacher', dict(iters=4), build, log=str)
    assert len(built) == 4


def test_digit_scenes_deterministic_disjoint_and_voc_readable(tmp_path):
    s = DigitSceneSettings(num_train=6, num_val=3, size=48, seed=3)
    write_digit_scenes(str(tmp_path / 'a'), s)
    write_digit_scenes(str(tmp_path / 'b'), s)
    for sub in ('JPEGImages/train_00002.jpg',
                'SegmentationClass/val_00001.png'):
        assert open(tmp_path / 'a' / sub,
                    'rb').read() == open(tmp_path / 'b' / sub, 'rb').read()
    train, val = split_digits(1797, s.val_fraction, s.seed)
    assert not set(train) & set(val) and len(train) + len(val) == 1797
    label = Image.open(tmp_path / 'a' / 'SegmentationClass/train_00000.png')
    assert label.mode == 'P'
    values = np.unique(np.asarray(label))
    assert values.min() == 0 and values.max() <= 10 and len(values) > 1

    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from mmswtat.benchmark.accuracy.configs import _dataset
    init_default_scope('mmseg')
    ds = DATASETS.build(
        _dataset(
            str(tmp_path / 'a'), 'val', [
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')
            ]))
    assert len(ds) == 3 and len(ds.metainfo['classes']) == 11
    sample = ds[0]
    assert tuple(sample['inputs'].shape) == (3, 48, 48)
    assert sample['data_samples'].gt_sem_seg.data.max() <= 10


def test_swtat_config_is_the_shipped_fragment_with_channels_adapted():
    s = BenchmarkSettings()
    d = distill_config('swtat', s, weight=0.3)
    ct, cs = s.teacher.layer4_channels, s.student.layer4_channels
    assert d['connectors']['s4']['in_channels'] == cs
    assert d['connectors']['s4']['out_channels'] == ct
    sw, pm = d['distill_losses']['loss_swtat'], d['distill_losses'][
        'loss_pmtat']
    assert (sw['window_size'], sw['shift_size']) == (4, 2)
    assert sw[
        'embed'] is False and sw['loss_weight'] == pm['loss_weight'] == 0.3
    assert d['loss_forward_mappings']['loss_swtat']['student'] == dict(
        recorder='feat', connector='s4')
    e = distill_config('swtat', s, knobs=dict(embed=True, query='student'))
    assert 'connectors' not in e
    assert e['distill_losses']['loss_swtat']['student_channels'] == cs
    assert e['distill_losses']['loss_swtat']['query'] == 'student'
    g = distill_config('tat', s)
    assert list(g['distill_losses']) == ['loss_tat']
    assert g['distill_losses']['loss_tat']['type'] == 'mmswtat.TaTLoss'
    assert distill_config('none', s) is None


def test_window_must_leave_two_windows_per_side():
    s = quick_settings()
    assert s.data.size // 8 >= 2 * s.window_size
    import dataclasses
    with pytest.raises(ValueError, match='fewer than 2 windows'):
        dataclasses.replace(s, window_size=8).check()


def test_reuse_refuses_reports_of_other_settings(tmp_path):
    from mmswtat.benchmark.accuracy.bench import reusable_runs
    s = quick_settings()
    run = dict(method='kd', weight=1.0, knobs={}, seed=0, mIoU=1.0)
    path = tmp_path / 'table.json'
    path.write_text(
        json.dumps(dict(meta=dict(settings=s.to_dict()), runs=[run])))
    assert list(reusable_runs([str(path)], s).values()) == [run]
    import dataclasses
    other = dataclasses.replace(s, window_size=2)
    with pytest.raises(ValueError, match='other settings'):
        reusable_runs([str(path)], other)


def test_mobilenetv2_student_builds_with_its_stage_widths():
    """The cross-family student: mmseg's MobileNetV2-D8 DeepLabV3 at width
    0.5, its heads fed from its last stage (160 ch) and stage 5 (48 ch)."""
    import torch
    from mmengine.registry import init_default_scope

    from mmswtat.benchmark.accuracy.configs import seg_model
    from mmswtat.benchmark.accuracy.settings import MobileNetV2Settings
    from mmswtat.registry import MODELS
    net = MobileNetV2Settings()
    assert (net.layer4_channels, net.layer3_channels) == (160, 48)
    init_default_scope('mmseg')
    model = MODELS.build(seg_model(net, 64)).eval()
    assert type(model.backbone).__name__ == 'MobileNetV2'
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [16, 16, 48, 160]
    assert feats[-1].shape[-2:] == (8, 8)  # D8: the ResNets' 8x8 map


def test_merge_of_mobilenetv2_reports_checks_no_methods(tmp_path):
    """--report-only without --methods trains nothing: the layer4 check
    (against the default methods) must not refuse it."""
    tool = _tool()
    args = ['--student-arch', 'mobilenetv2', '--report-only', '--reuse']
    report = tmp_path / 'r.json'
    report.write_text(json.dumps(dict(meta=dict(settings={}), runs=[])))
    with pytest.raises(ValueError, match='made with other settings'):
        tool.main(args + [str(report), '--out-dir', str(tmp_path / 'o')])


def test_mobilenetv2_student_refuses_layer4_methods(tmp_path):
    with pytest.raises(
            SystemExit,
            match='swtat fitnet.cwd distil.s. layer4, which a '
            'mobilenetv2 student does not have; use swtat_head'):
        _tool().main([
            '--student-arch', 'mobilenetv2', '--methods', 'none', 'swtat',
            'fitnet+cwd', '--out-dir',
            str(tmp_path / 'o')
        ])
    assert not (tmp_path / 'o').exists()


def test_recipe_weights_knob_sets_each_component():
    from mmswtat.benchmark.accuracy.methods import (component_weights,
                                                    weight_label)
    knobs = dict(weights=(0.3, 9))
    assert component_weights('swtat_head+cwd', 1.0, knobs) == [0.3, 9.0]
    assert weight_label('swtat_head+cwd', 1.0, knobs) == '0.3 + 9'
    head, cwd = distill_config('swtat_head+cwd', BenchmarkSettings(), 1.0,
                               knobs)
    assert head['distill_losses']['loss_swtat_head']['loss_weight'] == 0.3
    assert cwd['distill_losses']['loss_cwd']['loss_weight'] == 9.0
    with pytest.raises(ValueError, match='has 2 components; give one weight'):
        component_weights('swtat_head+cwd', 1.0, dict(weights=(1, )))
    with pytest.raises(
            ValueError,
            match="'swtat_head' is one method: set "
            'its weight instead'):
        distill_config('swtat_head', BenchmarkSettings(), 1.0,
                       dict(logit_factor=3.0))


@pytest.mark.parametrize('argv, message', [
    (['--methods', 'swtat_head', '--knob', 'windw=2'],
     r"SWTaTLoss \(loss_swtat_head\) takes no 'windw' \(from --knob windw\)"
     '; it takes '),
    (['--methods', 'cwd', '--knob', 'logit_factor=3'
      ], "'cwd' is one method: set its weight instead"),
    (['--methods', 'none', 'none'], "method 'none' .* is listed twice"),
    ([
        '--sweep', '--methods', 'swtat_head', '--knob-methods', 'swtat_head',
        '--factors', '1', '1'
    ], 'is listed twice'),
])
def test_grids_that_cannot_run_are_refused_before_anything(
        tmp_path, argv, message):
    with pytest.raises(SystemExit, match=message):
        _tool().main(argv + ['--quick', '--out-dir', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()


def test_a_diverged_run_scores_zero_and_the_table_goes_on(
        tmp_path, monkeypatch):
    """A student whose training the distiller stops (non-finite losses) is
    a result: scored 0, its reason in the record and under the table, and
    the next run still trains."""
    from mmengine.runner import Runner
    train = Runner.train

    def train_or_diverge(self):
        if 'KDLoss' in str(self.cfg.model):  # the kd run only
            raise FloatingPointError(
                "task losses ['loss_ce'] not finite at iteration 1. The "
                "student's own training diverged: lower the learning rate")
        return train(self)

    monkeypatch.setattr(Runner, 'train', train_or_diverge)
    out = _tool().main([
        '--quick', '--seeds', '1', '--methods', 'none', 'kd', 'cwd',
        '--baseline-factors', '--out-dir',
        str(tmp_path)
    ])
    runs = {r['method']: r for r in out['records']}
    assert runs['kd']['mIoU'] == 0.0 and runs['kd']['aAcc'] == 0.0
    assert runs['kd']['diverged'] == (
        "task losses ['loss_ce'] not finite at iteration 1")
    assert 'diverged' not in runs['cwd'] and 'diverged' not in runs['none']
    md = open(tmp_path / 'table.md').read()
    assert ("KD (logits) at 1, seed 0: training diverged (task losses "
            "['loss_ce'] not finite at iteration 1); scored 0.") in md
    data = json.load(open(tmp_path / 'table.json'))
    (kd, ) = [r for r in data['summary'] if r['method'] == 'kd']
    assert kd['diverged'] == {
        '0': "task losses ['loss_ce'] not finite at iteration 1"
    }


def test_reuse_of_other_settings_is_one_line_before_any_work(tmp_path):
    path = tmp_path / 'other.json'
    path.write_text(json.dumps(dict(meta=dict(settings={}), runs=[])))
    with pytest.raises(
            SystemExit,
            match=r'^accuracy_benchmark.py: error: '
            r'--reuse .*other.json: made with other settings'):
        _tool().main([
            '--quick', '--methods', 'none', '--reuse',
            str(path), '--out-dir',
            str(tmp_path / 'o')
        ])
    assert not (tmp_path / 'o').exists() or not any((tmp_path / 'o').iterdir())
