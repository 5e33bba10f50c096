"""The detection benchmark's model configs (shrunk stock RetinaNet) and a
smoke run: a teacher and a distilled student trained 2 iterations each on
generated digit scenes, scored by CocoMetric (no accuracy is asserted)."""
import copy
import json
import os.path as osp
import warnings

import pytest
import torch

# yapf: disable
from mmswtat.benchmark.accuracy.det_configs import (DET_METHODS,
                                                    DetNetSettings,
                                                    backbone_channels,
                                                    det_distill_config,
                                                    det_distiller_model,
                                                    det_model, det_run_config,
                                                    det_scores, fpn_levels)
# yapf: enable
from mmswtat.benchmark.accuracy.pretrain import backbone_cfg
from mmswtat.benchmark.accuracy.settings import NetSettings, TrainSettings
from mmswtat.benchmark.data.digit_det_scenes import (DigitDetSettings,
                                                     write_digit_detection)
from mmswtat.registry import MODELS

TINY = DetNetSettings(
    teacher=NetSettings(base_channels=16, stem_channels=16, head_channels=16),
    student=NetSettings(base_channels=8, stem_channels=8, head_channels=8),
    neck_channels=16,
    size=64)

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_default_nets_are_the_stock_retinanet_shrunk():
    s = DetNetSettings()
    assert s.size == 128
    teacher, student = (det_model(s.teacher, s), det_model(s.student, s))
    for model, net in ((teacher, s.teacher), (student, s.student)):
        assert model['type'] == 'RetinaNet'
        bb = model['backbone']
        assert (bb['type'], bb['depth'], bb['deep_stem']) == ('ResNet', 18,
                                                              True)
        assert bb['base_channels'] == net.base_channels
        assert model['neck']['in_channels'] == [
            net.base_channels * k for k in (1, 2, 4, 8)
        ]
        assert model['neck']['out_channels'] == 64
        head = model['bbox_head']
        assert (head['num_classes'], head['in_channels'],
                head['feat_channels']) == (10, 64, net.head_channels)
        assert head['anchor_generator']['octave_base_scale'] == 2
        assert head['anchor_generator']['strides'] == [8, 16, 32, 64, 128]
        # Stock otherwise.
        assert head['type'] == 'RetinaHead' and head['stacked_convs'] == 4
        assert model['neck']['num_outs'] == 5
    built = [MODELS.build(copy.deepcopy(m)) for m in (teacher, student)]
    assert n_params(built[0].backbone) > 3 * n_params(built[1].backbone)
    assert n_params(built[0]) > n_params(built[1])
    levels = fpn_levels(s)
    assert levels.strides == (8, 16, 32, 64, 128) and levels.first == 3
    assert levels.anchor(0) == 16


def test_backbone_loads_the_digit_pretraining(tmp_path):
    """The seg benchmark's pretraining (an mmseg ResNetV1c) loads into the
    detector's backbone key for key and value for value; pretrained
    backbones keep the stock frozen stem and layer1."""
    from mmseg.registry import MODELS as SEG
    net = TINY.student
    torch.manual_seed(3)
    source = SEG.build(backbone_cfg(net, dilated=False))
    path = str(tmp_path / 'backbone.pth')
    torch.save({'state_dict': source.state_dict()}, path)
    model = MODELS.build(det_model(net, TINY, pretrained=path))
    assert set(model.backbone.state_dict()) == set(source.state_dict())
    model.init_weights()
    for k, v in source.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[k], v), k
    assert not any(p.requires_grad for p in model.backbone.stem.parameters())
    assert all(p.requires_grad for p in model.backbone.layer2.parameters())
    scratch = MODELS.build(det_model(net, TINY))
    assert all(p.requires_grad for p in scratch.backbone.parameters())
    assert backbone_channels(net) == [8, 16, 32, 64]


def test_distill_configs():
    swtat = det_distill_config('swtat', TINY)
    assert set(swtat['distill_losses']) == {'loss_swtat', 'loss_pmtat'}
    for cfg in swtat['distill_losses'].values():
        assert cfg['student_channels'] == cfg['teacher_channels'] == 16
        assert cfg['loss_weight'] == 0.2
    nopm = det_distill_config('swtat_nopm', TINY)
    assert set(nopm['distill_losses']) == {'loss_swtat'}
    assert set(nopm['loss_forward_mappings']) == {'loss_swtat'}
    pkd = det_distill_config('pkd', TINY, weight=3.0)
    assert pkd['distill_losses']['loss_pkd']['loss_weight'] == 3.0
    knobs = dict(
        per_level=dict(
            window_size=[4, 4, 2, 2, 1], shift_size=[2, 2, 1, 1, 0]))
    tuned = det_distill_config('swtat_nopm', TINY, weight=0.5, knobs=knobs)
    assert tuned['distill_losses']['loss_swtat']['per_level'] == \
        knobs['per_level']
    assert tuned['distill_losses']['loss_swtat']['loss_weight'] == 0.5
    assert det_distill_config('none', TINY) is None
    with pytest.raises(
            ValueError,
            match=r"unknown detection method "
            r"'dist'; choose from none, swtat, swtat_nopm, "):
        det_distill_config('dist', TINY)
    assert set(DET_METHODS) == {
        'none', 'swtat', 'swtat_nopm', 'pkd', 'cwd', 'fitnet'
    }
    # Window knobs set the SW-TaT loss only; others every loss.
    both = det_distill_config('swtat', TINY, knobs=dict(knobs, scale=1.0))
    swtat, pm = (
        both['distill_losses'][k] for k in ('loss_swtat', 'loss_pmtat'))
    assert swtat['per_level'] == knobs['per_level'] and 'per_level' not in pm
    # per_level knobs merge over the fragment's windows.
    normed = det_distill_config(
        'swtat',
        TINY,
        knobs=dict(per_level=dict(normalize=['channel'] * 4 + ['none'])))
    assert normed['distill_losses']['loss_swtat']['per_level'] == dict(
        window_size=[8, 8, 8, 8, 4],
        shift_size=[4, 4, 4, 4, 2],
        normalize=['channel'] * 4 + ['none'])
    assert swtat['scale'] == pm['scale'] == 1.0
    # FitNet: a shared regressor at the neck's width on every level.
    fitnet = det_distill_config('fitnet', TINY, weight=3.0)
    assert fitnet['connectors']['fr']['in_channels'] == 16
    assert fitnet['connectors']['fr']['out_channels'] == 16
    assert fitnet['distill_losses']['loss_fitnet']['loss_weight'] == 3.0


def test_structure_knobs_build_the_fpn_forms():
    """The FPN structure knobs: global pass per level, windows that stay
    windows ('auto' replaces the fragment's per-level windows), a shared
    student connector, PKD-style self-standardisation on every TaT loss;
    every form of the structure sweep passes the grid check."""
    from mmswtat.benchmark.accuracy.det_settings import DetBenchmarkSettings
    from mmswtat.benchmark.accuracy.runs import check_setting
    from mmswtat.recipes import FPN_SWTAT_FORMS as DET_SWTAT_FORMS
    cfg = det_distill_config(
        'swtat',
        TINY,
        weight=6.0,
        knobs=dict(
            global_pass='none',
            window_size='auto',
            connector=True,
            normalize='self'))
    (name, sw), = cfg['distill_losses'].items()
    assert name == 'loss_swtat' and 'per_level' not in sw
    assert (sw['window_size'], sw['shift_size'],
            sw['normalize']) == ('auto', 'auto', 'self')
    assert sw['loss_weight'] == pytest.approx(6.0)
    assert cfg['connectors'] == dict(
        sc=dict(
            type='mmswtat.ConvBNConnector', in_channels=16, out_channels=16))
    assert cfg['loss_forward_mappings']['loss_swtat']['student'] == dict(
        recorder='fpn', index=[0, 1, 2, 3, 4], connector='sc')
    pm = det_distill_config(
        'swtat', TINY, knobs=dict(global_pass='pm', connector=True))
    assert set(pm['distill_losses']) == {'loss_swtat', 'loss_pmtat'}
    assert all(m['student']['connector'] == 'sc'
               for m in pm['loss_forward_mappings'].values())
    assert pm['distill_losses']['loss_swtat']['per_level']['window_size'] \
        == [8, 8, 8, 8, 4]  # the fragment's windows where not replaced
    one = det_distill_config('swtat', TINY, knobs=dict(window_size=1))
    assert one['distill_losses']['loss_swtat']['shift_size'] == 0
    assert 'per_level' not in one['distill_losses']['loss_swtat']
    settings = DetBenchmarkSettings()
    for knobs in DET_SWTAT_FORMS:
        check_setting(settings, 'swtat', 2.0, knobs)
    with pytest.raises(ValueError, match="unknown global_pass 'global'"):
        det_distill_config('swtat', TINY, knobs=dict(global_pass='global'))
    with pytest.raises(ValueError, match='one SWTaTLoss'):
        det_distill_config('pkd', TINY, knobs=dict(window_size='auto'))


def test_per_level_list_of_the_wrong_length_names_both_lengths():
    from mmswtat.models.distillers.distill_spec import (LossRoute,
                                                        per_level_configs)
    route = LossRoute('loss_swtat', None, None, tuple(
        (i, i) for i in range(5)), True)
    with pytest.raises(
            ValueError,
            match=r"per_level\['normalize'\] must list one "
            r'value for each of the 5 levels of its index, got 4 values'):
        per_level_configs(
            'loss_swtat',
            dict(type='SWTaTLoss', per_level=dict(normalize=['self'] * 4)),
            route)


def test_published_weights_and_sweep_grid():
    from mmswtat.benchmark.accuracy.bench import sweep_grid
    from mmswtat.benchmark.accuracy.det_configs import det_published_weight
    from mmswtat.benchmark.accuracy.tasks import TASKS
    assert [det_published_weight(m)
            for m in DET_METHODS] == [None, 0.2, 0.2, 6.0, 10.0, 1.0]
    grid = sweep_grid(['none', 'swtat', 'pkd'], (0.5, 2.0), task=TASKS['det'])
    assert grid[0] == ('none', None, {})
    assert ('swtat', 0.1, {}) in grid and ('pkd', 12.0, {}) in grid
    knobbed = [k for m, w, k in grid if m == 'swtat' and k]
    assert knobbed == [
        dict(
            per_level=dict(
                window_size=[4, 4, 2, 1, 1], shift_size=[2, 2, 1, 0, 0])),
        dict(scale=1.0),
        dict(per_level=dict(normalize=['channel'] * 4 + ['none'])),
        dict(embed=True)
    ]
    with pytest.raises(ValueError, match="unknown detection method 'kd'"):
        sweep_grid(['kd'], task=TASKS['det'])


def test_quick_det_table_through_the_benchmark_tool(tmp_path):
    """``--task det --quick``: every detection method trains and tests
    through the shared harness; the report ranks by bbox mAP and shows
    mAP@50; the teacher is cached and reused, and rebuilt when a setting
    changes."""
    from cli_helpers import load_tool
    tool = load_tool('tools/analysis/accuracy_benchmark.py')
    torch.set_num_threads(2)
    out = tool.main([
        '--task', 'det', '--quick', '--seeds', '1', '--baseline-factors',
        '--out-dir',
        str(tmp_path)
    ])
    # The tool ran on its one thread and gave the caller's count back.
    assert torch.get_num_threads() == 2
    runs = out['records']
    assert sorted(r['method'] for r in runs) == sorted(DET_METHODS)
    for r in runs:
        assert 0.0 <= r['bbox_mAP'] <= 100.0 and 0.0 <= r['bbox_mAP_50']
        assert r['iters'] == 2 and r['cpu_s_per_it'] > 0
    md = open(tmp_path / 'table.md').read()
    assert '| bbox_mAP (mean ± std) | bbox_mAP_50 (mean ± std) |' in md
    for label in ('| PKD (FPN) | 6 |', '| SW-TaT + PM (FPN) | 0.2 |',
                  '| FitNet (FPN) | 1 |', '| teacher |'):
        assert label in md
    data = json.load(open(tmp_path / 'table.json'))
    assert data['meta']['task'] == 'det'
    assert data['meta']['metrics'] == ['bbox_mAP', 'bbox_mAP_50']
    assert data['summary'][0]['also']['bbox_mAP_50'][0] >= 0
    cache = tmp_path / 'cache'
    teachers = sorted(p.name for p in cache.iterdir()
                      if p.name.startswith('det-teacher'))
    assert len(teachers) == 1
    # Reused with the same settings; a changed teacher setting retrains.
    tool.main([
        '--task', 'det', '--quick', '--seeds', '1', '--methods', 'none',
        '--baseline-factors', '--teacher-iters', '3', '--out-dir',
        str(tmp_path / 'b'), '--cache-dir',
        str(cache)
    ])
    assert len(
        [p for p in cache.iterdir() if p.name.startswith('det-teacher')]) == 2
    with pytest.raises(
            SystemExit,
            match='the detection benchmark has the regimes default, long;'):
        tool.main(['--task', 'det', '--regime', 'converged', '--quick'])


def test_det_long_regime_doubles_both_schedules():
    from mmswtat.benchmark.accuracy.det_settings import (DetBenchmarkSettings,
                                                         det_regime_settings)
    base, long = DetBenchmarkSettings(), det_regime_settings('long')
    assert (long.teacher_train.iters, long.student_train.iters) == (6000, 2000)
    assert (base.teacher_train.iters, base.student_train.iters) == (3000, 1000)
    # everything else (data, networks, lr) is the default regime's
    assert long.teacher_train.lr == base.teacher_train.lr
    assert long.data == base.data and long.student == base.student


def _run(cfg, score_thr=0.0):
    """Train and test ``cfg``; test keeps every box (untrained detectors
    score below the stock 0.05)."""
    from mmengine.runner import Runner
    student = cfg.model.get('student', cfg.model)
    student['test_cfg']['score_thr'] = score_thr
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, runner.test()


def test_smoke_teacher_and_distilled_student(tmp_path):
    root = str(tmp_path / 'data')
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        write_digit_detection(
            root,
            DigitDetSettings(
                num_train=4, num_val=2, size=64, digit_size=(16, 32)),
            fpn_levels(TINY))
    # 16-32 px digits at anchors 2x the stride leave P5..P7 empty.
    named = {
        str(w.message).split('FPN level ')[1][:2]
        for w in seen if 'FPN level' in str(w.message)
    }
    assert {'P6', 'P7'} <= named and 'P3' not in named
    train = TrainSettings(iters=2, batch_size=2, lr=0.01, weight_decay=1e-4)
    teacher_dir = str(tmp_path / 'teacher')
    cfg = det_run_config(
        det_model(TINY.teacher, TINY),
        TINY,
        train,
        root,
        teacher_dir,
        seed=0,
        save_checkpoint=True,
        log_level='WARNING')
    _, metrics = _run(cfg)
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert 0.0 <= metrics[key] <= 1.0
    assert det_scores(metrics)['bbox_mAP'] == metrics['coco/bbox_mAP']
    ckpt = osp.join(teacher_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)

    distill = det_distill_config('swtat', TINY)
    cfg = det_run_config(
        det_distiller_model(TINY, distill, ckpt),
        TINY,
        train,
        root,
        str(tmp_path / 'student'),
        seed=0,
        log_level='WARNING')
    runner, metrics = _run(cfg)
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    hub = runner.message_hub
    for key in ('loss_swtat', 'loss_pmtat', 'loss_cls', 'loss_bbox'):
        value = hub.get_scalar(f'train/{key}').current()
        assert value == value and value > 0, key  # logged, finite
    # The teacher came from its checkpoint, not from random weights.
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    head = 'bbox_head.retina_cls.weight'
    assert torch.equal(runner.model.teacher.state_dict()[head],
                       state['state_dict'][head])


def test_scores_of_a_run_that_kept_no_box_are_zero():
    """CocoMetric returns {} when no box passed the score threshold."""
    assert det_scores({}) == dict(bbox_mAP=0.0, bbox_mAP_50=0.0)
    got = det_scores({
        'coco/bbox_mAP': 0.25,
        'coco/bbox_mAP_50': 0.5,
        'coco/bbox_mAP_75': 0.1
    })
    assert got == dict(bbox_mAP=0.25, bbox_mAP_50=0.5)
