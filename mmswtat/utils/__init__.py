from .config_utils import (build_runner_model, check_amp_device,
                           is_distiller_config, load_tool_config,
                           resolve_config_path, runner_model_cfg)
from .safe_globals import register_safe_globals
from .setup_env import register_all_modules, register_config_scope

__all__ = [
    'build_runner_model', 'check_amp_device', 'runner_model_cfg',
    'is_distiller_config', 'load_tool_config', 'resolve_config_path',
    'register_all_modules', 'register_config_scope', 'register_safe_globals'
]
