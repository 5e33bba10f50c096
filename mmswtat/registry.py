"""Registries of the ``mmswtat`` scope.

Each registry is a child of the matching mmengine root registry, so a config in
any default scope (``mmseg``, ``mmdet``, ``mmpretrain``) can name our modules
with the scope prefix, e.g. ``type='mmswtat.SWTaTLoss'``, once ``mmswtat`` has
been imported (``custom_imports=dict(imports=['mmswtat'])`` or our tools).
"""
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import Registry

__all__ = ['MODELS', 'HOOKS', 'RUNNERS']

#: Losses, connectors and distillers.
MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmswtat',
    locations=['mmswtat.models'])

#: Training hooks.
HOOKS = Registry(
    'hook',
    parent=MMENGINE_HOOKS,
    scope='mmswtat',
    locations=['mmswtat.engine'])

#: Runners.
RUNNERS = Registry(
    'runner',
    parent=MMENGINE_RUNNERS,
    scope='mmswtat',
    locations=['mmswtat.engine'])
