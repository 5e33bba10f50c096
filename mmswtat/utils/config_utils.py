"""Config handling shared by the command-line tools."""
import os.path as osp
from typing import Optional

from mmengine.config import Config

DISTILLER_TYPES = ('SingleTeacherDistiller', 'mmswtat.SingleTeacherDistiller')


def load_tool_config(path: str,
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None,
                     launcher: str = 'none') -> Config:
    """Read a config as ``tools/train.py`` and ``tools/test.py`` do.

    ``work_dir`` defaults to ``./work_dirs/<config name>``; ``cfg_options``
    (``--cfg-options``) are merged last.

    Raises:
        FileNotFoundError: ``path`` does not exist (and is no ``scope::``).
    """
    if '::' not in path and not osp.isfile(path):
        raise FileNotFoundError(f'config file {path!r} does not exist')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        name = osp.splitext(osp.basename(path.split('::')[-1]))[0]
        cfg.work_dir = osp.join('./work_dirs', name)
    return cfg


def is_distiller_config(cfg: Config) -> bool:
    """Whether ``cfg.model`` is one of our distillers."""
    return cfg.model.get('type') in DISTILLER_TYPES
