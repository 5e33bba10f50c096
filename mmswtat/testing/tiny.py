"""``--cfg-options`` that shrink stock configs to tiny CPU runs.

Used by ``make demo`` and the end-to-end tests: the real configs run
unchanged apart from data location, image sizes, iterations and workers.
The option keys are found by reading the config (pipeline transforms by
type, train datasets inside a ``ConcatDataset``), not hard-coded indices.
"""
from typing import Dict, List, Optional

from mmengine.config import Config

from .walk import loader_datasets


def _fmt(value) -> str:
    if isinstance(value, (tuple, list)):
        inner = ','.join(_fmt(v) for v in value)
        return f'({inner})' if isinstance(value, tuple) else f'[{inner}]'
    return str(value)


def as_cli(options: Dict[str, object]) -> List[str]:
    """``{'a.b': 1}`` -> ``['a.b=1']`` for ``--cfg-options``."""
    return [f'{k}={_fmt(v)}' for k, v in options.items()]


def _model_prefixes(cfg: Config) -> List[str]:
    """Keys of the configs whose data_preprocessor pads to a size.

    The runner hands a top-level ``data_preprocessor`` to the model it builds
    (mmseg configs define one), so that one counts too.
    """
    prefixes = ['model.student' if 'student' in cfg.model else 'model']
    if 'size' in (cfg.get('data_preprocessor') or {}):
        prefixes.insert(0, '')
    return prefixes


def seg_tiny_options(config: str,
                     data_root: str,
                     crop: int = 64,
                     iters: int = 8,
                     batch_size: int = 2,
                     lr: Optional[float] = None,
                     val_interval: Optional[int] = None) -> Dict[str, object]:
    """Overrides for an mmseg config (distillation or plain).

    Args:
        config: The config file (or ``scope::path``) to be run.
        data_root: Dataset root for every loader.
        crop: Training crop side; test images are resized to about it.
        iters: ``train_cfg.max_iters`` and the checkpoint interval.
        batch_size: Training batch size.
        lr: Optional learning rate.
        val_interval: Validation interval (default: at the end only).

    Returns:
        ``{dotted.key: value}`` for ``--cfg-options``.
    """
    from mmswtat.utils import resolve_config_path
    cfg = Config.fromfile(resolve_config_path(config))
    size, scale = (crop, crop), (crop * 4, crop)
    opts: Dict[str, object] = {
        'train_dataloader.batch_size': batch_size,
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': val_interval or iters,
        'default_hooks.checkpoint.interval': iters,
        'default_hooks.logger.interval': 1,
    }
    for i, sched in enumerate(cfg.get('param_scheduler') or []):
        if 'end' in sched:
            opts[f'param_scheduler.{i}.end'] = iters
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
        for key, ds in loader_datasets(cfg, loader):
            opts[f'{key}.data_root'] = data_root
            for j, t in enumerate(ds.get('pipeline', [])):
                kind = t.get('type')
                if kind in ('RandomResize', 'Resize') and 'scale' in t:
                    opts[f'{key}.pipeline.{j}.scale'] = scale
                elif kind == 'RandomCrop':
                    opts[f'{key}.pipeline.{j}.crop_size'] = size
                elif kind == 'Pad' and 'size' in t:
                    opts[f'{key}.pipeline.{j}.size'] = size
    for prefix in _model_prefixes(cfg):
        key = f'{prefix}.data_preprocessor' if prefix else 'data_preprocessor'
        opts[f'{key}.size'] = size
    if 'student' in cfg.model:
        opts['model.student.pretrained'] = None
    elif cfg.model.get('pretrained'):
        opts['model.pretrained'] = None
    if lr is not None:
        opts['optim_wrapper.optimizer.lr'] = lr
    return opts
