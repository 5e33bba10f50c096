"""Registries of the ``mmswtat`` scope.

Each registry is a child of the matching mmengine root registry, so a config in
any default scope (``mmseg``, ``mmdet``, ``mmpretrain``) can name our modules
with the scope prefix, e.g. ``type='mmswtat.SWTaTLoss'``, once ``mmswtat`` has
been imported (``custom_imports=dict(imports=['mmswtat'])`` or our tools).
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

__all__ = ['MODELS']

#: Losses, connectors and distillers.
MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmswtat',
    locations=['mmswtat.models'])
