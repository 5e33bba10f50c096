from .config_utils import (check_amp_device, is_distiller_config,
                           load_tool_config, resolve_config_path)
from .safe_globals import register_safe_globals
from .setup_env import register_all_modules, register_config_scope

__all__ = [
    'check_amp_device',
    'is_distiller_config', 'load_tool_config', 'resolve_config_path',
    'register_all_modules', 'register_config_scope', 'register_safe_globals'
]
