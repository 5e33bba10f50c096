"""An mmengine Runner that also trains multi-process on CPUs (gloo)."""
import os

import torch
from mmengine.dist import is_distributed
from mmengine.device import get_device
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner import Runner

from mmswtat.registry import RUNNERS


@RUNNERS.register_module()
class DistillRunner(Runner):
    """``mmengine.runner.Runner`` plus CPU multi-process training.

    mmengine 0.10.7 assumes a GPU per process when launched with torchrun
    (``torch.cuda.set_device``, ``device_ids=[LOCAL_RANK]``). Without CUDA
    this runner initialises the process group with gloo
    (``MMSWTAT_DIST_BACKEND`` overrides), reverts SyncBN to BN (SyncBN needs
    GPUs; each process then normalises over its own batch) and wraps the
    model in DDP without device ids. On GPUs it is the stock Runner.
    """

    def setup_env(self, env_cfg: dict) -> None:
        if (self._launcher == 'pytorch' and not torch.cuda.is_available()
                and not is_distributed()):
            backend = os.environ.get('MMSWTAT_DIST_BACKEND', 'gloo')
            torch.distributed.init_process_group(backend=backend)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg, model):
        if (not self.distributed or get_device() != 'cpu'
                or is_model_wrapper(model)):
            return super().wrap_model(model_wrapper_cfg, model)
        self.logger.info('CPU multi-process training: SyncBN layers are '
                         'reverted to BN (per-process statistics).')
        model = revert_sync_batchnorm(model.to('cpu'))
        cfg = dict(model_wrapper_cfg or {})
        cfg.setdefault('type', 'MMDistributedDataParallel')
        cfg.setdefault('broadcast_buffers', False)
        cfg.setdefault('find_unused_parameters',
                       self.cfg.get('find_unused_parameters', False))
        return MODEL_WRAPPERS.build(
            cfg, default_args=dict(module=model, device_ids=None))


__all__ = ['DistillRunner']
