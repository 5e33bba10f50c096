"""Turn a ``student``/``teacher`` entry of a distiller config into a model
config."""
import copy
from typing import Optional, Union

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
            "'mmseg::deeplabv3/"
            "deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py'") from None
    if 'model' not in full:
        raise ValueError(f'{role}: config {path!r} has no `model` to build')
    merged = Config(dict(model=full.model))
    if cfg:
        merged.merge_from_dict({f'model.{k}': v for k, v in cfg.items()})
    model = runner_model_cfg(full, merged.model)
    if '_scope_' not in model and full.get('default_scope'):
        model['_scope_'] = full.default_scope
    return model


_KEEP = ('type', '_scope_')  # the student's own, never merged


def _plain(value):
    """Lists as tuples, recursively (a config dump turns tuples to lists)."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def merge_preprocessor(student: Optional[dict], top: dict) -> dict:
    """The student's preprocessor config with the top-level one merged over.

    The runner passes a config's top-level ``data_preprocessor`` to the
    distiller; mmseg users change the crop there (``data_preprocessor =
    dict(size=crop_size)``). Its values win over the student's own
    (``size``, ``mean``/``std``, ``bgr_to_rgb``...), and every changed key
    is logged. A different ``type`` cannot be merged key by key.

    Args:
        student: ``model.student``'s ``data_preprocessor`` config, if any.
        top: The top-level ``data_preprocessor`` config.

    Returns:
        The merged config (``top`` when the student has none).

    Raises:
        ValueError: ``top`` names another preprocessor ``type``.
    """
    top = copy.deepcopy(dict(top))
    if not student:
        return top
    merged = copy.deepcopy(dict(student))
    types = [str(c.get('type', '')).split('.')[-1] for c in (student, top)]
    if all(types) and types[0] != types[1]:
        raise ValueError(
            f"the config's top-level data_preprocessor is a {types[1]}, but "
            f'model.student.data_preprocessor is a {types[0]}: the '
            'distiller cannot merge them key by key. Set the preprocessor '
            'you want in model.student.data_preprocessor (e.g. via '
            "student=dict(cfg_path=..., data_preprocessor=dict(...))) and "
            'make the top-level one match it (or drop it)')
    changed = [
        f'{k}: {_plain(merged[k])!r} -> {_plain(v)!r}'
        if k in merged else f'{k}: (unset) -> {_plain(v)!r}'
        for k, v in top.items()
        if k not in _KEEP and _plain(merged.get(k, object())) != _plain(v)
    ]
    merged.update({k: v for k, v in top.items() if k not in _KEEP})
    if changed:
        from mmengine.logging import print_log
        print_log(
            "SingleTeacherDistiller: the config's top-level "
            'data_preprocessor overrides model.student.data_preprocessor (' +
            '; '.join(changed) + ')',
            logger='current',
            level=20)
    return merged
