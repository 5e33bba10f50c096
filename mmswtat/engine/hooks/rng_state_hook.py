"""Save and restore the model-side torch RNG state for exact resumption."""
from typing import Optional

import torch
from mmengine.hooks import Hook

from mmswtat.registry import HOOKS

_KEY = 'mmswtat_torch_rng'


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make ``--resume`` continue bit-exactly where the run stopped.

    mmengine restores weights, optimizer, schedulers and the message hub, and
    replays the dataloader up to the resumed iteration (so the data side,
    numpy/python RNG, is consistent), but the global torch RNG that dropout
    and drop-path draw from starts again from the seed. This hook stores the
    torch (and CUDA) RNG state with every checkpoint and restores it just
    before the first resumed iteration, after the dataloader replay.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(cpu=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint.setdefault('meta', {})[_KEY] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = (checkpoint.get('meta') or {}).get(_KEY)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is None:
            return
        torch.set_rng_state(self._pending['cpu'])
        if 'cuda' in self._pending and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(self._pending['cuda'])
        self._pending = None
