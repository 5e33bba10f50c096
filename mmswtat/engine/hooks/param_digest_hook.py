"""Write a digest of the model parameters per rank (checks DDP sync)."""
import hashlib
import json
import os
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmswtat.registry import HOOKS


@HOOKS.register_module()
class ParamDigestHook(Hook):
    """After the run, write ``param_digest_rank{r}.json`` to the work dir.

    Each file has ``parameters`` and ``buffers``, mapping names to a SHA-1
    of the tensor bytes: equal ``parameters`` across ranks mean the replicas
    stayed in sync (BN running statistics, ``buffers``, are per process
    unless SyncBN is used).
    """

    @staticmethod
    def _sha(t) -> str:
        return hashlib.sha1(
            t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()

    def after_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        digest = dict(
            parameters={
                n: self._sha(p)
                for n, p in model.named_parameters()
            },
            buffers={
                n: self._sha(b)
                for n, b in model.named_buffers()
            })
        os.makedirs(runner.work_dir, exist_ok=True)
        path = osp.join(runner.work_dir, f'param_digest_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(digest, f, indent=0, sort_keys=True)
