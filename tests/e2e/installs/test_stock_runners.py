"""Our configs with the codebases' own installed tools/train.py.

Many users launch training with mmseg's or mmdet's `tools/train.py` (shipped
in their `.mim/tools`), which parse the config before its `custom_imports`
run. Shipped configs (relative and mmseg::/mmdet:: bases) train there from
the source tree; the README's mix-in recipe (an `mmswtat::` base) needs the
`mmswtat-config-scope.pth` that `pip install` (regular or -e) puts in
site-packages, so it is run in a freshly installed venv. 2 iterations each on
tiny synthetic data.
"""
import os.path as osp
import textwrap

import mmdet
import mmseg
import pytest
from cli_helpers import ROOT, run_main, run_tool
from install_helpers import run_in_env

from mmswtat.testing import as_cli, seg_tiny_options
from mmswtat.testing.det import det_tiny_options

MMSEG_TRAIN = osp.join(
    osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
MMDET_TRAIN = osp.join(
    osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py')
SEG_SHIPPED = osp.join(ROOT,
                       'configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py')
DET_SHIPPED = osp.join(ROOT,
                       'configs/swtat/retinanet_r101_to_r50_fpn_1x_coco.py')
# The README's "Mix SW-TaT into your own config" recipe, verbatim apart from
# the checkpoint (set on the command line).
STUDENT = textwrap.dedent("""
    _base_ = 'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py'
    model = dict(
        pretrained='open-mmlab://resnet18_v1c',
        backbone=dict(depth=18),
        decode_head=dict(in_channels=512, channels=128),
        auxiliary_head=dict(in_channels=256, channels=64))
    """)
RECIPE = textwrap.dedent("""
    _base_ = ['./my_deeplabv3_r18_config.py',
              'mmswtat::_base_/distill/swtat_layer4_r101_to_r18.py']
    custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)

    model = dict(
        _delete_=True,
        type='mmswtat.SingleTeacherDistiller',
        student={{_base_.model}},
        teacher=dict(cfg_path='mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py'),  # noqa: E501
        teacher_ckpt='https://download.openmmlab.com/...pth',
        distill={{_base_.swtat_layer4}})
    """)


def _trained(log: str, losses) -> None:
    assert 'Iter(train) [2/2]' in log or 'Epoch(train) [1][2/2]' in log, \
        log[-3000:]
    for key in losses:
        assert f'{key}:' in log, key


def test_mmseg_train_py_trains_the_shipped_config(voc, teacher_ckpt, tmp_path):
    opts = seg_tiny_options(SEG_SHIPPED, voc, iters=2)
    opts['model.teacher_ckpt'] = teacher_ckpt
    proc = run_tool([
        MMSEG_TRAIN, SEG_SHIPPED, '--work-dir',
        str(tmp_path), '--cfg-options', *as_cli(opts)
    ])
    _trained(proc.stdout + proc.stderr, ('decode.loss_ce', 'loss_swtat'))


def test_mmdet_train_py_trains_the_shipped_config(tmp_path):
    data = tmp_path / 'data'
    run_main([
        'tools/make_synthetic_data.py', 'coco', '--out',
        str(data), '--num-train', '4', '--num-val', '2', '--size', '64'
    ])
    opts = det_tiny_options(
        DET_SHIPPED,
        str(data / 'coco') + '/',
        img_size=64,
        iters=2,
        validate=False)
    opts['model.teacher_ckpt'] = None  # random teacher
    # Tiny widths: R18 backbones on both sides (the FPNs stay 256 wide, as
    # the losses expect); test_det.py and the RetinaNet loss step there
    # run the full-width detectors.
    for role in ('student', 'teacher'):
        opts[f'model.{role}.backbone.depth'] = 18
        opts[f'model.{role}.neck.in_channels'] = [64, 128, 256, 512]
    proc = run_tool([
        MMDET_TRAIN, DET_SHIPPED, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *as_cli(opts)
    ])
    _trained(proc.stdout + proc.stderr, ('loss_cls', 'loss_swtat'))


@pytest.fixture(scope='module')
def recipe(tmp_path_factory):
    where = tmp_path_factory.mktemp('recipe')
    (where / 'my_deeplabv3_r18_config.py').write_text(STUDENT)
    (where / 'my_distill_config.py').write_text(RECIPE)
    return str(where / 'my_distill_config.py')


def test_readme_recipe_trains_with_mmseg_train_py_when_installed(
        recipe, voc, teacher_ckpt, installed_env, tmp_path):
    _, _, python = installed_env('regular')  # shared with test_hub.py
    opts = seg_tiny_options(recipe, voc, iters=2)
    opts['model.teacher_ckpt'] = teacher_ckpt
    proc = run_in_env(
        python, [
            MMSEG_TRAIN, recipe, '--work-dir',
            str(tmp_path / 'work'), '--cfg-options', *as_cli(opts)
        ],
        cwd=str(tmp_path))
    _trained(proc.stdout + proc.stderr,
             ('decode.loss_ce', 'loss_swtat', 'loss_pmtat'))
