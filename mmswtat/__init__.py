"""mmswtat: Shifted-Window Target-aware Transformer distillation for OpenMMLab."""
from .registry import MODELS
from .utils.setup_env import register_all_modules, register_config_scope
from .version import __version__

# Make ``_base_ = 'mmswtat::...'`` resolvable by mmengine's Config.
register_config_scope()

__all__ = ['MODELS', 'register_all_modules', '__version__']
