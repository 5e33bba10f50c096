"""Turn a ``student``/``teacher`` entry of a distiller config into a model config."""
import copy
from typing import Union

from mmengine.config import Config, ConfigDict


def load_model_cfg(cfg: Union[str, dict], role: str) -> dict:
    """Resolve a model config given inline or by ``cfg_path``.

    Args:
        cfg: A model config dict; or ``dict(cfg_path=PATH, **overrides)`` /
            ``PATH`` where ``PATH`` is a local config file or a
            ``mmseg::``/``mmdet::``/``mmpretrain::``/``mmswtat::`` config whose
            ``model`` is taken, ``overrides`` merged into it (nested dicts
            merge key by key); the config's top-level ``data_preprocessor``
            fills in for a model without one, as the runner does. The
            config's ``default_scope`` becomes the
            model's ``_scope_`` so a teacher of another codebase builds too.
        role: ``'student'`` or ``'teacher'`` (messages).

    Returns:
        A ``ConfigDict`` (codebases read it by attribute, e.g.
        ``test_cfg.mode``).

    Raises:
        ValueError: ``cfg_path`` does not resolve or has no ``model``.
    """
    if isinstance(cfg, str):
        cfg = dict(cfg_path=cfg)
    if not isinstance(cfg, dict):
        raise TypeError(f'{role} must be a model config dict or '
                        f'dict(cfg_path=...), got {type(cfg).__name__}')
    cfg = copy.deepcopy(cfg.to_dict() if isinstance(cfg, ConfigDict) else cfg)
    if 'cfg_path' not in cfg:
        return ConfigDict(cfg)
    path = cfg.pop('cfg_path')
    from mmswtat.utils.config_utils import (resolve_config_path,
                                            runner_model_cfg)
    try:
        full = Config.fromfile(resolve_config_path(path))
    except Exception as e:  # FileNotFoundError, ValueError, AssertionError...
        raise ValueError(
            f'{role}: cfg_path {path!r} does not resolve ({type(e).__name__}: '
            f'{e}). Give a local config file or a packaged one such as '
            f"'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py'"
        ) from None
    if 'model' not in full:
        raise ValueError(f'{role}: config {path!r} has no `model` to build')
    merged = Config(dict(model=full.model))
    if cfg:
        merged.merge_from_dict({f'model.{k}': v for k, v in cfg.items()})
    model = runner_model_cfg(full, merged.model)
    if '_scope_' not in model and full.get('default_scope'):
        model['_scope_'] = full.default_scope
    return model
