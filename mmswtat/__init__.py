"""mmswtat: Shifted-Window Target-aware Transformer distillation for
OpenMMLab."""
from .registry import MODELS
from .utils.safe_globals import register_safe_globals
from .utils.setup_env import register_all_modules, register_config_scope
from .version import __version__

# Make `_base_ = 'mmswtat::...'` resolvable by mmengine's Config, and let
# torch's safe (weights_only) loading read mmengine training checkpoints.
register_config_scope()
register_safe_globals()

__all__ = ['MODELS', 'register_all_modules', '__version__']
