from .param_digest_hook import ParamDigestHook
from .rng_state_hook import RNGStateHook

__all__ = ['ParamDigestHook', 'RNGStateHook']
