from .distill_head import DistillHead, LossInput
from .distill_spec import (DistillSpec, FeatureRef, LossRoute, RecorderRef,
                           connector_key)
from .model_config import load_model_cfg
from .recorder import FeatureRecorder, StopForward
from .single_teacher_distiller import SingleTeacherDistiller
from .teacher import (FrozenTeacher, build_teacher, choose_forward,
                      record_forward)

__all__ = [
    'DistillHead', 'DistillSpec', 'FeatureRecorder', 'FeatureRef',
    'FrozenTeacher', 'LossInput', 'LossRoute', 'RecorderRef',
    'SingleTeacherDistiller', 'StopForward', 'build_teacher', 'choose_forward',
    'connector_key', 'load_model_cfg', 'record_forward'
]
