"""Let mmengine resolve ``mmswtat::`` config paths, before ``import mmswtat``.

mmengine resolves ``scope::path`` configs only for scopes in its
``MODULE2PACKAGE`` table and finds a package's files through the
distribution's location, which for an editable (PEP 660) install is
site-packages, not the source tree. ``install()`` fixes both for
``mmswtat``: it adds the scope and answers ``get_installed_path('mmswtat')``
with the imported-from package directory (where ``.mim/configs`` lives).

It runs at interpreter start from ``mmswtat-config-scope.pth`` (installed
next to the package by ``pip install``, regular or editable), so a config
with ``_base_ = ['mmswtat::...']`` parses in any runner, e.g. mmseg's or
mmdet's own ``tools/train.py``, which read the config before its
``custom_imports``. It imports nothing heavy: mmengine modules are patched
when (and if) they are imported; ``import mmswtat`` calls it too.
Standard library only, by design.
"""
import functools
import importlib.abc
import importlib.util
import os.path as osp
import sys
from types import ModuleType

SCOPE = 'mmswtat'
#: Modules patched right after they are executed.
_AT_IMPORT = ('mmengine.utils.package_utils', 'mmengine.config.utils')
#: Modules holding their own reference to ``get_installed_path``.
_HOLDERS = _AT_IMPORT + ('mmengine.utils', 'mmengine.config.config',
                         'mmengine.hub.hub')


def package_dir() -> str:
    """Directory of the ``mmswtat`` package that ``import mmswtat`` loads."""
    spec = importlib.util.find_spec(SCOPE)
    if spec is None or not spec.origin:
        raise ModuleNotFoundError(f'{SCOPE} is not importable')
    return osp.dirname(spec.origin)


def _wrap(original):
    if getattr(original, '_mmswtat', False):
        return original

    @functools.wraps(original)
    def get_installed_path(package: str) -> str:
        if package == SCOPE:
            return package_dir()
        return original(package)

    get_installed_path._mmswtat = True
    return get_installed_path


def patch(module: ModuleType) -> None:
    """Add the scope / wrap ``get_installed_path`` in one mmengine module."""
    table = getattr(module, 'MODULE2PACKAGE', None)
    if isinstance(table, dict):
        table.setdefault(SCOPE, SCOPE)
    if callable(getattr(module, 'get_installed_path', None)):
        module.get_installed_path = _wrap(module.get_installed_path)


def patch_loaded() -> None:
    """Patch the mmengine modules imported so far."""
    for name in _HOLDERS:
        if name in sys.modules:
            patch(sys.modules[name])


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patch :data:`_AT_IMPORT` modules as soon as they are executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _AT_IMPORT:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, 'exec_module'):
            return spec
        run = loader.exec_module

        def exec_module(module, run=run):
            run(module)
            patch(module)

        loader.exec_module = exec_module
        return spec


def install() -> None:
    """Patch what is loaded now and whatever mmengine loads later."""
    patch_loaded()
    if not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
