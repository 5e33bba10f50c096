"""``--cfg-options`` that shrink stock mmdet configs to tiny CPU runs.

The detection counterpart of :func:`mmswtat.testing.tiny.seg_tiny_options`,
used by the detection end-to-end tests: the real configs (distillation ones
and mmdet's stock student configs) run unchanged apart from data location,
image sizes, the length of training, proposal counts and workers. Keys are
found by reading the config (pipeline transforms by type, leaf datasets
inside ``RepeatDataset``/``ConcatDataset`` wrappers), not hard-coded.
"""
import math
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

from .walk import leaf_datasets, repeat_keys

_RESIZES = ('Resize', 'RandomResize')


def _detectors(cfg: Config) -> List[Tuple[str, dict]]:
    """``(key prefix, resolved model config)`` of the models to shrink.

    For a distiller config the student (whose ``test_cfg`` is used by
    ``predict``) and the teacher (whose backbone must not download weights);
    otherwise the model itself.
    """
    model = cfg.model
    if 'student' not in model:
        return [('model', model)]
    from mmswtat.models.distillers import load_model_cfg
    return [(f'model.{role}', load_model_cfg(model[role], role))
            for role in ('student', 'teacher')]


def _proposal_options(prefix: str, model: dict,
                      proposals: int) -> Dict[str, object]:
    """Fewer RPN proposals and sampled RoIs in two-stage detectors."""
    opts: Dict[str, object] = {}
    for stage, rpn_key in (('train_cfg', 'rpn_proposal'), ('test_cfg', 'rpn')):
        cfg = model.get(stage) or {}
        if 'max_per_img' in (cfg.get(rpn_key) or {}):
            opts[f'{prefix}.{stage}.{rpn_key}.nms_pre'] = proposals
            opts[f'{prefix}.{stage}.{rpn_key}.max_per_img'] = proposals
        rcnn = cfg.get('rcnn')
        if isinstance(rcnn, dict) and 'num' in (rcnn.get('sampler') or {}):
            opts[f'{prefix}.{stage}.rcnn.sampler.num'] = min(
                proposals, rcnn['sampler']['num'])
    return opts


def _test_key(prefix: str, model: dict, name: str) -> Optional[str]:
    """Key of ``test_cfg[.rcnn].<name>`` (two-stage or single-stage)."""
    test_cfg = model.get('test_cfg') or {}
    if isinstance(test_cfg.get('rcnn'), dict) and name in test_cfg['rcnn']:
        return f'{prefix}.test_cfg.rcnn.{name}'
    if name in test_cfg:
        return f'{prefix}.test_cfg.{name}'
    return None


def det_tiny_options(config: str,
                     data_root: str,
                     img_size: int = 64,
                     iters: int = 2,
                     batch_size: int = 2,
                     proposals: Optional[int] = 64,
                     score_thr: Optional[float] = None,
                     max_per_img: Optional[int] = None,
                     validate: bool = True,
                     lr: Optional[float] = None) -> Dict[str, object]:
    """Overrides for an mmdet config (distillation or plain).

    Args:
        config: The config file (or ``scope::path``) to be run.
        data_root: Dataset root of every loader (and of the COCO evaluator's
            ``ann_file``, which stock configs build from ``data_root`` at
            parse time).
        img_size: Images are resized to fit ``img_size x img_size`` (keeping
            the aspect ratio) in training and test.
        iters: Training iterations: ``max_iters`` of an iteration-based loop;
            for an epoch-based one (all stock mmdet configs) one epoch over
            the first ``iters * batch_size`` training images, which are split
            evenly between concatenated datasets (VOC 07+12) and not
            repeated.
        batch_size: Training batch size.
        proposals: RPN proposals kept per image and RoIs sampled per image
            in training, and proposals in test (two-stage detectors only);
            ``None`` keeps the config's.
        score_thr: Test score threshold of the detector (``0.0`` keeps every
            detection, so that tiny models predict something); ``None``
            keeps the config's.
        max_per_img: Detections kept per image in test; ``None`` keeps the
            config's.
        validate: Validate after training (else validation never starts).
        lr: Optional learning rate.

    Returns:
        ``{dotted.key: value}`` for ``--cfg-options``.
    """
    from mmswtat.utils import resolve_config_path
    cfg = Config.fromfile(resolve_config_path(config))
    scale = (img_size, img_size)
    opts: Dict[str, object] = {
        'train_dataloader.batch_size': batch_size,
        'default_hooks.logger.interval': 1,
    }
    loop = cfg.train_cfg.get('type', 'EpochBasedTrainLoop')
    epoch_based = 'Epoch' in loop or 'max_epochs' in cfg.train_cfg
    length = 1 if epoch_based else iters
    opts['train_cfg.max_epochs'
         if epoch_based else 'train_cfg.max_iters'] = length
    opts['train_cfg.val_interval'] = length
    opts['default_hooks.checkpoint.interval'] = length
    if not validate:
        opts['train_cfg.val_begin'] = length + 1

    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader not in cfg:
            continue
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
        root = cfg[loader]['dataset']
        leaves = list(leaf_datasets(root, f'{loader}.dataset'))
        per_leaf = None
        if loader == 'train_dataloader':
            for key in repeat_keys(root, f'{loader}.dataset'):
                opts[key] = 1
            if epoch_based:
                per_leaf = math.ceil(iters * batch_size / len(leaves))
        for key, ds in leaves:
            opts[f'{key}.data_root'] = data_root
            if per_leaf is not None:
                opts[f'{key}.indices'] = per_leaf
            for j, t in enumerate(ds.get('pipeline', [])):
                if t.get('type') in _RESIZES and 'scale' in t:
                    opts[f'{key}.pipeline.{j}.scale'] = scale

    for evaluator, loader in (('val_evaluator', 'val_dataloader'),
                              ('test_evaluator', 'test_dataloader')):
        spec = cfg.get(evaluator)
        if isinstance(spec, dict) and spec.get('ann_file'):
            leaves = list(leaf_datasets(cfg[loader]['dataset'], ''))
            ann_file = leaves[0][1].get('ann_file')
            if ann_file is None:
                raise ValueError(f'{evaluator} has an ann_file but the '
                                 f'{loader} dataset has none to match')
            opts[f'{evaluator}.ann_file'] = osp.join(data_root, ann_file)

    for prefix, model in _detectors(cfg):
        backbone = model.get('backbone') or {}
        if backbone.get('init_cfg') is not None:
            opts[f'{prefix}.backbone.init_cfg'] = None
        if prefix.endswith('teacher'):
            continue
        if proposals is not None:
            opts.update(_proposal_options(prefix, model, proposals))
        for name, value in (('score_thr', score_thr), ('max_per_img',
                                                       max_per_img)):
            if value is None:
                continue
            key = _test_key(prefix, model, name)
            if key is None:
                raise ValueError(f'{config}: {prefix} has no test_cfg '
                                 f'{name} to set')
            opts[key] = value
    if lr is not None:
        opts['optim_wrapper.optimizer.lr'] = lr
    return opts


def det_batch(batch: int = 2,
              size: int = 64,
              num_classes: int = 80,
              with_mask: bool = False,
              seed: int = 0) -> dict:
    """A raw batch as an mmdet dataloader yields it (no data on disk).

    Each image holds one box of a random class covering its centre (and,
    with ``with_mask``, the matching bitmap mask).

    Args:
        batch: Number of images.
        size: Image side (``uint8`` images ``(3, size, size)``).
        num_classes: Labels are drawn from ``0..num_classes-1``.
        with_mask: Add ``gt_instances.masks`` (``BitmapMasks``).
        seed: Random seed.

    Returns:
        ``dict(inputs=[Tensor], data_samples=[DetDataSample])``.
    """
    import torch
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(
            torch.randint(
                0, 256, (3, size, size), generator=g, dtype=torch.uint8))
        lo, hi = size // 4, size - size // 4
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                scale_factor=(1.0, 1.0)))
        gt = InstanceData()
        gt.bboxes = torch.tensor([[lo, lo, hi, hi]], dtype=torch.float32)
        gt.labels = torch.randint(0, num_classes, (1, ), generator=g)
        if with_mask:
            mask = torch.zeros(1, size, size, dtype=torch.uint8)
            mask[:, lo:hi, lo:hi] = 1
            gt.masks = BitmapMasks(mask.numpy(), size, size)
        sample.gt_instances = gt
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
