"""Classification distillation with mmpretrain: ResNet-34 -> ResNet-18.

End to end on tiny synthetic ImageNet with the real config and tools:
train -> tools/test.py (top-1/top-5) -> export_student.py -> mmpretrain's own
installed tools/test.py with the stock ResNet-18 config (same predictions).
Model level: the ImageNet config at 224x224 (7x7 layer4, padded and shifted
windows, teacher run to head.fc), the CIFAR-100 config with a teacher
checkpoint, and the CIFAR-100 config through tools/train.py on image folders
(mmpretrain's CIFAR100 dataset md5-checks the real pickles, so synthetic
CIFAR files cannot be read). Our tools run in this process (their
``main(argv)``; test_seg.py runs each as a command); mmpretrain's own
test.py runs as a command.
"""
import os.path as osp
import pickle

import pytest
import torch
import torch.nn.functional as F
from cli_helpers import ROOT, metric, run_main, run_tool

from mmswtat.testing import as_cli
from mmswtat.testing.cls import cls_tiny_options

DISTILL = 'configs/swtat/resnet34_to_resnet18_in1k.py'
STUDENT = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
TEACHER = 'mmpretrain::resnet/resnet34_8xb32_in1k.py'
CIFAR = 'configs/swtat/resnet_cifar100.py'
CIFAR_TEACHER = 'mmswtat::students/resnet34_8xb16_cifar100.py'
NUM_CLASSES = 8
ITERS = 4


def save_teacher(cfg_path: str, path: str, **overrides) -> torch.nn.Module:
    """Build a randomly initialised classifier and save it as mmengine does."""
    from mmengine.registry import init_default_scope

    from mmswtat.models.distillers import load_model_cfg
    from mmswtat.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(
        load_model_cfg(dict(cfg_path=cfg_path, **overrides), 'teacher'))
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return model


def build_distiller(config: str, **overrides):
    """The distiller of a config as the runner builds it."""
    from mmengine.config import Config

    from mmswtat.utils import build_runner_model, resolve_config_path
    return build_runner_model(
        Config.fromfile(resolve_config_path(config)), **overrides)


def cls_batch(size: int, labels, seed: int = 0) -> dict:
    """A raw batch as an mmpretrain dataloader yields it."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    return dict(
        inputs=[
            torch.randint(
                0, 256, (3, size, size), generator=g, dtype=torch.uint8)
            for _ in labels
        ],
        data_samples=[DataSample().set_gt_label(k) for k in labels])


def spy_records(distiller) -> dict:
    """Keep copies of the records handed to the distillation losses."""
    seen = {}
    original = distiller.compute_distill_losses

    def spy(student_records, teacher_records, *labels):
        seen['student'] = dict(student_records)
        seen['teacher'] = dict(teacher_records)
        return original(student_records, teacher_records, *labels)

    distiller.compute_distill_losses = spy
    return seen


def kd_reference(student: torch.Tensor, teacher: torch.Tensor,
                 tau: float) -> torch.Tensor:
    """``tau^2 * KL(p_t || p_s)`` averaged over samples, via F.kl_div."""
    return F.kl_div(
        F.log_softmax(student.double() / tau, 1),
        F.log_softmax(teacher.double() / tau, 1),
        log_target=True,
        reduction='batchmean') * tau**2


# --------------------------------------------------------------- end to end
@pytest.fixture(scope='module')
def imagenet(tmp_path_factory):
    out = tmp_path_factory.mktemp('imagenet')
    run_main([
        'tools/make_synthetic_data.py', 'imagenet', '--out',
        str(out), '--num-train',
        str(2 * ITERS), '--num-val', '8', '--size', '64', '--num-classes',
        str(NUM_CLASSES)
    ])
    return str(out / 'imagenet')


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random ResNet-34 with an 8-class head, saved as mmpretrain would."""
    path = str(tmp_path_factory.mktemp('teacher') / 'resnet34.pth')
    save_teacher(TEACHER, path, head=dict(num_classes=NUM_CLASSES))
    return path


@pytest.fixture(scope='module')
def distilled(imagenet, teacher_ckpt, tmp_path_factory):
    work = tmp_path_factory.mktemp('distill_cls')
    opts = cls_tiny_options(
        DISTILL, imagenet, img_size=64, iters=ITERS, num_classes=NUM_CLASSES)
    opts['model.teacher_ckpt'] = teacher_ckpt
    proc = run_main([
        'tools/train.py', DISTILL, '--work-dir',
        str(work), '--cfg-options', *as_cli(opts)
    ])
    return work, proc.stdout + proc.stderr


def test_train_logs_task_and_distill_losses(distilled):
    work, log = distilled
    assert osp.isfile(work / 'epoch_1.pth')
    assert f'Epoch(train) [1][{ITERS}/{ITERS}]' in log
    for key in ('loss', 'loss_swtat', 'loss_kd', 'accuracy/top1',
                'accuracy/top5'):
        assert f' {key}: ' in log, key
    ckpt = torch.load(work / 'epoch_1.pth', weights_only=True)
    keys = ckpt['state_dict'].keys()
    assert not any(k.startswith('teacher') for k in keys)
    assert ckpt['state_dict']['student.head.fc.weight'].shape == (NUM_CLASSES,
                                                                  512)
    # The paper's form (embed=False): SW-TaT has no parameters to save.
    assert not any(k.startswith('distill_losses.') for k in keys)


def test_test_export_and_mmpretrain_own_tool(distilled, imagenet, tmp_path):
    work, _ = distilled
    ckpt = str(work / 'epoch_1.pth')
    ours_pkl, theirs_pkl = tmp_path / 'ours.pkl', tmp_path / 'theirs.pkl'
    ours = run_main([
        'tools/test.py', DISTILL, ckpt, '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(ours_pkl), '--cfg-options', *as_cli(
            cls_tiny_options(
                DISTILL, imagenet, img_size=64, num_classes=NUM_CLASSES))
    ])
    log = ours.stdout + ours.stderr
    top1, top5 = metric(log, 'accuracy/top1'), metric(log, 'accuracy/top5')
    assert 0.0 <= top1 <= top5 <= 100.0

    exported = str(tmp_path / 'student.pth')
    run_main(['tools/export_student.py', ckpt, exported])
    state = torch.load(exported, weights_only=True)['state_dict']
    assert state and not any(
        k.startswith(('student.', 'teacher.', 'distill_losses.'))
        for k in state)
    assert 'head.fc.weight' in state and 'backbone.layer4.1.conv2.weight' in \
        state

    import mmpretrain
    mim = osp.join(osp.dirname(mmpretrain.__file__), '.mim')
    stock_student = osp.join(mim, 'configs', 'resnet',
                             'resnet18_8xb32_in1k.py')
    theirs = run_tool([
        osp.join(mim, 'tools', 'test.py'), stock_student, exported,
        '--work-dir',
        str(tmp_path / 'test_mmpre'), '--out',
        str(theirs_pkl), '--out-item', 'pred', '--cfg-options', *as_cli(
            cls_tiny_options(
                STUDENT, imagenet, img_size=64, num_classes=NUM_CLASSES))
    ])
    log = theirs.stdout + theirs.stderr
    assert metric(log, 'accuracy/top1') == top1
    assert metric(log, 'accuracy/top5') == top5
    # Not just the same accuracy: the same scores for every image.
    with open(ours_pkl, 'rb') as f:
        ours_pred = {p['img_path']: p for p in pickle.load(f)}
    with open(theirs_pkl, 'rb') as f:
        theirs_pred = {p['img_path']: p for p in pickle.load(f)}
    assert len(ours_pred) == 8 and ours_pred.keys() == theirs_pred.keys()
    for path, pred in ours_pred.items():
        torch.testing.assert_close(pred['pred_score'],
                                   theirs_pred[path]['pred_score'])


# -------------------------------------------------------------- model level
def test_in1k_config_at_224_distils_layer4_windows_and_logits():
    """The real ImageNet config: 7x7 layer4 maps, 4 padded windows shifted by
    2, teacher run in tensor mode and stopped right after head.fc."""
    from mmswtat.models.ops.window import window_geometry
    distiller = build_distiller(DISTILL, teacher_ckpt=None)
    swtat = distiller.distill_losses['loss_swtat']
    geom = window_geometry(7, 7, swtat.window_size, swtat.shift_size)
    assert (geom.num_windows, geom.padded, geom.shifted) == (4, True, True)
    assert (geom.hp, geom.wp, geom.sh, geom.sw) == (8, 8, 2, 2)

    teacher = distiller.teacher
    calls = dict(fc=0, head=0)
    teacher.head.fc.register_forward_hook(  # before the recorder's hook
        lambda *_: calls.__setitem__('fc', calls['fc'] + 1),
        prepend=True)
    teacher.head.register_forward_hook(
        lambda *_: calls.__setitem__('head', calls['head'] + 1))
    seen = spy_records(distiller)
    batch = distiller.data_preprocessor(cls_batch(224, [3, 999]), True)
    distiller.train()
    losses = distiller(**batch, mode='loss')
    assert set(losses) == {'loss', 'loss_swtat', 'loss_kd'}
    assert calls == dict(fc=1, head=0)  # head.forward did not return
    for role in ('student', 'teacher'):
        assert seen[role]['feat'].shape == (2, 512, 7, 7), role
        assert seen[role]['logits'].shape == (2, 1000), role
    assert not seen['teacher']['logits'].requires_grad

    # The recorded teacher logits are the classifier's own output.
    with torch.no_grad():
        logits = teacher(batch['inputs'], mode='tensor')
    torch.testing.assert_close(seen['teacher']['logits'], logits)
    kd = distiller.distill_losses['loss_kd']
    torch.testing.assert_close(
        losses['loss_kd'].double(),
        kd.loss_weight *
        kd_reference(seen['student']['logits'], logits, kd.tau),
        rtol=1e-5,
        atol=1e-6)

    sum(losses.values()).backward()
    assert distiller.student.head.fc.weight.grad.abs().sum() > 0
    assert distiller.student.backbone.layer4[0].conv1.weight.grad.abs().sum(
    ) > 0
    assert not swtat.embed and not list(swtat.parameters())  # paper's form
    assert all(p.grad is None for p in teacher.parameters())


def test_cifar100_config_loads_teacher_and_distils(tmp_path):
    path = str(tmp_path / 'r34_cifar100.pth')
    saved = save_teacher(CIFAR_TEACHER, path)
    distiller = build_distiller(CIFAR, teacher_ckpt=path)
    assert distiller.student.backbone.depth == 18
    assert distiller.teacher.backbone.depth == 34
    for name, value in saved.state_dict().items():
        torch.testing.assert_close(
            distiller.teacher.state_dict()[name], value, msg=name)
    seen = spy_records(distiller)
    batch = distiller.data_preprocessor(cls_batch(32, [5, 99]), True)
    distiller.train()
    losses = distiller(**batch, mode='loss')
    assert set(losses) == {'loss', 'loss_swtat', 'loss_kd'}
    assert seen['teacher']['feat'].shape == (2, 512, 4, 4)
    assert seen['student']['logits'].shape == (2, 100)
    kd = distiller.distill_losses['loss_kd']
    assert kd.tau == 4.0
    torch.testing.assert_close(
        losses['loss_kd'].double(),
        kd.loss_weight * kd_reference(seen['student']['logits'],
                                      seen['teacher']['logits'], kd.tau),
        rtol=1e-5,
        atol=1e-6)
    sum(losses.values()).backward()
    assert distiller.student.head.fc.weight.grad.abs().sum() > 0


def test_cifar100_config_trains_through_tools(tmp_path):
    """tools/train.py with the CIFAR-100 config, its CIFAR100 datasets
    swapped for image folders (CIFAR100 insists on the real md5s); the
    pipelines, model, schedule and hooks are the config's."""
    from mmengine.config import Config

    from mmswtat.utils import resolve_config_path
    root = tmp_path / 'data'
    run_main([
        'tools/make_synthetic_data.py', 'imagenet', '--out',
        str(root), '--num-train', '4', '--num-val', '4', '--size', '32',
        '--num-classes', '4'
    ])
    cfg = Config.fromfile(resolve_config_path(CIFAR))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[loader].dataset
        assert ds.type == 'CIFAR100'
        split = 'train' if ds.split == 'train' else 'val'
        cfg[loader].dataset = dict(
            type='CustomDataset',
            data_root=str(root / 'imagenet'),
            ann_file=f'meta/{split}.txt',
            data_prefix=split,
            pipeline=[dict(type='LoadImageFromFile')] + list(ds.pipeline))
    config = str(tmp_path / 'resnet_cifar100_folders.py')
    cfg.dump(config)
    teacher = str(tmp_path / 'r34_cifar100.pth')
    save_teacher(CIFAR_TEACHER, teacher)
    # Labels 0..3 index the 100-class heads: keep num_classes=100.
    opts = cls_tiny_options(
        config, str(root / 'imagenet'), img_size=32, iters=2, num_classes=100)
    opts['model.teacher_ckpt'] = teacher
    work = tmp_path / 'work'
    proc = run_main([
        'tools/train.py', config, '--work-dir',
        str(work), '--cfg-options', *as_cli(opts)
    ])
    log = proc.stdout + proc.stderr
    assert 'Epoch(train) [1][2/2]' in log
    for key in ('loss', 'loss_swtat', 'loss_kd', 'accuracy/top1'):
        assert f' {key}: ' in log, key
    assert osp.isfile(work / 'epoch_1.pth')


# ------------------------------------------------------------------ helper
def test_cls_tiny_options_reads_the_configs():
    opts = cls_tiny_options(
        DISTILL, '/data', img_size=48, iters=3, num_classes=8, batch_size=2)
    assert opts['train_dataloader.dataset.indices'] == 6
    assert opts['train_cfg.max_epochs'] == 1
    assert opts['model.student.head.num_classes'] == 8
    assert opts['model.teacher.head.num_classes'] == 8
    assert opts['data_preprocessor.num_classes'] == 8
    assert opts['val_evaluator.topk'] == (1, 5)
    assert opts['train_dataloader.dataset.pipeline.1.scale'] == 48  # RRC
    assert opts['test_dataloader.dataset.pipeline.1.scale'] == 55  # 256/224
    assert opts['test_dataloader.dataset.pipeline.2.crop_size'] == 48
    assert opts['val_dataloader.dataset.data_root'] == '/data'
    # Fewer classes than 5: top-5 is dropped; a plain config's own head.
    plain = cls_tiny_options(STUDENT, '/data', num_classes=3)
    assert plain['test_evaluator.topk'] == (1, )
    assert plain['model.head.num_classes'] == 3
    assert not any(k.startswith('model.student') for k in plain)
    cifar = cls_tiny_options(CIFAR, '/data', img_size=32, num_classes=100)
    assert cifar['train_dataloader.dataset.pipeline.0.crop_size'] == 32
    assert cifar['val_evaluator.topk'] == (1, )
    assert cifar['model.teacher.head.num_classes'] == 100


def test_cls_tiny_options_needs_dict_roles(tmp_path):
    config = tmp_path / 'bare.py'
    config.write_text(
        f"_base_ = '{osp.join(ROOT, DISTILL)}'\n"
        "model = dict(teacher='mmpretrain::resnet/resnet34_8xb32_in1k.py')\n")
    with pytest.raises(ValueError, match='dict\\(cfg_path='):
        cls_tiny_options(str(config), '/data')
