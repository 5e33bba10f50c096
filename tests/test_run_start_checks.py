"""Issue 29 (B, C, F): what a run starts from is checked before training.

``load_from`` of which no weight fits, a ``--resume`` checkpoint that
disagrees with the config about the run, label maps with values the model
cannot take. Each test fails without its check; all run on tiny CPU runs.
"""
import os.path as osp

import pytest
import torch
from seg_helpers import distiller_cfg, tiny_seg_model

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(autouse=True)
def mmseg_scope():
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')


@pytest.fixture
def logged(monkeypatch):
    """Messages of ``mmengine.logging.print_log`` (level >= INFO)."""
    import mmengine.logging
    out = []
    real = mmengine.logging.print_log

    def capture(msg, logger=None, level=20):
        if level >= 20:
            out.append(str(msg))
        return real(msg, logger=logger, level=level)

    monkeypatch.setattr(mmengine.logging, 'print_log', capture)
    return out


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


# ------------------------------------------------- B: load_from is checked
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


def test_partial_load_from_loads_and_says_how_much(tmp_path, logged):
    """Fine-tuning with another head: loads as mmengine does, one line."""
    ckpt = _save(
        _build(tiny_seg_model(18, num_classes=4)), tmp_path / 'c4.pth')
    runner = _runner(
        tmp_path / 'w', tiny_seg_model(18, num_classes=7), load_from=ckpt)
    runner.load_or_resume()
    assert any('load_from: ' in m and 'keep their initial values' in m
               and 'decode_head.conv_seg.weight' in m for m in logged)
