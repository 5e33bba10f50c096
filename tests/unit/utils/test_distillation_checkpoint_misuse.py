"""A distillation checkpoint given where another kind is expected: as
a teacher, to --resume a plain or other config, to test.py with a
plain config."""

import pytest
import torch
from seg_helpers import distill_state, distiller_cfg, tiny_seg_model

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def test_teacher_checkpoint_with_no_key_loading_fails_even_non_strict(
        tmp_path):
    from mmengine.registry import init_default_scope

    from mmswtat.registry import MODELS
    from mmswtat.utils.checkpoint import load_weights
    _, path = distill_state(tmp_path)
    init_default_scope('mmseg')
    teacher = MODELS.build(tiny_seg_model(50))
    for strict in (True, False):
        with pytest.raises(
                RuntimeError,
                match='none of its .* keys loads.*'
                'distillation checkpoint.*export_student'):
            load_weights(teacher, path, 'teacher', strict=strict)


# --------------------------------------------- resume checks what it resumes
def test_resume_refuses_plain_and_other_config_checkpoints(tmp_path):
    from mmengine.registry import init_default_scope

    from mmswtat.engine.resume_check import check_resume
    from mmswtat.registry import MODELS
    model, path = distill_state(tmp_path)
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
    trained, path = distill_state(tmp_path)
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
