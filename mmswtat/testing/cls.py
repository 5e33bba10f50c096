"""``--cfg-options`` that shrink stock mmpretrain configs to tiny CPU runs.

The classification counterpart of :func:`mmswtat.testing.tiny.seg_tiny_options`
(used the same way, with :func:`mmswtat.testing.tiny.as_cli`): the real
configs run unchanged apart from data location, image size, class count,
length of the epoch and workers. mmpretrain's ImageNet/CIFAR configs are
epoch based, so a run is one epoch made ``iters`` iterations long by taking
the first ``iters * batch_size`` training images (mmengine's ``indices``).
"""
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from .walk import loader_datasets

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_ROLES = ('student', 'teacher')


def _evaluators(cfg: Config, name: str) -> Iterator[Tuple[str, dict]]:
    evaluator = cfg.get(name)
    if isinstance(evaluator, dict):
        yield name, evaluator
    elif isinstance(evaluator, (list, tuple)):
        for i, ev in enumerate(evaluator):
            yield f'{name}.{i}', ev


def _role_models(cfg: Config) -> List[Tuple[str, dict]]:
    """``(key prefix, resolved model cfg)`` of each classifier to shrink.

    Raises:
        ValueError: A distiller's student/teacher is a bare path string, to
            which nested overrides cannot be merged.
    """
    model = cfg.model
    if 'student' not in model:
        return [('model', model)]
    from mmswtat.models.distillers import load_model_cfg
    out = []
    for role in _ROLES:
        spec = model.get(role)
        if not isinstance(spec, dict):
            raise ValueError(
                f'cls_tiny_options: model.{role} is {spec!r}; write it as '
                f"dict(cfg_path={spec!r}) so that head.num_classes can be "
                'overridden')
        out.append((f'model.{role}', load_model_cfg(spec, role)))
    return out


def _scaled_topk(topk: Sequence[int], num_classes: int) -> Tuple[int, ...]:
    kept = tuple(k for k in topk if k <= num_classes)
    return kept or (1, )


def cls_tiny_options(config: str,
                     data_root: str,
                     img_size: int = 64,
                     iters: int = 4,
                     num_classes: int = 8,
                     batch_size: int = 2,
                     lr: Optional[float] = None,
                     seed: Optional[int] = 0) -> Dict[str, object]:
    """Overrides for an mmpretrain config (distillation or plain).

    Args:
        config: The config file (or ``scope::path``) to be run.
        data_root: Dataset root for every loader (e.g. ``OUT/imagenet`` of
            ``tools/make_synthetic_data.py imagenet``).
        img_size: Side of the training crop (``RandomResizedCrop``,
            ``RandomCrop``) and of the test ``CenterCrop``; the test images
            are first resized to ``img_size * 256 / 224`` on the short edge,
            as the stock 256/224 pipeline does.
        iters: Training iterations: the one epoch uses the first
            ``iters * batch_size`` training images.
        num_classes: Classes of the data; sets the head(s) (student and
            teacher of a distiller), the data preprocessor and drops
            ``Accuracy`` top-k values above it (top-5 needs >= 5 classes).
        batch_size: Training batch size.
        lr: Optional learning rate.
        seed: Runner seed (``None``: the config's).

    Returns:
        ``{dotted.key: value}`` for ``--cfg-options`` (see ``as_cli``).
    """
    from mmswtat.utils import resolve_config_path
    cfg = Config.fromfile(resolve_config_path(config))
    if cfg.get('train_cfg', {}).get('by_epoch') is False:
        raise ValueError(
            f'cls_tiny_options: {config} trains by iterations; this helper '
            "shrinks mmpretrain's epoch-based configs (one short epoch)")
    opts: Dict[str, object] = {
        'train_dataloader.batch_size': batch_size,
        'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
    }
    resize = max(1, round(img_size * 256 / 224))
    for loader in _LOADERS:
        if cfg.get(loader) is None:
            continue
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
        for key, ds in loader_datasets(cfg, loader):
            opts[f'{key}.data_root'] = data_root
            if loader == 'train_dataloader':
                opts[f'{key}.indices'] = iters * batch_size
            for j, t in enumerate(ds.get('pipeline', [])):
                kind = t.get('type')
                if kind == 'RandomResizedCrop':
                    opts[f'{key}.pipeline.{j}.scale'] = img_size
                elif kind == 'ResizeEdge':
                    opts[f'{key}.pipeline.{j}.scale'] = resize
                elif kind in ('CenterCrop', 'RandomCrop'):
                    opts[f'{key}.pipeline.{j}.crop_size'] = img_size
    for prefix, model in _role_models(cfg):
        if 'head' in model and 'num_classes' in model['head']:
            opts[f'{prefix}.head.num_classes'] = num_classes
        init = (model.get('backbone') or {}).get('init_cfg') or {}
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            opts[f'{prefix}.backbone.init_cfg'] = None
    if 'num_classes' in (cfg.get('data_preprocessor') or {}):
        opts['data_preprocessor.num_classes'] = num_classes
    if 'num_classes' in (cfg.model.get('data_preprocessor') or {}):
        opts['model.data_preprocessor.num_classes'] = num_classes
    for name in ('val_evaluator', 'test_evaluator'):
        for key, ev in _evaluators(cfg, name):
            if ev.get('type') == 'Accuracy':
                topk = ev.get('topk', (1, ))
                topk = (topk, ) if isinstance(topk, int) else tuple(topk)
                opts[f'{key}.topk'] = _scaled_topk(topk, num_classes)
    if lr is not None:
        opts['optim_wrapper.optimizer.lr'] = lr
    if seed is not None:
        opts['randomness.seed'] = seed
    return opts
