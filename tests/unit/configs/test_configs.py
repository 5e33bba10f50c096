"""Configs parse, `mmswtat::` resolves from a user's project, registry
scopes."""
import glob
import os.path as osp

import pytest
from cli_helpers import ROOT
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

import mmswtat  # noqa: F401  (mmswtat:: scope)
from mmswtat.utils import resolve_config_path

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py')))


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_parses(path):
    cfg = Config.fromfile(path)
    if 'swtat' in path and '_base_' not in path:
        assert cfg.model.type == 'mmswtat.SingleTeacherDistiller'
        assert cfg.model.get('teacher_ckpt'), 'a distillation config ' \
            'names its teacher checkpoint'


def test_packaged_configs_resolve_with_scope(tmp_path):
    path = resolve_config_path('mmswtat::swtat/deeplabv3_r101_to_r18_voc.py')
    assert osp.samefile(
        path, osp.join(ROOT, 'configs/swtat/deeplabv3_r101_to_r18_voc.py'))
    user = tmp_path / 'my_config.py'
    user.write_text("_base_ = 'mmswtat::swtat/deeplabv3_r101_to_r18_voc.py'\n"
                    'train_cfg = dict(max_iters=10)\n')
    cfg = Config.fromfile(str(user))
    assert cfg.train_cfg.max_iters == 10
    assert cfg.model.type == 'mmswtat.SingleTeacherDistiller'
    with pytest.raises(FileNotFoundError, match='does not resolve|exist'):
        resolve_config_path('mmswtat::swtat/nope.py')


def test_readme_mixin_into_own_config_builds(tmp_path):
    """The README's recipe: own student config + fragment +
    {{_base_.model}}."""
    student = tmp_path / 'my_student.py'
    student.write_text("_base_ = 'mmswtat::students/"
                       "deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py'\n"
                       'model = dict(pretrained=None)\n')
    mine = tmp_path / 'my_distill.py'
    mine.write_text(
        "_base_ = ['./my_student.py', "
        "'mmswtat::_base_/distill/swtat_layer4_r101_to_r18.py']\n"
        "custom_imports = dict(imports=['mmswtat'], "
        'allow_failed_imports=False)\n'
        'model = dict(_delete_=True, '
        "type='mmswtat.SingleTeacherDistiller', "
        'student={{_base_.model}}, '
        "teacher=dict(cfg_path='mmseg::deeplabv3/"
        "deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py', pretrained=None), "
        'teacher_ckpt=None, distill={{_base_.swtat_layer4}})\n')
    cfg = Config.fromfile(str(mine))
    assert cfg.model.student.backbone.depth == 18
    init_default_scope(cfg.default_scope)
    from mmengine.registry import MODELS
    model = MODELS.build(cfg.model)
    assert set(model.distill_losses) == {'loss_swtat', 'loss_pmtat'}
    assert model.teacher.backbone.depth == 101


@pytest.mark.parametrize('scope', ['mmseg', 'mmdet', 'mmpretrain'])
def test_scoped_type_builds_from_any_default_scope(scope):
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        loss = MODELS.build(
            dict(
                type='mmswtat.SWTaTLoss',
                student_channels=8,
                teacher_channels=16))
    assert type(loss).__name__ == 'SWTaTLoss'
