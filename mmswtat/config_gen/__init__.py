"""Generate a distillation config for any mmseg/mmdet/mmpretrain pair."""
from .generate import build_distill, find_checkpoint, make_distill_config
from .match import MatchError, Plan, choose_window, match
from .methods import GENERATOR_COMPONENTS, KD_LOSS, METHODS
from .probe import Feature, ModelProbe, probe_model

__all__ = [
    'Feature', 'GENERATOR_COMPONENTS', 'KD_LOSS', 'METHODS', 'MatchError',
    'ModelProbe', 'Plan', 'build_distill', 'choose_window', 'find_checkpoint',
    'make_distill_config', 'match', 'probe_model'
]
