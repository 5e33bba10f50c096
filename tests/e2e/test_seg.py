"""End to end on tiny synthetic VOC with the real configs and tools.

The shipped VOC config is a recipe (CWD on the logits, a list of one
fragment replacing the layer4 config's SW-TaT); the pure layer4 config is
trained by the other e2e tests, SW-TaT(head) + CWD by the generator's
(tests/e2e/test_config_gen.py).

train (distillation config) -> tools/test.py -> export_student.py ->
mmseg's own installed tools/test.py with the stock-style student config.
Here each of our tools runs as a command (the entry points); the other e2e
tests call their ``main(argv)`` in process.
"""
import os.path as osp

import pytest
import torch
from cli_helpers import ROOT, metric, run_main, run_tool

from mmswtat.testing import as_cli, seg_tiny_options

DISTILL = 'configs/swtat/deeplabv3_r101_to_r18_voc.py'
STUDENT = 'configs/students/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py'
ITERS = 4


@pytest.fixture(scope='module')
def distilled(voc, teacher_ckpt, tmp_path_factory):
    work = tmp_path_factory.mktemp('distill')
    opts = seg_tiny_options(DISTILL, voc, iters=ITERS)
    opts['model.teacher_ckpt'] = teacher_ckpt
    proc = run_tool([
        'tools/train.py', DISTILL, '--work-dir',
        str(work), '--cfg-options', *as_cli(opts)
    ])
    return work, proc.stdout + proc.stderr


def test_train_logs_task_and_distill_losses(distilled):
    work, log = distilled
    assert osp.isfile(work / f'iter_{ITERS}.pth')
    for key in ('decode.loss_ce', 'aux.loss_ce', 'loss_cwd'):
        assert key + ':' in log, key
    assert 'loss_swtat:' not in log  # the list replaced layer4's SW-TaT
    ckpt = torch.load(work / f'iter_{ITERS}.pth', weights_only=True)
    keys = ckpt['state_dict'].keys()
    assert not any(k.startswith('teacher') for k in keys)
    assert any(k.startswith('student.backbone.layer4') for k in keys)
    assert not any(k.startswith('connectors.') for k in keys)


def test_test_export_and_mmseg_own_tool(distilled, voc, tmp_path):
    work, _ = distilled
    ckpt = str(work / f'iter_{ITERS}.pth')
    ours = run_tool([
        'tools/test.py', DISTILL, ckpt, '--work-dir',
        str(tmp_path / 'test'), '--cfg-options',
        *as_cli(seg_tiny_options(DISTILL, voc))
    ])
    miou = metric(ours.stdout + ours.stderr, 'mIoU')
    assert 0.0 <= miou <= 100.0

    exported = str(tmp_path / 'student.pth')
    run_tool(['tools/export_student.py', ckpt, exported])
    state = torch.load(exported, weights_only=True)['state_dict']
    assert state and not any(
        k.startswith(('student.', 'teacher.', 'distill_losses.'))
        for k in state)

    import mmseg
    mmseg_test = osp.join(
        osp.dirname(mmseg.__file__), '.mim', 'tools', 'test.py')
    theirs = run_tool([
        mmseg_test,
        osp.join(ROOT, STUDENT), exported, '--work-dir',
        str(tmp_path / 'test_mmseg'), '--cfg-options',
        *as_cli(seg_tiny_options(STUDENT, voc))
    ])
    assert metric(theirs.stdout + theirs.stderr, 'mIoU') == miou


def test_export_refuses_a_plain_checkpoint(teacher_ckpt, tmp_path):
    proc = run_main(
        ['tools/export_student.py', teacher_ckpt,
         str(tmp_path / 'x.pth')],
        check=False)
    assert proc.returncode != 0
    assert 'is not a distillation checkpoint' in proc.stderr
