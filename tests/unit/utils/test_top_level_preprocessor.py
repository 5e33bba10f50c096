"""A distillation config's top-level ``data_preprocessor`` (crop,
mean/std, channel order) reaches the student; another type is an
error."""
import pytest
import torch
from seg_helpers import distiller_cfg, seg_batch

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def _crop_config(tmp_path, child_lines):
    """A distillation config inheriting a base that binds the student's
    preprocessor at 32x32, as mmseg configs bind it at 512x512."""
    import json

    from mmengine.config import Config
    base = distiller_cfg()
    pre = base['student']['data_preprocessor']
    (tmp_path / 'base.py').write_text(
        "default_scope = 'mmseg'\n"
        f'data_preprocessor = {json.dumps(pre)}\n'
        f'model = {json.dumps(base)}\n'.replace('null', 'None').replace(
            'true', 'True').replace('false', 'False'))
    (tmp_path / 'distill.py').write_text("_base_ = './base.py'\n" +
                                         child_lines)
    return Config.fromfile(str(tmp_path / 'distill.py'))


def test_top_level_crop_change_reaches_the_student(tmp_path):
    from mmswtat.utils import build_runner_model
    cfg = _crop_config(
        tmp_path, 'crop_size = (48, 48)\n'
        'data_preprocessor = dict(size=crop_size)\n')
    assert tuple(cfg.model.student.data_preprocessor.size) == (32, 32)
    torch.manual_seed(0)
    model = build_runner_model(cfg)
    assert tuple(model.data_preprocessor.size) == (48, 48)
    assert model.data_preprocessor is model.student.data_preprocessor
    batch = model.data_preprocessor(seg_batch(), True)  # 32x32 images
    assert batch['inputs'].shape[-2:] == (48, 48)  # padded to the new crop


def test_top_level_mean_std_and_channel_order_win(tmp_path):
    from mmswtat.utils import build_runner_model
    cfg = _crop_config(
        tmp_path, 'data_preprocessor = dict(mean=[0., 0., 0.]'
        ', std=[1., 1., 1.], bgr_to_rgb=False)\n')
    model = build_runner_model(cfg)
    pre = model.data_preprocessor
    assert pre.mean.flatten().tolist() == [0., 0., 0.]
    assert not pre.channel_conversion
    # The teacher (own preprocessor: the old statistics) gets the batch
    # re-normalised to its own.
    assert model.frozen_teacher._scale is not None


def test_top_level_preprocessor_of_another_type_is_an_error(tmp_path):
    from mmswtat.utils import build_runner_model
    cfg = _crop_config(
        tmp_path, "data_preprocessor = dict(_delete_=True, "
        "type='mmdet.DetDataPreprocessor')\n")
    with pytest.raises(
            ValueError,
            match=r'top-level data_preprocessor is a '
            r'DetDataPreprocessor, but model\.student\.data_'
            'preprocessor is a SegDataPreProcessor'):
        build_runner_model(cfg)
