from .model_config import load_model_cfg
from .recorder import FeatureRecorder, StopForward
from .single_teacher_distiller import SingleTeacherDistiller

__all__ = [
    'FeatureRecorder', 'SingleTeacherDistiller', 'StopForward',
    'load_model_cfg'
]
