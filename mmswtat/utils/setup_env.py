"""Registration helpers."""


def register_config_scope() -> None:
    """Let mmengine resolve ``mmswtat::path/to/config.py``.

    mmengine only resolves ``scope::`` config paths for packages listed in its
    ``MODULE2PACKAGE`` table; we add ours. The configs ship in the package
    under ``mmswtat/.mim/configs`` (see ``setup.py``).
    """
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault('mmswtat', 'mmswtat')


def register_all_modules() -> None:
    """Import every module that registers something in the ``mmswtat`` scope."""
    import mmswtat.models  # noqa: F401
