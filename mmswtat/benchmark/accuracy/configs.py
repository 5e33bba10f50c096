"""mmengine configs of the benchmark's runs, derived from the shipped ones.

Networks: mmseg's DeepLabV3 R101-D8 VOC config with the backbone's depth and
widths and the heads' channels changed (11 digit-scene classes, BN instead
of SyncBN, which the runner would revert on one process anyway). Runs: that
config's runtime with the digit-scene loaders, the VOC schedule (SGD, poly)
shortened, no validation during training and the val split as test set.
"""
import copy
import functools
import os.path as osp
import time
from typing import Optional

from mmengine.config import Config

from mmswtat.benchmark.data.digit_scenes import (DIGIT_SCENE_CLASSES,
                                                 DIGIT_SCENE_PALETTE)
from .pretrain import backbone_cfg
from .settings import BenchmarkSettings, NetSettings, TrainSettings

VOC_CONFIG = 'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py'


@functools.lru_cache(maxsize=1)
def _voc() -> Config:
    from mmswtat.utils.config_utils import resolve_config_path
    return Config.fromfile(resolve_config_path(VOC_CONFIG))


def _bn(cfg):
    """Replace ``SyncBN`` by ``BN`` everywhere in a nested config."""
    if isinstance(cfg, dict):
        if cfg.get('type') == 'SyncBN':
            cfg = dict(cfg, type='BN')
        return {k: _bn(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_bn(v) for v in cfg)
    return cfg


def seg_model(net: NetSettings,
              size: int,
              pretrained: Optional[str] = None,
              background_weight: float = 1.0) -> dict:
    """The VOC DeepLabV3 model config at ``net``'s widths.

    Args:
        net: Depth and widths.
        size: Training crop side (the preprocessor pads to it).
        pretrained: Backbone checkpoint (``model.pretrained``) or None.
        background_weight: CE class weight of class 0 (others 1).
    """
    model = _bn(copy.deepcopy(_voc().model.to_dict()))
    model['pretrained'] = pretrained
    bb = backbone_cfg(net, dilated=True)
    if bb['type'] == 'mmseg.ResNetV1c':
        bb.pop('type')
        model['backbone'].update(bb)
    else:  # another family: its own backbone config
        model['backbone'] = bb
    model['decode_head'].update(
        in_channels=net.layer4_channels,
        channels=net.head_channels,
        num_classes=len(DIGIT_SCENE_CLASSES))
    model['auxiliary_head'].update(
        in_channels=net.layer3_channels,
        channels=max(net.head_channels // 2, 4),
        num_classes=len(DIGIT_SCENE_CLASSES))
    if background_weight != 1.0:
        weights = [background_weight] + [1.0] * (len(DIGIT_SCENE_CLASSES) - 1)
        for head in ('decode_head', 'auxiliary_head'):
            model[head]['loss_decode']['class_weight'] = weights
    model['data_preprocessor'] = dict(
        model['data_preprocessor'], size=(size, size))
    return model


def _dataset(data_root: str, split: str, pipeline: list) -> dict:
    return dict(
        type='BaseSegDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file=f'ImageSets/Segmentation/{split}.txt',
        img_suffix='.jpg',
        seg_map_suffix='.png',
        metainfo=dict(
            classes=DIGIT_SCENE_CLASSES, palette=DIGIT_SCENE_PALETTE),
        pipeline=pipeline)


def set_runtime(cfg: Config, train: TrainSettings, work_dir: str, seed: int,
                save_checkpoint: bool, load_from: Optional[str],
                log_level: str) -> None:
    """The runtime every benchmark run shares (segmentation and detection):
    an iteration loop without validation, SGD, logging, the checkpoint at
    the end only when asked, the seed, a unique experiment name. The
    learning-rate schedule is the task's own."""
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop',
        max_iters=train.iters,
        val_interval=train.iters + 1)
    cfg.optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(
            type='SGD',
            lr=train.lr,
            momentum=0.9,
            weight_decay=train.weight_decay),
        clip_grad=None)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=50, log_metric_by_epoch=False)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=train.iters if save_checkpoint else -1,
        save_last=False)
    cfg.randomness = dict(seed=seed)
    cfg.custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)
    cfg.work_dir = work_dir
    # Unique per run: mmengine's logger and visualizer are global instances
    # looked up by name, and many runs share one process.
    cfg.experiment_name = (f'{osp.basename(work_dir.rstrip("/"))}_'
                           f'{time.time_ns()}')
    cfg.visualizer = dict(cfg.visualizer, name=cfg.experiment_name)
    cfg.load_from = load_from
    cfg.log_level = log_level
    cfg.resume = False


def run_config(model: dict,
               settings: BenchmarkSettings,
               train: TrainSettings,
               data_root: str,
               work_dir: str,
               seed: int,
               save_checkpoint: bool = False,
               load_from: Optional[str] = None) -> Config:
    """A complete runner config: ``model`` trained on the digit scenes.

    Args:
        model: A segmentor or ``mmswtat.SingleTeacherDistiller`` config.
        settings: The benchmark settings (data size).
        train: Iterations, batch, learning rate.
        data_root: The digit-scene VOC root.
        work_dir: Runner work directory.
        seed: ``randomness.seed`` (data order, dropout).
        save_checkpoint: Save ``iter_<N>.pth`` at the end.
        load_from: Initial weights of the whole model (baseline runs).
    """
    cfg = copy.deepcopy(_voc())
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]
    cfg.model = model
    # The top-level preprocessor is merged over a distiller's student one
    # (its values win), so it must be the student's own.
    cfg.data_preprocessor = model.get(
        'data_preprocessor',
        model.get('student', {}).get('data_preprocessor',
                                     cfg.data_preprocessor))
    cfg.train_dataloader = dict(
        batch_size=train.batch_size,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=_dataset(data_root, 'train', pipeline))
    cfg.test_dataloader = dict(
        batch_size=1,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=_dataset(data_root, 'val', pipeline))
    cfg.test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
    # mmseg's inference API (init_model / inference_model) reads
    # test_pipeline: the VOC config's would resize the 64-px scenes to 512
    cfg.test_pipeline = pipeline
    set_runtime(cfg, train, work_dir, seed, save_checkpoint, load_from,
                settings.log_level)
    cfg.param_scheduler = [
        dict(
            type='PolyLR',
            eta_min=train.lr / 100,
            power=0.9,
            begin=0,
            end=train.iters,
            by_epoch=False)
    ]
    return cfg


def distiller_model(settings: BenchmarkSettings, distill: Optional[dict],
                    teacher_ckpt: str, student_ckpt: str) -> dict:
    """``mmswtat.SingleTeacherDistiller`` over the benchmark's two networks,
    the student starting from ``student_ckpt`` (the same for every method).
    """
    size = settings.data.size
    return dict(
        type='mmswtat.SingleTeacherDistiller',
        student=seg_model(
            settings.student,
            size,
            background_weight=settings.background_weight),
        teacher=seg_model(settings.teacher, size),
        teacher_ckpt=teacher_ckpt,
        student_ckpt=student_ckpt,
        distill=distill)
