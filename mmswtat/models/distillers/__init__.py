from .distill_spec import (DistillSpec, FeatureRef, LossRoute, RecorderRef,
                           connector_key)
from .loss_bank import LossBank, LossInput
from .model_config import load_model_cfg
from .recorder import FeatureRecorder, StopForward
from .single_teacher_distiller import SingleTeacherDistiller
from .teacher import (FrozenTeacher, build_teacher, choose_forward,
                      record_forward)

DistillHead = LossBank  # its former name ("head" is the model's head only)

__all__ = [
    'DistillHead', 'DistillSpec', 'FeatureRecorder', 'FeatureRef',
    'FrozenTeacher', 'LossBank', 'LossInput', 'LossRoute', 'RecorderRef',
    'SingleTeacherDistiller', 'StopForward', 'build_teacher', 'choose_forward',
    'connector_key', 'load_model_cfg', 'record_forward'
]
