"""tools/make_distill_config.py: probe, match, write; then train the output.

Five pairs from three codebases are generated with the real CLI and each
generated config is trained for 2 iterations on tiny synthetic data in the
real formats (only data, sizes and iterations are overridden, as for the
shipped configs). DeepLabV3 R101 -> R18 and RetinaNet R101 -> R50 must come
out as the shipped fragments.
"""
import os.path as osp

import pytest
from cli_helpers import ROOT, run_main, run_tool
from mmengine.config import Config

from mmswtat.config_gen import (MatchError, choose_window, make_distill_config,
                                match)
from mmswtat.config_gen.probe import Feature, ModelProbe
from mmswtat.config_gen.render import format_value
from mmswtat.testing import seg_tiny_options
from mmswtat.testing.cls import cls_tiny_options
from mmswtat.testing.det import det_tiny_options

SEG_R18 = 'mmswtat::students/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py'
SEG_R101 = 'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py'
PSP_R101 = 'mmseg::pspnet/pspnet_r101-d8_4xb4-20k_voc12aug-512x512.py'
RETINA_R50 = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
RETINA_R101 = 'mmdet::retinanet/retinanet_r101_fpn_1x_coco.py'
FASTER_R101 = 'mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py'
MOBILENET = 'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py'
RESNET50 = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'
# name: (student, teacher, task[, method])
PAIRS = {
    'deeplab': (SEG_R18, SEG_R101, 'seg'),
    'psp': (SEG_R18, PSP_R101, 'seg', 'swtat'),
    'retina': (RETINA_R50, RETINA_R101, 'det'),
    'faster_retina': (RETINA_R50, FASTER_R101, 'det'),
    'cls': (MOBILENET, RESNET50, 'cls'),
    'deeplab_layer4': (SEG_R18, SEG_R101, 'seg', 'swtat'),
    'deeplab_swtat_head': (SEG_R18, SEG_R101, 'seg', 'swtat_head+cwd'),
}


def fragment(name: str, key: str) -> dict:
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/distill', name))
    return cfg[key].to_dict()


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    """{pair: (config file, Config)}: the first pair through the CLI, the
    others in this process (same code, no interpreter start per pair)."""
    out_dir = tmp_path_factory.mktemp('generated')
    out = {}
    for i, (name, (student, teacher, _, *method)) in enumerate(PAIRS.items()):
        path = str(out_dir / f'{name}.py')
        if i == 0:
            run_tool([
                'tools/make_distill_config.py', student, teacher, '--out', path
            ])
        else:
            with open(path, 'w') as f:
                f.write(make_distill_config(student, teacher, *method))
        out[name] = (path, Config.fromfile(path))
    return out


# ----------------------------------------------------------------- choices
def test_deeplabv3_r101_to_r18_reproduces_the_shipped_config(generated):
    """The default for a segmentation pair: the shipped recipe
    (mmswtat.recipes.SHIPPED_RECIPE: CWD on the logits), as the shipped VOC
    config has it (there a list of one fragment, replacing the layer4
    config's SW-TaT fragment)."""
    from mmswtat.recipes import SHIPPED_RECIPE
    assert SHIPPED_RECIPE['recipe'] == 'cwd'
    path, cfg = generated['deeplab']
    shipped = Config.fromfile(
        osp.join(ROOT, 'configs/swtat/deeplabv3_r101_to_r18_voc.py'))
    assert cfg.model.distill.to_dict() == fragment('cwd_logits_r101_to_r18.py',
                                                   'cwd_logits')
    assert [cfg.model.distill] == shipped.model.distill
    for key in ('type', 'student', 'teacher_ckpt'):
        assert cfg.model[key] == shipped.model[key], key
    assert cfg.model.teacher.to_dict() == dict(
        cfg_path=SEG_R101, pretrained=None)
    assert cfg.model.teacher_forward == 'auto'
    # inherits the student's data, schedule and runtime
    assert cfg.train_cfg == shipped.train_cfg
    assert cfg.crop_size == (512, 512)
    text = open(path).read()
    assert "Method 'cwd'" in text and 'weight 3' in text


def test_swtat_head_recipe_is_one_method_away(generated):
    """The former default: SW-TaT on the decode head's last feature + CWD."""
    path, cfg = generated['deeplab_swtat_head']
    assert [d.to_dict() for d in cfg.model.distill] == [
        fragment('swtat_head_r101_to_r18.py', 'swtat_head'),
        fragment('cwd_logits_r101_to_r18.py', 'cwd_logits')
    ]
    text = open(path).read()
    assert 'decode_head.bottleneck: 512 ch, stride 8 (64x64 at 512x512)' \
        in text
    assert 'Matched by stride' not in text
    assert "mode='tensor' (a recorded module is outside backbone/neck)" in text
    assert 'right after the last of decode_head.bottleneck,' in text


def test_layer4_method_reproduces_the_layer4_config(generated):
    path, cfg = generated['deeplab_layer4']
    shipped = Config.fromfile(
        osp.join(ROOT, 'configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py'))
    assert cfg.model.distill.to_dict() == fragment(
        'swtat_layer4_r101_to_r18.py', 'swtat_layer4')
    assert cfg.model.distill == shipped.model.distill
    text = open(path).read()
    assert 'backbone.layer4: 2048 ch, stride 8 (64x64 at 512x512)' in text
    assert 'stops right after backbone.layer4' in text


def test_recipe_errors():
    from mmswtat.config_gen import build_distill
    from mmswtat.config_gen.match import Pair, Plan
    feat = Feature('backbone.layer4', 64, 8)
    plan = Plan('dense', [Pair(feat, feat)], None, (64, 64))
    with pytest.raises(
            ValueError,
            match=r"\['swtat', 'tat'\] all distil "
            'the same matched map'):
        build_distill(plan, 'swtat+tat', 'seg')
    with pytest.raises(ValueError, match="decode head's last feature"):
        build_distill(plan, 'swtat_head', 'seg')
    with pytest.raises(
            ValueError,
            match=r"\['cwd'\] cannot be used here; "
            'choose from swtat, swtat_nopm, tat, fitnet,'):
        build_distill(plan, 'swtat+cwd', 'det')
    distill, notes = build_distill(plan, 'fitnet', 'seg')
    assert distill['distill_losses'] == dict(
        loss_fitnet=dict(type='mmswtat.FeatureMSELoss', loss_weight=1.0))


def test_pspnet_teacher_matches_layer4_through_a_connector(generated):
    distill = generated['psp'][1].model.distill
    assert distill.teacher_recorders == dict(feat='backbone.layer4')
    assert distill.connectors.s4.in_channels == 512
    assert distill.distill_losses.loss_swtat.window_size == 8


def test_retinanet_pair_reproduces_the_shipped_fpn_fragment(generated):
    cfg = generated['retina'][1]
    assert cfg.model.distill.to_dict() == fragment('swtat_fpn.py', 'swtat_fpn')
    assert cfg.model.teacher.backbone == dict(init_cfg=None)


def test_faster_rcnn_to_retinanet_pairs_levels_by_stride(generated):
    distill = generated['faster_retina'][1].model.distill
    mapping = distill.loss_forward_mappings.loss_swtat
    # RetinaNet P3..P6 <- Faster R-CNN P3..P6 (strides 8..64)
    assert mapping.student.index == [0, 1, 2, 3]
    assert mapping.teacher.index == [1, 2, 3, 4]
    # The shipped FPN form on each paired level (swtat_fpn.py).
    assert set(distill.distill_losses) == {'loss_swtat'}
    sw = distill.distill_losses.loss_swtat
    assert (sw.window_size, sw.normalize, sw.loss_weight) == ('auto', 'self',
                                                              6.0)
    assert 'connectors' not in distill  # 256 = 256


def test_classifiers_get_a_connector_windows_and_kd(generated):
    cfg = generated['cls'][1]
    distill = cfg.model.distill
    assert distill.student_recorders == dict(
        feat='backbone.conv2', logits='head.fc')
    assert distill.teacher_recorders == dict(
        feat='backbone.layer4', logits='head.fc')
    assert distill.connectors.proj.to_dict() == dict(
        type='mmswtat.ConvBNConnector', in_channels=1280, out_channels=2048)
    sw = distill.distill_losses.loss_swtat
    assert (sw.window_size, sw.shift_size) == (4, 2)  # 7x7 map at 224
    assert distill.distill_losses.loss_kd.type == 'mmswtat.KDLoss'
    assert distill.loss_forward_mappings.loss_kd == dict(
        student='logits', teacher='logits')
    assert 'loss_pmtat' not in distill.distill_losses


@pytest.mark.parametrize('size,expected',
                         [((64, 64), (8, 4)), ((7, 7), (4, 2)),
                          ((13, 21), (8, 4)), ((4, 4), (2, 1)),
                          ((2, 3), (2, 0)), ((100, 167), (8, 4))])
def test_window_choice(size, expected):
    assert choose_window(size)[:2] == expected


def _probe(name: str, strides, task='det') -> ModelProbe:
    return ModelProbe(
        name,
        'mmdet',
        task, (800, 1333),
        'test',
        stages=[Feature('backbone.layer1', 64, 4)],
        neck=[Feature('neck', 256, s, i) for i, s in enumerate(strides)])


def test_no_common_stride_lists_both_sides():
    with pytest.raises(MatchError) as err:
        match(_probe('s.py', (4, 8)), _probe('t.py', (16, 32, 64)))
    msg = str(err.value)
    assert 'no output level of a common stride' in msg
    assert 'student (s.py)' in msg and 'teacher (t.py)' in msg
    assert 'neck[1]: 256 ch, stride 8' in msg
    assert 'neck[2]: 256 ch, stride 64' in msg


def test_classifier_against_a_dense_model_is_refused():
    student = _probe('s.py', (8, ), task='cls')
    with pytest.raises(MatchError, match='a cls student and a det teacher'):
        match(student, _probe('t.py', (8, )))


def test_unknown_method_exits_with_the_choices(tmp_path):
    proc = run_main([
        'tools/make_distill_config.py', SEG_R18, SEG_R101, '--method', 'nope'
    ],
                    check=False)
    assert proc.returncode != 0
    assert 'unknown method' in proc.stderr
    assert ('choose from swtat, swtat_head, swtat_nopm, tat, fitnet, '
            'fitnet_head, cwd') in proc.stderr


def test_format_value_round_trips():
    value = dict(
        a=dict(b=[1, 2.5, 'x' * 60], c=None, d=(3, ), e=True),
        f='auto',
        g=dict(h=dict(i=[0.25] * 12)))
    text = format_value(value, 0, 'v = ')
    assert eval(text) == value
    assert max(len(line) for line in text.splitlines()) <= 79
    assert format_value(dict(a=1)) == 'dict(a=1)'


# --------------------------------------------------------------- training
@pytest.fixture(scope='module')
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp('data')
    for kind, extra in (('voc', []), ('coco', []), ('imagenet',
                                                    ['--num-classes', '8'])):
        run_main([
            'tools/make_synthetic_data.py', kind, '--out',
            str(out), '--num-train', '4', '--num-val', '2', '--size', '64',
            *extra
        ])
    return dict(
        seg=str(out / 'VOCdevkit' / 'VOC2012'),
        det=str(out / 'coco') + '/',
        cls=str(out / 'imagenet'))


@pytest.mark.parametrize('name', list(PAIRS))
def test_generated_config_trains(name, generated, data, tmp_path):
    """2 iterations with the runner tools/train.py builds (in process)."""
    from mmswtat.utils import load_tool_config
    from mmswtat.utils.cli import build_runner
    path = generated[name][0]
    task = PAIRS[name][2]
    if task == 'seg':
        opts = seg_tiny_options(path, data['seg'], iters=2)
    elif task == 'det':
        opts = det_tiny_options(
            path,
            data['det'],
            img_size=64,
            iters=2,
            proposals=32,
            validate=False)
    else:
        opts = cls_tiny_options(
            path, data['cls'], img_size=64, iters=2, num_classes=8)
        opts['train_cfg.val_begin'] = 2  # no validation
    opts['model.teacher_ckpt'] = None  # random teacher: no download
    cfg = load_tool_config(path, opts, str(tmp_path))
    runner = build_runner(cfg)
    runner.train()
    logged = runner.message_hub.log_scalars
    assert runner.iter == 2
    expected = ['loss_swtat'] + dict(
        cls=['loss_kd'], seg=['loss_pmtat'], det=[])[task]
    if name == 'deeplab':
        expected = ['loss_cwd']
    if name == 'deeplab_swtat_head':
        expected = ['loss_swtat_head', 'loss_pmtat_head', 'loss_cwd']
    for key in expected:
        value = logged[f'train/{key}'].current()
        assert value > 0 and value == value, (key, value)
