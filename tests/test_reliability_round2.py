"""Issue 22: nothing silently impossible, no file lost, tools fail loudly.

Each test fails before the fix it covers; all run on tiny CPU fixtures.
"""
import argparse
import json
import os
import os.path as osp

import pytest
import torch
from seg_helpers import distiller_cfg, tiny_seg_model

STUDENT_CFG = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))),
    'configs/students/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py')
#: A shipped recipe: ``model.distill`` is a list (SW-TaT + CWD).
DISTILL_CFG = osp.join(
    osp.dirname(STUDENT_CFG), '..', 'swtat', 'deeplabv3_r101_to_r18_voc.py')


def _tool(name):
    """A tool script as a module (tools/ is not a package)."""
    from cli_helpers import load_tool
    return load_tool(name)


@pytest.fixture(autouse=True)
def mmseg_scope():
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')


@pytest.fixture
def logged(monkeypatch):
    """Messages of ``mmengine.logging.print_log`` (level >= WARNING)."""
    import mmengine.logging
    out = []
    real = mmengine.logging.print_log

    def capture(msg, logger=None, level=20):
        if level >= 30:
            out.append(str(msg))
        return real(msg, logger=logger, level=level)

    monkeypatch.setattr(mmengine.logging, 'print_log', capture)
    return out


# ------------------------------------------ settings that cannot take effect
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


@pytest.mark.parametrize(
    'cfg,message',
    [
        (dict(train_dataloader=dict(num_workers=-1)),
         'train_dataloader: num_workers must be an int >= 0'),
        (dict(default_hooks=dict(checkpoint=dict(interval=0))),
         r'checkpoint: interval must be an int > 0 .* or -1'),
        # Failed only at the first save, after `interval` iterations of work.
        (dict(
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=2, intervl=1))
        ), r"default_hooks.checkpoint: unknown key 'intervl' .*first save.*"
         r"did you mean 'interval'\?"),
        # Was numpy's "Cannot cast scalar from dtype('<U3')".
        (dict(randomness=dict(seed='abc')),
         r"randomness: seed must be an int >= 0, got 'abc'"),
        (dict(randomness=dict(seed=-1)),
         'randomness: seed must be an int >= 0'),
    ])
def test_schedule_values_that_cannot_work(cfg, message):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    with pytest.raises(ValueError, match=message):
        check_train_schedule(Config(dict(train_cfg=dict(max_iters=4), **cfg)))


@pytest.mark.parametrize('key,value', [('lr', '0.01'), ('lr', -1),
                                       ('lr', float('nan')),
                                       ('weight_decay', '0.1'),
                                       ('momentum', -1), ('betas', '0.9')])
def test_optimizer_numbers_must_be_numbers_at_least_zero(key, value):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    with pytest.raises(
            ValueError, match=f'optim_wrapper.optimizer: {key} must'):
        check_train_schedule(
            Config(
                dict(
                    train_cfg=dict(max_iters=4),
                    optim_wrapper=dict(optimizer={
                        'type': 'SGD',
                        'lr': 0.1,
                        key: value
                    }))))


def test_zero_learning_rate_warns(logged):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    check_train_schedule(
        Config(
            dict(
                train_cfg=dict(max_iters=4),
                optim_wrapper=dict(optimizer=dict(type='SGD', lr=0)))))
    assert any('lr=0: no weight changes' in m for m in logged)


def test_scheduler_ending_after_the_run_warns(logged):
    """max_iters lowered, PolyLR's end left at 20000: the LR barely moved
    from its start value, without a word."""
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    sched = [
        dict(type='LinearLR', by_epoch=False, begin=0, end=5),
        dict(type='PolyLR', by_epoch=False, begin=0, end=20000)
    ]
    check_train_schedule(
        Config(
            dict(
                train_cfg=dict(type='IterBasedTrainLoop', max_iters=40),
                param_scheduler=sched)))
    said = [m for m in logged if 'param_scheduler' in m]
    assert len(said) == 1 and (
        'param_scheduler[1] (PolyLR) ends at iteration 20000, after '
        'train_cfg.max_iters=40' in said[0]
        and 'param_scheduler.1.end=40' in said[0]), logged
    del logged[:]
    sched[1]['end'] = 40  # the advice
    check_train_schedule(
        Config(
            dict(
                train_cfg=dict(type='IterBasedTrainLoop', max_iters=40),
                param_scheduler=sched)))
    assert not any('param_scheduler' in m for m in logged)


@pytest.mark.parametrize('key,value', [('max_iters', 0), ('max_iters', -3),
                                       ('max_epochs', 0), ('val_interval', 0)])
def test_nothing_to_train_is_an_error(key, value):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    cfg = Config(
        dict(train_cfg=dict(type='IterBasedTrainLoop', **{key: value})))
    with pytest.raises(
            ValueError,
            match=f'train_cfg: {key} must be an int '
            f'> 0, got {value}.*train_cfg.{key}='):
        check_train_schedule(cfg)
    check_train_schedule(Config(dict(train_cfg=dict(max_iters=10))))


def test_zero_loss_weights_are_said_out_loud(logged):
    from seg_helpers import build_distiller
    cfg = distiller_cfg()
    for loss in cfg['distill_losses'].values():
        loss['loss_weight'] = 0
    build_distiller(cfg)
    msgs = [m for m in logged if 'loss_weight=0' in m]
    assert msgs and 'nothing is distilled' in msgs[0]
    assert "'loss_swtat'" in msgs[0] and "'loss_pmtat'" in msgs[0]


def test_warmup_as_long_as_the_run_warns(logged):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    check_train_schedule(
        Config(
            dict(
                train_cfg=dict(max_iters=100),
                model=dict(
                    type='mmswtat.SingleTeacherDistiller',
                    distill_warmup_iters=100))))
    assert any('never reach their full value' in m for m in logged)


def _distill_state(tmp_path, name='distill.pth', **save):
    from mmswtat.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(distiller_cfg())
    path = tmp_path / name
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(iter=1), **save), path)
    return model, str(path)


def test_teacher_checkpoint_with_no_key_loading_fails_even_non_strict(
        tmp_path):
    from mmengine.registry import init_default_scope

    from mmswtat.registry import MODELS
    from mmswtat.utils.checkpoint import load_weights
    _, path = _distill_state(tmp_path)
    init_default_scope('mmseg')
    teacher = MODELS.build(tiny_seg_model(50))
    for strict in (True, False):
        with pytest.raises(
                RuntimeError,
                match='none of its .* keys loads.*'
                'distillation checkpoint.*export_student'):
            load_weights(teacher, path, 'teacher', strict=strict)


# ------------------------------------------------------- no file is lost
def test_check_output_path(tmp_path):
    from mmswtat.utils.output_files import check_output_path
    existing = tmp_path / 'a.pkl'
    existing.write_text('x')
    with pytest.raises(FileExistsError, match="already exists.*--force"):
        check_output_path(str(existing), False, 'tool', '--out')
    assert check_output_path(str(existing), True, 'tool') == str(existing)
    with pytest.raises(IsADirectoryError, match='existing directory'):
        check_output_path(str(tmp_path), True, 'tool', '--out', '.pkl')
    with pytest.raises(ValueError, match=r'must be a \.pkl or \.pickle file'):
        check_output_path(
            str(tmp_path / 'b.txt'), False, 't', '--out', ('.pkl', '.pickle'))
    out = str(tmp_path / 'r.pickle')  # mmengine's DumpResults takes it
    assert check_output_path(out, False, 't', '--out', ('.pkl', '.pickle'))
    with pytest.raises(ValueError, match='is empty'):
        check_output_path('', False, 't', '--out')


def test_export_refuses_existing_file_and_never_a_training_checkpoint(
        tmp_path):
    from mmswtat.utils.student_checkpoint import export_student
    _, src = _distill_state(tmp_path)
    _, other = _distill_state(
        tmp_path, 'other.pth', optimizer=dict(state={}, param_groups=[]))
    before = open(other, 'rb').read()
    for force in (False, True):
        with pytest.raises(ValueError, match='existing training checkpoint'):
            export_student(src, other, force=force)
    assert open(other, 'rb').read() == before
    plain = tmp_path / 'student.pth'
    plain.write_bytes(b'old')
    with pytest.raises(FileExistsError, match='--force'):
        export_student(src, str(plain))
    assert plain.read_bytes() == b'old'
    export_student(src, str(plain), force=True)
    assert plain.read_bytes() != b'old'


def test_work_dir_lock_names_the_running_run(tmp_path):
    from mmswtat.engine.work_dir_lock import (LOCK_NAME, WorkDirBusyError,
                                              work_dir_lock)
    with work_dir_lock(str(tmp_path)) as path:
        assert json.load(open(path))['pid'] == os.getpid()
        with pytest.raises(
                WorkDirBusyError, match=f'process {os.getpid()} .*--work-dir'):
            with work_dir_lock(str(tmp_path), resume=True):
                pass
    assert not osp.exists(osp.join(tmp_path, LOCK_NAME))
    # A stale lock (its process is gone) is taken over, saying so.
    import socket
    import subprocess
    proc = subprocess.Popen(['true'])
    proc.wait()
    with open(osp.join(tmp_path, LOCK_NAME), 'w') as f:
        json.dump(dict(pid=proc.pid, host=socket.gethostname()), f)
    notes = []
    with work_dir_lock(str(tmp_path), log=notes.append):
        pass
    assert 'stale' in notes[0]


# --------------------------------------------- resume checks what it resumes
def test_resume_refuses_plain_and_other_config_checkpoints(tmp_path):
    from mmengine.registry import init_default_scope

    from mmswtat.engine.resume_check import check_resume
    from mmswtat.registry import MODELS
    model, path = _distill_state(tmp_path)
    cfg = distiller_cfg()
    check_resume(path, model, cfg)  # its own checkpoint: fine
    init_default_scope('mmseg')
    plain = MODELS.build(tiny_seg_model(18))
    plain_path = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=plain.state_dict()), plain_path)
    with pytest.raises(ValueError, match='this is a plain model checkpoint'):
        check_resume(plain_path, model, cfg)
    torch.save(dict(state_dict=[1, 2]), plain_path)
    with pytest.raises(
            ValueError,
            match='not a training checkpoint: its '
            'state_dict is a list'):
        check_resume(plain_path, model, cfg)
    # Another distillation config: a recorder on layer3 (other channels).
    from mmengine.config import Config
    other_cfg = distiller_cfg(student_recorders=dict(feat='backbone.layer3'))
    other_cfg['distill_losses']['loss_swtat']['student_channels'] = 32
    other_cfg['distill_losses']['loss_pmtat']['student_channels'] = 32
    torch.manual_seed(0)
    other = MODELS.build(other_cfg)
    other_path = str(tmp_path / 'other.pth')
    saved = Config(dict(model=other_cfg)).pretty_text
    torch.save(
        dict(state_dict=other.state_dict(), meta=dict(cfg=saved)), other_path)
    with pytest.raises(ValueError) as e:
        check_resume(other_path, model, cfg)
    msg = str(e.value)
    assert 'another config or model' in msg
    assert "model.student_recorders.feat: checkpoint 'backbone.layer3', " \
        "this config 'backbone.layer4'" in msg


# ------------------------------------ test.py on a plain (student) config
def test_plain_config_loads_the_student_of_a_distillation_checkpoint(tmp_path):
    from mmengine.registry import init_default_scope

    from mmswtat.registry import MODELS
    from mmswtat.utils.student_checkpoint import load_test_plain
    trained, path = _distill_state(tmp_path)
    init_default_scope('mmseg')
    torch.manual_seed(1)
    student = MODELS.build(tiny_seg_model(18))
    assert load_test_plain(student, path) == 'distillation'
    for k, v in trained.student_state_dict().items():
        assert torch.equal(student.state_dict()[k], v), k
    other = MODELS.build(tiny_seg_model(50))  # another architecture
    with pytest.raises(
            ValueError,
            match='(?s)does not fit the test model.*'
            'distillation config it was trained with'):
        load_test_plain(other, path)
    fc = tmp_path / 'fc.pth'  # no key of it fits: never a random model
    torch.save(dict(state_dict={'fc.weight': torch.ones(2, 2)}), fc)
    with pytest.raises(ValueError, match='none of its 1 keys loads'):
        load_test_plain(student, str(fc))


# ------------------------------------------------------------- CLI parsing
def test_cfg_options_key_without_value(capsys):
    from mmswtat.utils.cli import add_runner_args
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(['--cfg-options', 'model.teacher_ckpt'])
    err = capsys.readouterr().err
    assert "'model.teacher_ckpt' is not KEY=VALUE" in err
    assert 'model.teacher_ckpt=VALUE' in err
    for item in (' =1', '=1', 'a b=1'):
        with pytest.raises(SystemExit):
            parser.parse_args(['--cfg-options', item])
        assert 'is not KEY=VALUE' in capsys.readouterr().err
    args = parser.parse_args(['--cfg-options', 'a.b=1'])
    assert args.cfg_options == {'a.b': 1}


@pytest.mark.parametrize(
    'argv', [['--quick', '--sizes', '0'], ['--window', '0'], ['--sizes', '-2'],
             ['--repeats', '0'], ['--batch', '0'], ['--channels', '0:8'],
             ['--memory-fraction', '2'], ['--case-timeout', 'nan'],
             ['--window', '4', '--shift', '4'],
             ['--part', 'step', '--config', 'missing.py'],
             ['--report', 'missing.json'], ['--device', 'bogus'],
             ['--device', 'cuda:99'], ['--out', ''],
             ['--part', 'step', '--config', STUDENT_CFG]])
def test_benchmark_cli_refuses_bad_numbers(argv, capsys):
    parse_args = _tool('tools/analysis/benchmark.py').parse_args
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert 'error' in capsys.readouterr().err


def test_benchmark_quick_keeps_given_values(capsys):
    parse_args = _tool('tools/analysis/benchmark.py').parse_args
    args = parse_args([
        '--quick', '--sizes', '16', '--window', '2', '--shift', '1', '--part',
        'loss'
    ])
    assert (args.sizes, args.window, args.shift) == ([16], 2, 1)
    assert args.repeats == 1  # not given: the quick value
    assert '--quick keeps the values you gave' in capsys.readouterr().err


def test_benchmark_failed_case_exits_non_zero():
    from mmswtat.benchmark import failed_cases
    exit_status = _tool('tools/analysis/benchmark.py').exit_status
    report = dict(
        loss=[dict(median_s=1.0), dict(skip='too big')],
        step=[dict(error='FileNotFoundError: x')])
    assert failed_cases(report) == ['step 1: FileNotFoundError: x']
    assert exit_status(report) == 1
    assert exit_status(dict(loss=[dict(median_s=1.0)])) == 0


@pytest.mark.parametrize(
    'argv', [['--seeds', '0'], ['--iters', '-1'], ['--teacher-iters', '0'],
             ['--first-seed', '-1'], ['--factors', '0'],
             ['--best-from', 'missing.json'], ['--reuse', 'missing.json']])
def test_accuracy_benchmark_cli_refuses_bad_numbers(argv):
    parse_args = _tool('tools/analysis/accuracy_benchmark.py').parse_args
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_accuracy_benchmark_reports_must_be_its_own(tmp_path, capsys):
    parse_args = _tool('tools/analysis/accuracy_benchmark.py').parse_args
    (tmp_path / 'log.txt').write_text('not json')
    (tmp_path / 'other.json').write_text('{"a": 1}')
    for option in ('--reuse', '--best-from'):
        for name, words in (('log.txt', 'is not JSON'),
                            ('other.json', "no 'meta' and 'runs'")):
            with pytest.raises(SystemExit):
                parse_args([option, str(tmp_path / name)])
            err = capsys.readouterr().err
            assert f'argument {option}: ' in err and words in err, err
            assert 'give a table.json or sweep.json' in err


# ---------------------------------------------------------- data mistakes
class _Dataset:

    def __init__(self, data_list, data_root='data/voc'):
        self.data_list = data_list
        self.data_root = data_root
        self.ann_file = 'ImageSets/Segmentation/train.txt'

    def __len__(self):
        return len(self.data_list)


def test_empty_dataset_names_root_and_split():
    from mmswtat.engine.data_checks import check_dataset
    with pytest.raises(
            ValueError,
            match="train dataset .*data_root='data/"
            "voc'.*ann_file=.*train.txt.*is empty"):
        check_dataset(_Dataset([]), 'train')


def test_runner_names_an_empty_split(voc, tmp_path):
    """mmengine fails to build it ("need at least one array ...")."""
    from mmswtat.engine import DistillRunner
    split = tmp_path / 'empty.txt'
    split.write_text('')
    loader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='PascalVOCDataset',
            data_root=voc,
            ann_file=str(split),
            pipeline=[],
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass')))
    with pytest.raises(
            ValueError,
            match='val/test dataset .*PascalVOC'
            f'Dataset: data_root={voc!r}.*empty.txt.*is empty'):
        DistillRunner.build_dataloader(loader)


def test_runner_names_a_missing_split_file_and_missing_labels(voc, tmp_path):
    from mmswtat.engine import DistillRunner
    loader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(
            type='PascalVOCDataset',
            data_root=voc,
            ann_file='ImageSets/Segmentation/nope.txt',
            pipeline=[],
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass')))
    with pytest.raises(
            FileNotFoundError,
            match='train dataset .*nope.txt'
            '.*cannot be read.*Check train_dataloader.dataset'):
        DistillRunner.build_dataloader(loader)
    from mmswtat.engine.data_checks import check_dataset
    items = [
        dict(
            img_path=osp.join(voc, 'JPEGImages', 'x.jpg'),
            seg_map_path=str(tmp_path / 'x.png'))
    ]
    with pytest.raises(
            FileNotFoundError,
            match="lists image '.*x.jpg', "
            'which does not exist'):
        check_dataset(_Dataset(items), 'train')


def test_image_label_size_mismatch_names_the_first_pair(tmp_path):
    from PIL import Image

    from mmswtat.engine.data_checks import check_dataset
    items = []
    for i, (a, b) in enumerate([(16, 16), (16, 12), (8, 9)]):
        img, seg = tmp_path / f'{i}.jpg', tmp_path / f'{i}.png'
        Image.new('RGB', (a, a)).save(img)
        Image.new('L', (b, b)).save(seg)
        items.append(dict(img_path=str(img), seg_map_path=str(seg)))
    with pytest.raises(
            ValueError, match=r"1\.jpg' \(16x16\) with .*1\.png' "
            r'\(12x12'):
        check_dataset(_Dataset(items), 'train')
    check_dataset(_Dataset(items[:1]), 'train')
    same = [dict(items[0], seg_map_path=items[0]['img_path'])]
    with pytest.raises(ValueError, match='as its own label map'):
        check_dataset(_Dataset(same), 'train')
    (tmp_path / '0.png').write_text('<html>not found</html>')
    with pytest.raises(
            ValueError, match=r"lists '.*0\.png', which is not "
            'an image'):
        check_dataset(_Dataset(items[:1]), 'train')


# ------------------------------------------------------------ the generator
def _probe(task, path='a.py'):
    from mmswtat.config_gen.probe import Feature, ModelProbe
    stage = Feature(module='backbone.layer4', channels=64, stride=8)
    return ModelProbe(
        path,
        'mmseg' if task == 'seg' else 'mmdet',
        task, (64, 64),
        'test',
        stages=[stage])


def test_generator_refuses_different_tasks():
    from mmswtat.config_gen import MatchError
    from mmswtat.config_gen.match import match
    with pytest.raises(
            MatchError,
            match='a seg student and a det teacher '
            'are models of different tasks'):
        match(_probe('seg'), _probe('det'))


def test_generator_names_self_distillation(tmp_path):
    from mmswtat.config_gen.generate import self_distillation_note
    cfg = tmp_path / 'a.py'
    cfg.write_text('x = 1\n')
    link = tmp_path / 'b.py'
    link.symlink_to(cfg)
    assert 'self-distillation' in self_distillation_note(str(cfg), str(link))
    other = tmp_path / 'c.py'
    other.write_text('x = 1\n')
    assert self_distillation_note(str(cfg), str(other)) is None


# ------------------------------------------- the tools, end to end (fast)


def test_tools_refuse_before_any_work(tmp_path):
    """Each tool stops before building anything, naming the problem (their
    ``main(argv)`` in this process; test_e2e_seg.py and test_config_gen.py
    run the tools as commands)."""
    from cli_helpers import run_main
    _, ckpt = _distill_state(tmp_path)
    existing = tmp_path / 'mine.py'
    existing.write_text('# my config\n')
    (tmp_path / 'out.pkl').mkdir()
    busy = tmp_path / 'busy'
    busy.mkdir()
    with open(busy / '.mmswtat_train.lock', 'w') as f:  # this process
        json.dump(
            dict(
                pid=os.getpid(),
                host=__import__('socket').gethostname(),
                started='now',
                command='pytest'), f)
    cases = [
        ([
            'tools/make_distill_config.py', STUDENT_CFG, STUDENT_CFG, '--out',
            str(existing)
        ], 'already exists; give another path, or --force'),
        ([
            'tools/test.py', STUDENT_CFG, ckpt, '--out',
            str(tmp_path / 'out.pkl')
        ], 'is an existing directory'),
        (['tools/export_student.py', ckpt,
          str(existing)], 'export_student.py: OUT .* already exists'),
        (['tools/train.py', STUDENT_CFG, '--work-dir',
          str(busy)],
         f'in use by another training run \\(process {os.getpid()}'),
        ([
            'tools/train.py', STUDENT_CFG, '--work-dir',
            str(tmp_path / 'w'), '--cfg-options', 'train_cfg.max_iters=0'
        ], 'max_iters must be an int > 0, got 0: nothing would be trained'),
        ([
            'tools/train.py', STUDENT_CFG, '--cfg-options',
            'model.teacher_ckpt'
        ], "'model.teacher_ckpt' is not KEY=VALUE"),
        (['tools/train.py', STUDENT_CFG, '--work-dir',
          ''], '--work-dir is empty'),
        (['tools/train.py', STUDENT_CFG, '--work-dir',
          str(existing)],
         "--work-dir '.*mine.py' is an existing file, not a folder"),
        (['tools/test.py', STUDENT_CFG, ckpt, '--show-dir',
          str(existing)],
         "--show-dir '.*mine.py' is an existing file, not a folder"),
        (['tools/export_student.py', ckpt, ''], 'OUT is empty'),
        (['tools/train.py', 'configs/swtat/nope.py'],
         "^train.py: error: config file 'configs/swtat/nope.py' does not "
         'exist'),
        ([
            'tools/train.py', DISTILL_CFG, '--work-dir',
            str(tmp_path / 'w'), '--cfg-options', 'model.distill.foo=1'
        ], r'^train.py: error: --cfg-options model.distill.foo: does not '
         r'fit the config \(list indices must be integers.*\); follow the '
         r"config's own nesting, with a number for a list item"),
        (['tools/test.py', STUDENT_CFG,
          str(tmp_path / 'no.pth')],
         "^test.py: error: checkpoint '.*no.pth' does not exist"),
        (['tools/make_synthetic_data.py', 'voc', '--out',
          str(existing)],
         "--out '.*mine.py' is an existing file, not a folder"),
        ([
            'tools/analysis/accuracy_benchmark.py', '--quick', '--size', '7',
            '--out-dir',
            str(tmp_path / 'w')
        ], '^accuracy_benchmark.py: error: scene size 7 gives a 0x0 layer4 '
         'map'),
        ([
            'tools/make_distill_config.py', STUDENT_CFG, STUDENT_CFG, '--out',
            str(tmp_path / 'cfg.txt')
        ], r'--out must be a \.py file'),
    ]
    not_a_config = tmp_path / 'x.py'
    not_a_config.write_text('x = 1\n')
    cases += [(['tools/train.py', str(not_a_config)],
               "^train.py: error: '.*x.py' defines no model"),
              (['tools/test.py', str(not_a_config),
                ckpt], "^test.py: error: '.*x.py' defines no model")]
    text_ckpt = tmp_path / 'text.pth'
    text_ckpt.write_text('not a checkpoint\n')
    # Refused after the model is built (its work dir is made).
    cases.append(([
        'tools/test.py', STUDENT_CFG,
        str(text_ckpt), '--work-dir',
        str(tmp_path / 'test_work')
    ], "^test.py: error: test checkpoint '.*text.pth' cannot be read: it is "
                  'a text file'))
    for args, message in cases:
        proc = run_main(args, check=False)
        assert proc.returncode != 0, args
        import re
        assert re.search(message, proc.stderr), (args, proc.stderr[-2000:])
        assert 'Traceback' not in proc.stderr, (args, proc.stderr[-2000:])
    assert existing.read_text() == '# my config\n'
    assert not (tmp_path / 'w').exists()
