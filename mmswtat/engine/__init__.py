from .hooks import ParamDigestHook, RNGStateHook
from .runner import DistillRunner

__all__ = ['DistillRunner', 'ParamDigestHook', 'RNGStateHook']
