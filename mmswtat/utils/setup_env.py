"""Registration helpers."""


def register_config_scope() -> None:
    """Let mmengine resolve ``mmswtat::path/to/config.py``.

    Adds our scope to mmengine's ``MODULE2PACKAGE`` and answers
    ``get_installed_path('mmswtat')`` with the imported package directory
    (the configs ship under ``mmswtat/.mim/configs``; an editable install's
    distribution location is not the source tree), for ``Config.fromfile``
    and the hub API (``mmengine.hub.get_config``/``get_model``) alike. The
    installed ``mmswtat-config-scope.pth`` does the same at interpreter start
    (see the top-level ``_mmswtat_scope`` module); ``import mmswtat`` makes
    sure of it where no ``.pth`` ran (e.g. a source tree on ``PYTHONPATH``).
    """
    import _mmswtat_scope
    _mmswtat_scope.install()


def register_all_modules() -> None:
    """Import every module that registers something in the ``mmswtat``
    scope."""
    import mmswtat.engine  # noqa: F401
    import mmswtat.models  # noqa: F401
