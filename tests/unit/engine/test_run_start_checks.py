"""What a run starts from is checked before training.

``load_from`` of which no weight fits, a ``--resume`` checkpoint that
disagrees with the config about the run, label maps with values the model
cannot take. Each test fails without its check; all run on tiny CPU runs.
"""
import logging

import numpy as np
import pytest
import torch
from seg_helpers import distiller_cfg, tiny_seg_model

pytestmark = pytest.mark.usefixtures('mmseg_scope')


@pytest.fixture
def log_level():
    """:func:`logged` keeps INFO here too: what a load or resume says."""
    return logging.INFO


def _save(model, path, **extra):
    torch.save(dict(state_dict=model.state_dict(), meta=dict(), **extra), path)
    return str(path)


def _build(cfg):
    from mmswtat.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _runner(work, model, **kw):
    """A DistillRunner with only a model (enough for ``load_or_resume``)."""
    from mmswtat.engine import DistillRunner
    return DistillRunner(
        model=model, work_dir=str(work), default_scope='mmseg', **kw)


# ---------------------------------------------------- load_from is checked
def test_teacher_or_student_checkpoint_as_load_from_of_a_distiller(tmp_path):
    """mmengine loaded nothing and trained from random weights (exit 0)."""
    from mmswtat.utils.checkpoint import CheckpointError
    cfg = distiller_cfg()
    teacher = _save(_build(cfg['teacher']), tmp_path / 'teacher.pth')
    student = _save(_build(cfg['student']), tmp_path / 'student.pth')
    runner = _runner(tmp_path / 'w1', cfg, load_from=teacher)
    with pytest.raises(
            CheckpointError,
            match='load_from: checkpoint .*teacher.pth.* none of its .* '
            'weights loads .*checkpoint of the teacher model alone.*'
            'model.teacher_ckpt=.*teacher.pth load_from=None'):
        runner.load_or_resume()
    runner = _runner(tmp_path / 'w2', cfg, load_from=student)
    with pytest.raises(CheckpointError, match='model.student_ckpt='):
        runner.load_or_resume()
    # The advice works: the files load as teacher_ckpt / student_ckpt.
    model = _build(dict(cfg, teacher_ckpt=teacher, student_ckpt=student))
    for role, path in (('teacher', teacher), ('student', student)):
        saved = torch.load(path)['state_dict']
        for k, v in getattr(model, role).state_dict().items():
            assert torch.equal(v, saved[k]), (role, k)


def test_distillation_checkpoint_as_load_from_of_a_plain_config(tmp_path):
    from mmswtat.utils.checkpoint import CheckpointError
    from mmswtat.utils.student_checkpoint import export_student
    distiller = _build(distiller_cfg())
    ckpt = _save(distiller, tmp_path / 'distill.pth')
    runner = _runner(tmp_path / 'w1', tiny_seg_model(18), load_from=ckpt)
    with pytest.raises(
            CheckpointError,
            match='distillation checkpoint .*plain model.*'
            'tools/export_student.py .*distill.pth STUDENT.pth.*'
            'load_from=STUDENT.pth'):
        runner.load_or_resume()
    # The advice works: the export loads fully.
    out, _ = export_student(ckpt, str(tmp_path / 'STUDENT.pth'))
    runner = _runner(tmp_path / 'w2', tiny_seg_model(18), load_from=out)
    runner.load_or_resume()
    for k, v in distiller.student.state_dict().items():
        assert torch.equal(runner.model.state_dict()[k], v), k
    # Another model altogether.
    fc = tmp_path / 'fc.pth'
    torch.save(dict(state_dict={'fc.weight': torch.zeros(2, 2)}), fc)
    runner = _runner(tmp_path / 'w3', tiny_seg_model(18), load_from=str(fc))
    with pytest.raises(
            CheckpointError,
            match="keys start with fc, the model's with "
            'backbone, decode_head. Give a checkpoint of this architecture'):
        runner.load_or_resume()


@pytest.mark.parametrize('value', [0.0, float('nan')])
def test_load_from_with_zero_or_nan_weights_is_refused(tmp_path, value):
    """An all-zero student loaded by load_from trained on (exit 0)."""
    from mmswtat.utils.checkpoint import CheckpointError
    cfg = distiller_cfg()
    model = _build(cfg)
    state = {
        k:
        torch.full_like(v, value)
        if k.startswith('student.') and v.is_floating_point() else v
        for k, v in model.state_dict().items()
    }
    path = tmp_path / 'bad.pth'
    torch.save(dict(state_dict=state, meta=dict()), path)
    words = 'only zeros in all its' if value == 0 else 'non-finite'
    runner = _runner(tmp_path / 'w', cfg, load_from=str(path))
    with pytest.raises(
            CheckpointError,
            match=f"load_from checkpoint '.*bad.pth' holds {words}.* the "
            'model would'):
        runner.load_or_resume()


@pytest.mark.parametrize('kind', ['missing', 'directory', 'text', 'empty'])
def test_unreadable_load_from_names_the_key(tmp_path, kind):
    """Were mmengine's 'can not be found' (also for an existing directory)
    and torch's 'Unsupported operand 110' for a text file."""
    path = tmp_path / 'x.pth'
    if kind == 'directory':
        path.mkdir()
    elif kind == 'text':
        path.write_text('not a checkpoint\n')
    elif kind == 'empty':
        path.write_bytes(b'')
    words = dict(
        missing='does not exist; set load_from to a checkpoint file',
        directory='is a directory, not a file; set load_from to a',
        text=r"cannot be read: it is a text file \(starts with 'not a",
        empty=r'is empty \(0 bytes')[kind]
    runner = _runner(tmp_path / 'w', tiny_seg_model(18), load_from=str(path))
    with pytest.raises((OSError, ValueError),
                       match=f"load_from checkpoint '.*x.pth' {words}"):
        runner.load_or_resume()


def test_partial_load_from_loads_and_says_how_much(tmp_path, logged):
    """Fine-tuning with another head: loads as mmengine does, one line."""
    ckpt = _save(
        _build(tiny_seg_model(18, num_classes=4)), tmp_path / 'c4.pth')
    runner = _runner(
        tmp_path / 'w', tiny_seg_model(18, num_classes=7), load_from=ckpt)
    runner.load_or_resume()
    assert any('load_from: ' in m and 'keep their initial values' in m
               and 'decode_head.conv_seg.weight' in m for m in logged)


def test_auto_resume_with_load_from(tmp_path, capsys):
    """``--resume`` (auto) dropped a configured ``load_from``: with an empty
    work dir the run started from the initial weights, not from it. Now a
    new run starts from load_from's weights, a later run resumes; said."""
    from cli_helpers import load_tool
    from mmengine import Config
    train = load_tool('tools/train.py')
    cfg = Config(dict(load_from='init.pth', work_dir=str(tmp_path)))
    train.apply_resume(cfg, 'auto')
    assert (cfg.resume, cfg.load_from) == (False, 'init.pth')
    assert ("no checkpoint in the work dir '" + str(tmp_path) + "' yet: a "
            "new run starts from the weights of load_from='init.pth'"
            ) in capsys.readouterr().err
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    cfg = Config(dict(load_from='init.pth', work_dir=str(tmp_path)))
    train.apply_resume(cfg, 'auto')
    assert (cfg.resume, cfg.load_from) == (True, None)
    assert "load_from='init.pth' is not used" in capsys.readouterr().err
    cfg = Config(dict(load_from='init.pth', work_dir=str(tmp_path)))
    train.apply_resume(cfg, 'x.pth')
    assert (cfg.resume, cfg.load_from) == (True, 'x.pth')


# ------------------------------------- --resume checks the run it resumes
_NAMES = iter(range(10**6))


def _train_runner(work, voc, iters, lr=0.01, end=None, **kw):
    """A plain tiny segmentor on the synthetic VOC, ``iters`` iterations, a
    checkpoint at the end (DistillRunner, as tools/train.py builds)."""
    from mmswtat.engine import DistillRunner
    loader = dict(
        batch_size=2,
        num_workers=0,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='PascalVOCDataset',
            data_root=voc,
            ann_file='ImageSets/Segmentation/train.txt',
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='RandomCrop', crop_size=(32, 32)),
                dict(type='PackSegInputs')
            ]))
    checkpoint = dict(type='CheckpointHook', interval=iters, by_epoch=False)
    checkpoint.update(kw.pop('checkpoint', {}))
    return DistillRunner(
        model=tiny_seg_model(18, num_classes=21),
        work_dir=str(work),
        experiment_name=f'run{next(_NAMES)}',
        train_dataloader=loader,
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=iters),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=0)),
        param_scheduler=[
            dict(type='PolyLR', begin=0, end=end or iters, by_epoch=False)
        ],
        default_hooks=dict(checkpoint=checkpoint),
        default_scope='mmseg',
        **kw)


@pytest.fixture(scope='module')
def trained(voc, tmp_path_factory):
    """Two 2-iteration runs: a full checkpoint, and one saved without
    optimizer and scheduler state."""
    work = tmp_path_factory.mktemp('resume')
    _train_runner(work / 'full', voc, 2).train()
    _train_runner(
        work / 'bare',
        voc,
        2,
        checkpoint=dict(save_optimizer=False,
                        save_param_scheduler=False)).train()
    return dict(
        full=str(work / 'full' / 'iter_2.pth'),
        bare=str(work / 'bare' / 'iter_2.pth'))


def test_resume_past_max_iters_is_refused(trained, voc, tmp_path, logged):
    """mmengine trained nothing and exited 0."""
    runner = _train_runner(
        tmp_path / 'a', voc, 2, resume=True, load_from=trained['full'])
    with pytest.raises(
            ValueError,
            match=r"checkpoint .*iter_2.pth' is at iter 2, and this "
            r"config's train_cfg.max_iters is 2: nothing is left to train"
            r'.*raise train_cfg.max_iters above 2'):
        runner.train()
    # The advice works: one more iteration trains (to iter 3).
    runner = _train_runner(
        tmp_path / 'b', voc, 3, end=2, resume=True, load_from=trained['full'])
    runner.train()
    assert runner.iter == 3
    said = [m for m in logged if m.startswith('--resume restores')]
    assert said and ('the weights, the optimizer state, the parameter '
                     "schedulers' state, the iter (2;" in said[0])
    assert not any('disagree' in m or 'no optimizer state' in m
                   for m in logged)


def test_resume_without_optimizer_state_warns(trained, voc, tmp_path, logged):
    runner = _train_runner(
        tmp_path / 'a', voc, 3, end=2, resume=True, load_from=trained['bare'])
    runner.train()
    warned = [m for m in logged if 'no optimizer state' in m]
    assert warned, logged
    assert ('the optimizer restarts from its initial state' in warned[0]
            and 'the LR schedule restarts from its first step while '
            'training goes on at iter 2' in warned[0]
            and 'save_optimizer=False' in warned[0])
    said = [m for m in logged if m.startswith('--resume restores')]
    assert 'optimizer' not in said[0] and 'schedulers' not in said[0]


def test_resume_names_settings_the_checkpoint_overrides(
        trained, voc, tmp_path, logged):
    """A resume restores the checkpoint's optimizer and scheduler state over
    the config's lr and schedule end: said, naming the keys."""
    runner = _train_runner(
        tmp_path / 'a',
        voc,
        3,
        lr=0.02,
        end=3,
        resume=True,
        load_from=trained['full'])
    runner.train()
    warned = [m for m in logged if 'disagree about the run' in m]
    assert warned, logged
    for words in ('optim_wrapper param group 0 initial_lr: checkpoint 0.01, '
                  'this config 0.02', 'param_scheduler[0] end: checkpoint 2,'
                  ' this config 3', 'load_from='):
        assert words in warned[0], words


def test_epoch_based_resume_past_max_epochs():
    from mmswtat.engine.resume_check import check_run_state
    checkpoint = dict(meta=dict(epoch=12, iter=1200), optimizer={})
    with pytest.raises(
            ValueError,
            match="at epoch 12, and this config's train_cfg.max_epochs is "
            '12'):
        check_run_state(checkpoint, 'epoch_12.pth', ('epoch', 12))
    check_run_state(checkpoint, 'epoch_12.pth', ('epoch', 13))


# ---------------------------------------------- label values before training
def _seg_dataset(root, labels, classes=21, **kw):
    """An mmseg BaseSegDataset of 8x8 images with the given label arrays."""
    from mmseg.datasets import BaseSegDataset
    from PIL import Image
    for sub in ('img', 'ann'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, label in enumerate(labels):
        Image.new('RGB', label.shape[::-1]).save(root / 'img' / f'{i:02d}.jpg')
        Image.fromarray(label).save(root / 'ann' / f'{i:02d}.png')
    return BaseSegDataset(
        data_root=str(root),
        data_prefix=dict(img_path='img', seg_map_path='ann'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        metainfo=dict(classes=tuple(f'c{i}' for i in range(classes))),
        pipeline=[],
        **kw)


def _labels(n, values):
    """``n`` 8x8 uint8 label maps, the k-th holding ``values[k % len]``."""
    out = []
    for k in range(n):
        label = np.zeros((8, 8), np.uint8)
        label[2:5, 2:5] = values[k % len(values)]
        out.append(label)
    return out


def test_label_value_outside_the_classes_names_the_file(tmp_path):
    """Was a raw torch IndexError at the first batch holding it."""
    from mmswtat.engine.data_checks import check_dataset
    labels = _labels(4, [1, 2, 3])
    labels[2][0, 0] = 50
    with pytest.raises(
            ValueError,
            match=r"label map '.*ann/02.png' with the value 50, outside the "
            r'21 classes \[0, 21\) and not the ignore_index 255'):
        check_dataset(_seg_dataset(tmp_path, labels), 'train')


def test_reduce_zero_label_values_as_mmseg_loads_them(tmp_path):
    """ADE-style maps: 0 is ignored, 1..21 are the classes 0..20."""
    from mmswtat.engine.data_checks import check_dataset
    labels = _labels(4, [21, 5])
    check_dataset(
        _seg_dataset(tmp_path / 'a', labels, reduce_zero_label=True), 'train')
    with pytest.raises(ValueError, match='with the value 21, outside'):
        check_dataset(_seg_dataset(tmp_path / 'b', labels), 'train')
    labels[1][0, 0] = 22
    with pytest.raises(
            ValueError,
            match=r"value 21 \(the file's 22, less 1 for reduce_zero_label"):
        check_dataset(
            _seg_dataset(tmp_path / 'c', labels, reduce_zero_label=True),
            'train')


def test_reduce_zero_label_of_a_set_with_background_warns(tmp_path, logged):
    """VOC with reduce_zero_label=True trained 'background' on the first
    object class and shifted every name by one, silently."""
    from mmswtat.engine.data_checks import check_dataset
    classes = ('background', 'cat', 'dog')
    ds = _seg_dataset(tmp_path, _labels(4, [1, 2]), 3, reduce_zero_label=True)
    ds._metainfo['classes'] = classes
    check_dataset(ds, 'train')
    said = [m for m in logged if 'reduce_zero_label=True' in m]
    assert said and ("class 0 of its classes is 'background'" in said[0]
                     and 'set reduce_zero_label=False' in said[0]), logged
    del logged[:]
    ds = _seg_dataset(tmp_path, _labels(4, [1, 2]), 3)  # the fix
    ds._metainfo['classes'] = classes
    check_dataset(ds, 'train')
    assert not any('reduce_zero_label' in m for m in logged)


def test_reduce_zero_label_differs_between_train_and_val(tmp_path):
    """val with reduce_zero_label=True, train without: validation scored
    the model against labels shifted by one class (exit 0)."""
    from mmswtat.engine.data_checks import check_splits_agree
    labels = _labels(2, [1])
    train = _seg_dataset(tmp_path / 't', labels)
    val = _seg_dataset(tmp_path / 'v', labels, reduce_zero_label=True)
    with pytest.raises(
            ValueError,
            match=r'the train dataset .* reduce_zero_label=False, but the '
            r'val dataset .* reduce_zero_label=True: .*shifted by one.*'
            'Set the same reduce_zero_label for every split'):
        check_splits_agree(train, val, 'val')
    check_splits_agree(train, _seg_dataset(tmp_path / 'v2', labels), 'val')


def test_concat_datasets_of_different_metainfo_name_the_setting():
    """Was mmengine's 'The meta information of the 2-th dataset does not
    match meta information of the first dataset'."""
    from mmswtat.engine.runner import DistillRunner
    part = dict(
        type='PascalVOCDataset', data_root='/nowhere', ann_file='a.txt')
    loader = dict(
        batch_size=1,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='ConcatDataset',
            datasets=[part, dict(part, reduce_zero_label=True)]))

    def fail(cfg, *args, **kwargs):
        raise ValueError('The meta information of the 2-th dataset does not '
                         'match meta information of the first dataset')

    from mmengine.registry import DATASETS
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DATASETS, 'build', fail)
        with pytest.raises(
                ValueError,
                match=r'the train dataset concatenates datasets whose '
                r'metainfo differs .*reduce_zero_label: datasets\[0\] '
                r'not set, datasets\[1\] True.*the same value in every '
                'one'):
            DistillRunner.build_dataloader(loader)


def test_binary_masks_0_255_warn_and_the_fix_works(tmp_path, logged):
    """Objects equal to the ignore index trained background only."""
    from mmswtat.engine.data_checks import check_dataset
    check_dataset(
        _seg_dataset(tmp_path / 'a', _labels(30, [255]), classes=2), 'train')
    warned = [m for m in logged if 'hold only class 0' in m]
    assert warned, logged
    assert ('the 20 label maps read (an even sample of at most 20: 00.png, '
            in warned[0] and 'write the objects as 1' in warned[0])
    del logged[:]
    fixed = [(m > 0).astype(np.uint8) for m in _labels(30, [255])]
    check_dataset(_seg_dataset(tmp_path / 'b', fixed, classes=2), 'train')
    assert not any('hold only' in m for m in logged)
    assert any('the label values of 20 label maps (an even sample' in m
               for m in logged)


def test_colour_and_16_bit_label_maps_are_named(tmp_path):
    from PIL import Image

    from mmswtat.engine.data_checks import check_dataset
    dataset = _seg_dataset(tmp_path, _labels(2, [1]))
    Image.new('RGB', (8, 8), (128, 0, 0)).save(tmp_path / 'ann' / '01.png')
    with pytest.raises(ValueError, match="01.png' in RGB .colour. mode"):
        check_dataset(dataset, 'train')
    Image.fromarray(np.full((8, 8), 300,
                            np.uint16)).save(tmp_path / 'ann' / '01.png')
    with pytest.raises(
            ValueError, match='value 300: mmseg reads label maps '
            'as 8 bits'):
        check_dataset(dataset, 'train')


# ------------------- distill_warmup_iters inside a recipe (list of fragments)
def test_warmup_in_a_recipe_fragment_as_long_as_the_run_warns(logged):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    check_train_schedule(
        Config(
            dict(
                train_cfg=dict(max_iters=120),
                model=dict(
                    type='mmswtat.SingleTeacherDistiller',
                    distill=[
                        dict(distill_losses=dict()),
                        dict(distill_warmup_iters=120)
                    ]))))
    assert any('distill_warmup_iters=120 >= train_cfg.max_iters=120' in m
               for m in logged)


def test_a_former_loss_name_is_no_config_difference_on_resume():
    """Configs that write KLDivLoss (the former name) and KDLoss resume
    each other's checkpoints; another loss type is still a difference."""
    from mmswtat.engine.resume_check import config_differences
    saved = ("model = dict(type='mmswtat.SingleTeacherDistiller', "
             "distill=dict(distill_losses=dict(loss_kd=dict("
             "type='mmswtat.KLDivLoss', tau=1.0))))")

    def model(loss_type):
        return dict(
            type='mmswtat.SingleTeacherDistiller',
            distill=dict(
                distill_losses=dict(loss_kd=dict(type=loss_type, tau=1.0))))

    assert config_differences(
        saved, model('mmswtat.KDLoss'), structural=True) == []
    (line, ) = config_differences(
        saved, model('mmswtat.DISTLoss'), structural=True)
    assert 'loss_kd.type' in line and 'DISTLoss' in line
