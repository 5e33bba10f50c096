"""Registration helpers."""
import functools
import os.path as osp


def register_config_scope() -> None:
    """Let mmengine resolve ``mmswtat::path/to/config.py``.

    mmengine resolves ``scope::`` config paths only for packages listed in
    its ``MODULE2PACKAGE`` table, and finds the package directory through the
    distribution's location, which for an editable (PEP 660) install is not
    the source tree. We add our scope and answer the location ourselves; the
    configs ship under ``mmswtat/.mim/configs``. Must run before the config
    is parsed: ``import mmswtat`` (our tools do) does it.
    """
    from mmengine.config import config as config_mod
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault('mmswtat', 'mmswtat')
    original = config_mod.get_installed_path
    if getattr(original, '_mmswtat', False):
        return

    @functools.wraps(original)
    def get_installed_path(package: str) -> str:
        if package == 'mmswtat':
            return osp.dirname(osp.dirname(osp.abspath(__file__)))
        return original(package)

    get_installed_path._mmswtat = True
    config_mod.get_installed_path = get_installed_path


def register_all_modules() -> None:
    """Import every module that registers something in the ``mmswtat`` scope."""
    import mmswtat.engine  # noqa: F401
    import mmswtat.models  # noqa: F401
