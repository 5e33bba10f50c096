"""Config handling shared by the command-line tools."""
import copy
import functools
import os.path as osp
from typing import TYPE_CHECKING, Any, Optional

from mmengine.config import Config

if TYPE_CHECKING:
    import torch.nn as nn

DISTILLER_TYPES = ('SingleTeacherDistiller', 'mmswtat.SingleTeacherDistiller')


class ConfigOptionsError(ValueError):
    """A ``--cfg-options`` key that the config cannot take."""


def merge_options(cfg: Config, options: dict) -> None:
    """``cfg.merge_from_dict(options)``, naming the key that fails.

    Raises:
        ConfigOptionsError: A key path does not fit the config (e.g. a dict
            key into a list); the message names the key and the fix.
    """
    try:
        cfg.merge_from_dict(options)
        return
    except (TypeError, KeyError, IndexError, AttributeError) as e:
        error = e  # the config is unchanged (mmengine merges into a copy)
    for key, value in options.items():
        try:
            copy.deepcopy(cfg).merge_from_dict({key: value})
        except (TypeError, KeyError, IndexError, AttributeError) as e:
            key_error, error = key, e
            break
    else:
        key_error = ', '.join(options)
    raise ConfigOptionsError(
        f'--cfg-options {key_error}: does not fit the config ({error}); '
        'follow the config\'s own nesting, with a number for a list item '
        '(e.g. model.distill.0.KEY when model.distill is a list)') from None


@functools.lru_cache(maxsize=256)
def _resolve_scoped(path: str) -> str:
    # Cached: mmengine reads every metafile of the package for each lookup.
    import mmswtat  # noqa: F401  (registers the mmswtat:: scope)
    try:
        resolved, _ = Config._get_cfg_path(path, '')
    except (AssertionError, ValueError, ModuleNotFoundError) as e:
        raise FileNotFoundError(f'config {path!r} does not resolve: {e}') \
            from None
    return resolved


def resolve_config_path(path: str) -> str:
    """A config path as a file: ``scope::rel/path.py`` -> the packaged file.

    Raises:
        FileNotFoundError: The file (or packaged config) does not exist.
    """
    if '::' in path:
        path = _resolve_scoped(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path!r} does not exist')
    return path


def load_tool_config(path: str,
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None,
                     launcher: str = 'none') -> Config:
    """Read a config as ``tools/train.py`` and ``tools/test.py`` do.

    ``work_dir`` defaults to ``./work_dirs/<config name>``; ``cfg_options``
    (``--cfg-options``) are merged last.

    Raises:
        FileNotFoundError: ``path`` does not resolve to a file.
        ValueError: The file defines no ``model`` (not a config).
        ConfigOptionsError: A ``cfg_options`` key does not fit the config.
        NotADirectoryError: The work dir is an existing file.
        ValueError: ``--work-dir`` and a ``work_dir`` in ``cfg_options``
            name different folders (one would be ignored).
    """
    cfg = Config.fromfile(resolve_config_path(path))
    if not isinstance(cfg.get('model'), dict):
        raise ValueError(
            f'{path!r} defines no model (a config needs model = dict(...)); '
            'give a config file such as configs/swtat/'
            'deeplabv3_r101_to_r18_voc.py, or one that inherits one '
            "(_base_ = [...])")
    cfg.launcher = launcher
    if cfg_options:
        merge_options(cfg, cfg_options)
    if work_dir is not None:
        given = (cfg_options or {}).get('work_dir')
        if given is not None and osp.abspath(
                str(given)) != osp.abspath(work_dir):
            raise ValueError(
                f'--work-dir {work_dir!r} and --cfg-options work_dir='
                f'{given!r} name different folders: give only one of them')
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        name = osp.splitext(osp.basename(path.split('::')[-1]))[0]
        cfg.work_dir = osp.join('./work_dirs', name)
    from .output_files import check_output_dir
    check_output_dir(cfg.work_dir, True, '', '--work-dir')  # not a file
    return cfg


def runner_model_cfg(cfg: Config, model: Optional[dict] = None) -> dict:
    """The model config as mmengine's Runner builds it.

    The Runner hands a config's top-level ``data_preprocessor`` to a model
    config without one (mmseg configs define it there). This is that rule,
    for every place that builds a config's model outside a Runner.

    Args:
        cfg: A config with ``model`` and optionally ``data_preprocessor``.
        model: Use this (e.g. an edited copy of ``cfg.model``) instead of
            ``cfg.model``.

    Returns:
        A copy of the model config (a ``ConfigDict`` if given one).
    """
    model = copy.deepcopy(cfg['model'] if model is None else model)
    if cfg.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor',
                         copy.deepcopy(cfg['data_preprocessor']))
    return model


def build_runner_model(cfg: Config, **overrides: Any) -> 'nn.Module':
    """Build ``cfg.model`` as mmengine's Runner does (not initialised).

    Sets the config's ``default_scope`` (``'mmswtat'`` if none) as the
    current scope and builds :func:`runner_model_cfg`.

    Args:
        cfg: The config.
        **overrides: Top-level model keys to set first, e.g.
            ``teacher_ckpt=None``.
    """
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmswtat'))
    model = runner_model_cfg(cfg)
    model.update(overrides)
    return MODELS.build(model)


def is_distiller_config(cfg: Config) -> bool:
    """Whether ``cfg.model`` is one of our distillers."""
    return cfg.model.get('type') in DISTILLER_TYPES


def check_amp_device() -> None:
    """Raise unless mmengine's AmpOptimWrapper can run here.

    mmengine 0.10.7 supports AMP training on GPU, NPU, MLU and MUSA only.

    Raises:
        RuntimeError: On a CPU-only machine, naming the alternative.
    """
    from mmengine.device import get_device
    if get_device() == 'cpu':
        raise RuntimeError(
            '--amp needs a GPU (mmengine AmpOptimWrapper supports gpu, npu, '
            'mlu and musa); train without --amp on CPU. The distillation '
            'losses run in fp32 inside autocast either way.')
