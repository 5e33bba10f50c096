"""mmengine configs of the detection benchmark, derived from the shipped ones.

Networks: mmdet's stock RetinaNet R50-FPN config with

- the backbone shrunk as the segmentation benchmark does
  (:class:`~.settings.NetSettings`: ``depth``, ``base_channels`` and
  ``stem_channels``), with the deep stem of ``ResNetV1c`` so that the
  cached digit-classification pretraining
  (:func:`~.pretrain.pretrain_backbone`, an mmseg ``ResNetV1c``) loads into
  it key for key;
- the FPN's input channels following the backbone, its output
  (``neck_channels``) the same for teacher and student, as in every stock
  mmdet FPN config (R101 and R50 both 256), so the shipped FPN fragments
  need no connector;
- the head's ``feat_channels`` from ``NetSettings.head_channels`` (the
  teacher's head wider too) and 10 classes;
- anchors at ``anchor_scale`` times the stride instead of 4 (the stock
  smallest anchor, 32 px, is sized for 800-px COCO images; the digits here
  are 11-60 px boxes, see :class:`~mmswtat.benchmark.data.digit_det_scenes.
  DigitDetSettings`).

Runs: that config's runtime with the digit-scene COCO loaders, the 1x
schedule (SGD, linear warm-up, two steps) shortened to iterations, no
flip (a mirrored digit is another shape), no validation during training and
the val split as test set, scored by ``CocoMetric``.
"""
import copy
import functools
import math
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, Optional

from mmengine.config import Config

from mmswtat.benchmark.data.digit_det_scenes import (DIGIT_DET_CLASSES,
                                                     FpnLevels)
from mmswtat.recipes import (COMPONENTS, DEFAULT_METHODS, canonical_name,
                             components_for, sweep_variants, swtat_variant)
from .configs import set_runtime
from .methods import _fragment, drop_losses
from .settings import HALF_WIDTH, QUARTER_WIDTH, NetSettings, TrainSettings

RETINANET_CONFIG = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'


@dataclass(frozen=True)
class DetNetSettings:
    """The two detectors of the benchmark.

    Attributes:
        teacher: Teacher backbone widths; ``head_channels`` is its
            RetinaHead's ``feat_channels``.
        student: Student backbone and head widths (narrower).
        neck_channels: FPN output channels of both (``out_channels``).
        anchor_scale: RetinaNet's ``octave_base_scale`` (anchor side over
            stride at the first of its 3 scales per octave; stock 4).
        size: Image side (scenes are square; the preprocessor pads to a
            multiple of 32 as stock).
        frozen: With a pretrained backbone, keep the stock frozen stem and
            layer1 (``frozen_stages=1``) and frozen BN statistics
            (``norm_eval=True``); False trains all of it.
    """
    teacher: NetSettings = HALF_WIDTH
    student: NetSettings = QUARTER_WIDTH
    neck_channels: int = 64
    anchor_scale: int = 2
    size: int = 128
    frozen: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@functools.lru_cache(maxsize=1)
def _retinanet() -> Config:
    from mmswtat.utils.config_utils import resolve_config_path
    return Config.fromfile(resolve_config_path(RETINANET_CONFIG))


def backbone_channels(net: NetSettings) -> list:
    """Output channels of ``layer1..layer4`` (the FPN's ``in_channels``)."""
    return [net.layer4_channels // 2**(3 - i) for i in range(4)]


def fpn_levels(settings: DetNetSettings) -> FpnLevels:
    """The detector's FPN levels (strides of its anchor generator) and
    anchor size, for the data's level check."""
    head = _retinanet().model.bbox_head
    strides = tuple(int(s) for s in head.anchor_generator.strides)
    return FpnLevels(
        strides=strides,
        anchor_scale=settings.anchor_scale,
        first=int(math.log2(strides[0])))  # stride 8: P3


def det_model(net: NetSettings,
              settings: DetNetSettings,
              pretrained: Optional[str] = None) -> dict:
    """The stock RetinaNet R50-FPN model config at ``net``'s widths.

    Args:
        net: Backbone depth and widths, head width.
        settings: Neck width, anchors.
        pretrained: Backbone checkpoint (``{'state_dict': backbone
            weights}``, as the digit pretraining saves it) or None. With
            weights, the stock ``frozen_stages=1`` and ``norm_eval=True``
            hold; without, nothing is frozen and BN trains (frozen random
            weights would make a useless stem).

    Returns:
        A ``RetinaNet`` model config dict.
    """
    model = copy.deepcopy(_retinanet().model.to_dict())
    model['backbone'].update(
        depth=net.depth,
        base_channels=net.base_channels,
        stem_channels=net.stem_channels,
        deep_stem=True,
        init_cfg=(None if pretrained is None else dict(
            type='Pretrained', checkpoint=pretrained)))
    if pretrained is None or not settings.frozen:
        model['backbone'].update(frozen_stages=-1, norm_eval=False)
    model['neck'].update(
        in_channels=backbone_channels(net),
        out_channels=settings.neck_channels)
    head = model['bbox_head']
    head.update(
        num_classes=len(DIGIT_DET_CLASSES),
        in_channels=settings.neck_channels,
        feat_channels=net.head_channels)
    head['anchor_generator'].update(octave_base_scale=settings.anchor_scale)
    return model


# ----------------------------------------------------------------- methods
#: The detection table's methods (:data:`mmswtat.recipes.DEFAULT_METHODS`).
DET_METHODS = DEFAULT_METHODS['det']
#: The components wired for detection (:data:`mmswtat.recipes.COMPONENTS`).
DET_COMPONENTS = components_for('det')
#: Knobs that set the SW-TaT loss only (the patch-merging loss has no
#: windows).
WINDOW_KNOBS = ('shift_size', 'per_level')
#: Knobs that change the SW-TaT fragment's structure
#: (:func:`mmswtat.recipes.swtat_variant`): its global pass per level
#: (``'pm'``, ``'anchor'``, ``'none'``), its window (an int for every level,
#: replacing the fragment's per-level windows, or ``'auto'``: half of each
#: level, at most 8) and a shared student connector (``connector=True``).
DET_STRUCTURE_KNOBS = ('global_pass', 'window_size', 'connector')
#: The sweep's knob variants per method, from the table.
DET_METHOD_KNOBS = sweep_variants('det', 'knobs')
#: ``--structure-sweep``'s forms per method, from the table.
DET_STRUCTURE_FORMS = sweep_variants('det', 'forms')


def _det_wiring(name: str):
    """The detection wiring of component ``name`` (None for ``'none'``)."""
    check_det_methods([name])
    name = canonical_name(name)
    return None if name == 'none' else COMPONENTS[name].tasks['det']


def check_det_methods(names) -> None:
    """Raise one clear error for an unknown detection method."""
    for name in names:
        if canonical_name(name) not in ('none', ) + DET_COMPONENTS:
            raise ValueError(
                f'det_distill_config: unknown detection method {name!r}; '
                f'choose from {", ".join(("none", ) + DET_COMPONENTS)}')


def det_published_weight(name: str) -> Optional[float]:
    """The largest loss weight of a method's fragment (its published or
    shipped weight; the sweep's centre), None for ``'none'``."""
    wiring = _det_wiring(name)
    if wiring is None:
        return None
    losses = _fragment(*wiring.fragment)['distill_losses']
    return max(float(c.get('loss_weight', 1.0)) for c in losses.values())


def det_distill_config(name: str,
                       settings: DetNetSettings,
                       weight: Optional[float] = None,
                       knobs: Optional[dict] = None) -> Optional[dict]:
    """The ``distill=`` dict of a detection method, from its shipped FPN
    fragment with the channels set to ``settings.neck_channels``.

    Args:
        name: ``'none'`` or a component of :data:`DET_COMPONENTS`.
        settings: The networks.
        weight: The method's largest loss weight (default: the fragment's,
            i.e. the published one); the fragment's ratios between its
            losses are kept.
        knobs: The structure knobs (:data:`DET_STRUCTURE_KNOBS`, e.g.
            ``dict(global_pass='none', window_size='auto',
            connector=True)``), then overrides of the method's loss
            configs: the window knobs (:data:`WINDOW_KNOBS`, e.g.
            :data:`SMALL_WINDOWS`) set the SW-TaT loss, others every loss
            (e.g. ``dict(scale=1.0)``, ``dict(normalize='self')``).

    Returns:
        The dict, or None for ``'none'``.

    Raises:
        ValueError: An unknown method name (lists the known ones).
    """
    wiring = _det_wiring(name)
    if wiring is None:
        return None
    distill = _fragment(*wiring.fragment)
    drop_losses(distill, wiring.drop)
    knobs = copy.deepcopy(knobs or {})
    structure = {k: knobs.pop(k) for k in DET_STRUCTURE_KNOBS if k in knobs}
    for cfg in distill['distill_losses'].values():
        for ch in ('student_channels', 'teacher_channels', 'channels'):
            if ch in cfg:
                cfg[ch] = settings.neck_channels
    if structure:
        distill = swtat_variant(distill, **structure)
    losses = distill['distill_losses']
    for cfg in losses.values():
        windowed = cfg['type'].endswith('SWTaTLoss')
        for k, v in knobs.items():
            if k == 'per_level' and windowed:
                # merged key by key over the fragment's own per_level
                cfg['per_level'] = dict(cfg.get('per_level') or {}, **v)
            elif windowed or k not in WINDOW_KNOBS:
                cfg[k] = v
    for conn in (distill.get('connectors') or {}).values():
        conn.update(
            in_channels=settings.neck_channels,
            out_channels=settings.neck_channels)
    if weight is not None:
        top = max(float(c.get('loss_weight', 1.0)) for c in losses.values())
        for cfg in losses.values():
            cfg['loss_weight'] = (
                weight * float(cfg.get('loss_weight', 1.0)) / top)
    return distill


def det_distiller_model(settings: DetNetSettings,
                        distill: Optional[dict],
                        teacher_ckpt: Optional[str],
                        student_ckpt: Optional[str] = None,
                        pretrained: Optional[str] = None) -> dict:
    """``mmswtat.SingleTeacherDistiller`` over the two detectors.

    Args:
        settings: The networks.
        distill: From :func:`det_distill_config`.
        teacher_ckpt: The trained teacher.
        student_ckpt: The student's initial weights (the same for every
            method), or None.
        pretrained: Student backbone checkpoint, or None.
    """
    return dict(
        type='mmswtat.SingleTeacherDistiller',
        student=det_model(settings.student, settings, pretrained),
        teacher=det_model(settings.teacher, settings),
        teacher_ckpt=teacher_ckpt,
        student_ckpt=student_ckpt,
        distill=distill)


# -------------------------------------------------------------------- runs
def det_dataset(data_root: str, split: str, pipeline: list) -> dict:
    """mmdet ``CocoDataset`` of a digit detection split (see
    :func:`~mmswtat.benchmark.data.digit_det_scenes.write_digit_detection`)."""
    return dict(
        type='CocoDataset',
        data_root=data_root,
        ann_file=f'annotations/{split}.json',
        data_prefix=dict(img='images/'),
        metainfo=dict(classes=DIGIT_DET_CLASSES),
        filter_cfg=dict(filter_empty_gt=split == 'train', min_size=0),
        test_mode=split != 'train',
        pipeline=pipeline)


def det_pipelines(size: int) -> Dict[str, list]:
    """The stock train and test pipelines at ``size`` (no flip)."""
    scale = (size, size)
    return dict(
        train=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='Resize', scale=scale, keep_ratio=True),
            dict(type='PackDetInputs')
        ],
        test=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=scale, keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(
                type='PackDetInputs',
                meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                           'scale_factor'))
        ])


def det_run_config(model: dict,
                   settings: DetNetSettings,
                   train: TrainSettings,
                   data_root: str,
                   work_dir: str,
                   seed: int,
                   save_checkpoint: bool = False,
                   load_from: Optional[str] = None,
                   log_level: str = 'INFO') -> Config:
    """A complete runner config: ``model`` trained on the digit detection
    scenes and tested on their val split with ``CocoMetric``.

    Args:
        model: A detector or ``mmswtat.SingleTeacherDistiller`` config.
        settings: The networks (image size).
        train: Iterations, batch, learning rate, weight decay.
        data_root: The scenes' root.
        work_dir: Runner work directory.
        seed: ``randomness.seed``.
        save_checkpoint: Save ``iter_<N>.pth`` at the end.
        load_from: Initial weights of the whole model.
        log_level: The runner's log level.
    """
    cfg = copy.deepcopy(_retinanet())
    pipes = det_pipelines(settings.size)
    cfg.model = model  # a distiller preprocesses as its student does
    cfg.train_dataloader = dict(
        batch_size=train.batch_size,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=det_dataset(data_root, 'train', pipes['train']))
    cfg.test_dataloader = dict(
        batch_size=1,
        num_workers=0,
        persistent_workers=False,
        drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=det_dataset(data_root, 'val', pipes['test']))
    cfg.test_evaluator = dict(
        type='CocoMetric',
        ann_file=osp.join(data_root, 'annotations', 'val.json'),
        metric='bbox',
        format_only=False)
    set_runtime(cfg, train, work_dir, seed, save_checkpoint, load_from,
                log_level)
    # The 1x schedule (500 warm-up iterations, steps at epochs 8 and 11 of
    # 12) on iterations: warm-up over min(500, iters / 5), steps at 8/12 and
    # 11/12 of the run.
    warmup = max(1, min(500, train.iters // 5))
    cfg.param_scheduler = [
        dict(
            type='LinearLR',
            start_factor=0.001,
            by_epoch=False,
            begin=0,
            end=warmup),
        dict(
            type='MultiStepLR',
            by_epoch=False,
            begin=0,
            end=train.iters,
            milestones=[train.iters * 8 // 12, train.iters * 11 // 12],
            gamma=0.1)
    ]
    return cfg


#: The benchmark's figures of one test (``CocoMetric`` keys, prefix ``coco/``).
DET_SCORES = ('bbox_mAP', 'bbox_mAP_50')


def det_scores(metrics: Dict[str, float]) -> Dict[str, float]:
    """``bbox_mAP`` and ``bbox_mAP_50`` of a test run, in [0, 1].

    ``CocoMetric`` logs an error and returns no figure at all when the
    detector kept no box on the whole val split (every score below the
    stock ``score_thr`` 0.05, as happens early in training); such a run
    scores 0, not a missing value.

    Args:
        metrics: What ``runner.test()`` returned.

    Returns:
        ``{'bbox_mAP': ..., 'bbox_mAP_50': ...}``.
    """
    return {key: float(metrics.get(f'coco/{key}', 0.0)) for key in DET_SCORES}
