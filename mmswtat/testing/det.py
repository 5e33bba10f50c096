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
from typing import Dict, Iterator, List, Optional, Tuple

from mmengine.config import Config

_RESIZES = ('Resize', 'RandomResize')


def _leaf_datasets(dataset: dict, key: str) -> Iterator[Tuple[str, dict]]:
    """``(dotted key, config)`` of every dataset that loads files.

    Wrappers (``RepeatDataset`` & co.) are entered through ``dataset``,
    ``ConcatDataset`` through ``datasets``; a repeat ``times`` is not a leaf.
    """
    if 'datasets' in dataset:
        for i, ds in enumerate(dataset['datasets']):
            yield from _leaf_datasets(ds, f'{key}.datasets.{i}')
    elif 'dataset' in dataset:
        yield from _leaf_datasets(dataset['dataset'], f'{key}.dataset')
    else:
        yield key, dataset


def _repeats(dataset: dict, key: str) -> Iterator[str]:
    """Dotted keys of the ``times`` of ``RepeatDataset``-like wrappers."""
    if 'times' in dataset and 'dataset' in dataset:
        yield f'{key}.times'
    if 'dataset' in dataset:
        yield from _repeats(dataset['dataset'], f'{key}.dataset')
    for i, ds in enumerate(dataset.get('datasets', [])):
        yield from _repeats(ds, f'{key}.datasets.{i}')


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
    for stage, cfg in (('train_cfg', model.get('train_cfg') or {}),
                       ('test_cfg', model.get('test_cfg') or {})):
        rpn = cfg.get('rpn_proposal' if stage == 'train_cfg' else 'rpn')
        name = 'rpn_proposal' if stage == 'train_cfg' else 'rpn'
        if rpn and 'max_per_img' in rpn:
            opts[f'{prefix}.{stage}.{name}.nms_pre'] = proposals
            opts[f'{prefix}.{stage}.{name}.max_per_img'] = proposals
        sampler = (cfg.get('rcnn') or {}).get('sampler') if isinstance(
            cfg.get('rcnn'), dict) else None
        if sampler and 'num' in sampler:
            opts[f'{prefix}.{stage}.rcnn.sampler.num'] = min(
                proposals, sampler['num'])
    return opts


def _score_thr_key(prefix: str, model: dict) -> Optional[str]:
    test_cfg = model.get('test_cfg') or {}
    if isinstance(test_cfg.get('rcnn'), dict) and \
            'score_thr' in test_cfg['rcnn']:
        return f'{prefix}.test_cfg.rcnn.score_thr'
    if 'score_thr' in test_cfg:
        return f'{prefix}.test_cfg.score_thr'
    return None


def det_tiny_options(config: str,
                     data_root: str,
                     img_size: int = 64,
                     iters: int = 2,
                     batch_size: int = 2,
                     proposals: Optional[int] = 64,
                     score_thr: Optional[float] = None,
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
    opts['train_cfg.max_epochs' if epoch_based else
         'train_cfg.max_iters'] = length
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
        leaves = list(_leaf_datasets(root, f'{loader}.dataset'))
        if loader == 'train_dataloader':
            for key in _repeats(root, f'{loader}.dataset'):
                opts[key] = 1
            if epoch_based:
                per_leaf = math.ceil(iters * batch_size / len(leaves))
        for key, ds in leaves:
            opts[f'{key}.data_root'] = data_root
            if loader == 'train_dataloader' and epoch_based:
                opts[f'{key}.indices'] = per_leaf
            for j, t in enumerate(ds.get('pipeline', [])):
                if t.get('type') in _RESIZES and 'scale' in t:
                    opts[f'{key}.pipeline.{j}.scale'] = scale

    for evaluator, loader in (('val_evaluator', 'val_dataloader'),
                              ('test_evaluator', 'test_dataloader')):
        spec = cfg.get(evaluator)
        if isinstance(spec, dict) and spec.get('ann_file'):
            leaves = list(_leaf_datasets(cfg[loader]['dataset'], ''))
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
        if score_thr is not None:
            key = _score_thr_key(prefix, model)
            if key is None:
                raise ValueError(f'{config}: no test_cfg score_thr in '
                                 f'{prefix} to set')
            opts[key] = score_thr
    if lr is not None:
        opts['optim_wrapper.optimizer.lr'] = lr
    return opts
