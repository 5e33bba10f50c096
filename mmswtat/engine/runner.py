"""An mmengine Runner that also trains multi-process on CPUs (gloo), and
checks its schedule, its datasets and what it resumes before training."""
import copy
import os
from typing import Optional, Tuple

import torch
from mmengine.device import get_device
from mmengine.dist import is_distributed
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, Runner

from mmswtat.engine.data_checks import (check_dataset, check_splits_agree,
                                        concat_metainfo_error,
                                        dataset_build_error,
                                        empty_dataset_error)
from mmswtat.registry import RUNNERS
from mmswtat.utils.checkpoint import check_load_from
from mmswtat.utils.value_checks import check_train_schedule
from .hooks import RNGStateHook
from .resume_check import check_resume, scheduler_states


@RUNNERS.register_module()
class DistillRunner(Runner):
    """``mmengine.runner.Runner`` plus CPU multi-process training.

    mmengine 0.10.7 assumes a GPU per process when launched with torchrun
    (``torch.cuda.set_device``, ``device_ids=[LOCAL_RANK]``). Without CUDA
    this runner initialises the process group with gloo
    (``MMSWTAT_DIST_BACKEND`` overrides), reverts SyncBN to BN (SyncBN needs
    GPUs; each process then normalises over its own batch) and wraps the
    model in DDP without device ids. On GPUs it is the stock Runner.

    Before the first step it also refuses a schedule with nothing to train
    (:func:`~mmswtat.utils.value_checks.check_train_schedule`), an empty
    dataset or images and labels of different sizes
    (:func:`~mmswtat.engine.data_checks.check_dataset`), a val dataset that
    reads its labels otherwise than the train dataset
    (:func:`~mmswtat.engine.data_checks.check_splits_agree`), a
    ``load_from`` of which no weight fits the model
    (:func:`~mmswtat.utils.checkpoint.check_load_from`) and a ``--resume``
    checkpoint of another config or model, or past the end of the run
    (:func:`~mmswtat.engine.resume_check.check_resume`).
    """

    def train(self):
        check_train_schedule(self.cfg)
        return super().train()

    def build_val_loop(self, loop):
        loop = super().build_val_loop(loop)
        train = getattr(self._train_loop, 'dataloader', None)
        val = getattr(loop, 'dataloader', None)
        if train is not None and val is not None:  # train(): both built
            check_splits_agree(train.dataset, val.dataset, 'val')
        return loop

    def resume(self, filename: str, *args, **kwargs) -> None:
        model = getattr(self.model, 'module', self.model)
        optim = getattr(self, 'optim_wrapper', None)
        state = None
        if optim is not None and hasattr(optim, 'state_dict'):
            try:
                state = optim.state_dict()
            except Exception:  # noqa: BLE001  (an unbuilt wrapper)
                state = None
        check_resume(
            filename,
            model,
            self.cfg.get('model'),
            state,
            progress=self._progress(),
            schedulers=scheduler_states(self.param_schedulers),
            rng_hook=any(
                isinstance(h, RNGStateHook)
                for h in getattr(self, '_hooks', ())))
        return super().resume(filename, *args, **kwargs)

    def _progress(self) -> Optional[Tuple[str, int]]:
        """``('iter', max_iters)`` or ``('epoch', max_epochs)`` of the
        built train loop (``None``: no loop built, or another kind)."""
        loop = self._train_loop
        if isinstance(loop, EpochBasedTrainLoop):
            return 'epoch', loop.max_epochs
        if isinstance(loop, IterBasedTrainLoop):
            return 'iter', loop.max_iters
        return None

    def load_or_resume(self) -> None:
        if (self._load_from is not None and not self._resume
                and not self._has_loaded):
            check_load_from(
                getattr(self.model, 'module', self.model), self._load_from)
        if self._resume and self._load_from is None and not self._has_loaded:
            from mmengine.runner import find_latest_checkpoint
            if find_latest_checkpoint(self.work_dir) is None:
                self.logger.warning(
                    f'--resume: no checkpoint in the work dir '
                    f'{self.work_dir!r} (no last_checkpoint file): training '
                    'starts from iteration 0. Give the checkpoint with '
                    '--resume PATH, or the --work-dir of the run to resume')
        return super().load_or_resume()

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        if isinstance(dataloader, dict) and isinstance(
                dataloader.get('dataset'), dict):
            from mmengine.registry import DATASETS
            dataloader = copy.copy(dataloader)
            try:
                dataset = DATASETS.build(dataloader['dataset'])
            except ValueError as e:  # mmengine serialises an empty list
                if 'does not match meta information' in str(e):
                    raise concat_metainfo_error(dataloader['dataset'],
                                                _role(dataloader), e) from None
                if 'need at least one array' not in str(e):
                    raise
                raise empty_dataset_error(dataloader['dataset'],
                                          _role(dataloader)) from None
            except (AssertionError, FileNotFoundError) as e:  # no ann_file
                raise dataset_build_error(dataloader['dataset'],
                                          _role(dataloader), e) from None
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
            check_dataset(dataset, _role(dataloader))
            dataloader['dataset'] = dataset
        return Runner.build_dataloader(dataloader, seed, diff_rank_seed)

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


def _role(dataloader: dict) -> str:
    """'train' if the loader samples infinitely or shuffles, else 'val/test'.
    """
    sampler = dataloader.get('sampler') or {}
    kind = sampler.get('type', '') if isinstance(sampler, dict) else ''
    shuffle = sampler.get('shuffle') if isinstance(sampler, dict) else None
    return 'train' if 'Infinite' in str(kind) or shuffle else 'val/test'


__all__ = ['DistillRunner']
