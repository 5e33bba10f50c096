"""``--resume`` checks what it resumes, before training.

mmengine resumes any checkpoint: the weights load non-strictly, and a
checkpoint of another config or model fails later, inside the optimizer
("size of tensor a (64) must match (32)", "parameter group doesn't
match"). :func:`check_resume` compares the checkpoint with the model and
the optimizer first and names what differs: the model config keys of both
configs (recorders, connectors, losses), or "this is a plain model
checkpoint".
"""
from typing import Any, Dict, List, Mapping, Optional

import torch
import torch.nn as nn

_IGNORED = ('num_batches_tracked', )


def _peek(filename: str) -> dict:
    """The checkpoint, memory-mapped where possible (no tensor data read)."""
    import os.path as osp

    from mmswtat.utils.checkpoint import load_checkpoint_file
    if not osp.isfile(filename):  # missing, a directory, a URL: its message
        return load_checkpoint_file(filename, 'resume', True,
                                    'a checkpoint you trust')
    try:
        return torch.load(
            filename, map_location='cpu', mmap=True, weights_only=True)
    except Exception:  # noqa: BLE001  (legacy format, URL...: full load)
        return load_checkpoint_file(filename, 'resume', True,
                                    'a checkpoint you trust')


def _flatten(cfg: Any, prefix: str = 'model') -> Dict[str, Any]:
    """``{'model.a.b': leaf}`` of a (nested) config dict/list."""
    if isinstance(cfg, Mapping):
        out = {}
        for k, v in cfg.items():
            out.update(_flatten(v, f'{prefix}.{k}'))
        return out
    if isinstance(cfg, (list, tuple)):
        out = {}
        for i, v in enumerate(cfg):
            out.update(_flatten(v, f'{prefix}.{i}'))
        return out or {prefix: cfg}
    return {prefix: cfg}


#: Model config keys that may change between a run and its resumption
#: (paths, loading flags, loss weights): they do not change what is trained.
RESUME_SAFE_KEYS = ('teacher_ckpt', 'student_ckpt', 'cfg_path', 'weights_only',
                    'teacher_ckpt_strict', 'student_ckpt_strict',
                    'check_finite', 'loss_weight', 'distill_warmup_iters',
                    'pretrained', 'teacher_precision', 'init_cfg')


def _safe(key: str) -> bool:
    return any(part in RESUME_SAFE_KEYS for part in key.split('.'))


def config_differences(saved: Optional[str],
                       model_cfg: Any,
                       limit: int = 8,
                       structural: bool = False) -> List[str]:
    """``'key: checkpoint X, this config Y'`` for each differing model key.

    Args:
        saved: The ``meta['cfg']`` text a runner saves in its checkpoints.
        model_cfg: This run's ``cfg.model``.
        limit: At most this many lines (then ``'... (+N more)'``).
        structural: Leave out :data:`RESUME_SAFE_KEYS` (paths, flags, loss
            weights).
    """
    if not saved:
        return []
    from mmengine.config import Config
    try:
        old = Config.fromstring(saved, file_format='.py').get('model')
    except Exception:  # noqa: BLE001  (an unparsable config text)
        return []
    old, new = _flatten(old or {}), _flatten(model_cfg or {})
    lines = [
        f'{k}: checkpoint {old.get(k, "(absent)")!r}, this config '
        f'{new.get(k, "(absent)")!r}' for k in sorted(set(old) | set(new))
        if old.get(k, '(absent)') != new.get(k, '(absent)')
        and not (structural and _safe(k))
    ]
    if len(lines) > limit:
        lines = lines[:limit] + [f'... (+{len(lines) - limit} more)']
    return lines


def _shapes(state: Mapping[str, Any]) -> Dict[str, tuple]:
    out = {}
    for k, v in state.items():
        if k.startswith('module.'):
            k = k[7:]
        if not k.endswith(_IGNORED) and hasattr(v, 'shape'):
            out[k] = tuple(v.shape)
    return out


def _head(names: List[str], n: int = 4) -> str:
    more = f' ... (+{len(names) - n} more)' if len(names) > n else ''
    return ', '.join(names[:n]) + more


def check_resume(filename: str,
                 model: nn.Module,
                 model_cfg: Any,
                 optimizer_state: Optional[dict] = None) -> None:
    """Refuse a checkpoint that this run cannot resume.

    Args:
        filename: The checkpoint to resume.
        model: The (unwrapped) model of this run.
        model_cfg: This run's ``cfg.model`` (named in the message).
        optimizer_state: This run's ``optim_wrapper.state_dict()``, to
            compare its parameter groups with the checkpoint's.

    Raises:
        ValueError: The weights (names or shapes), the optimizer's
            parameter groups or the model config (other than
            :data:`RESUME_SAFE_KEYS`) differ, naming the config keys that
            differ, or saying that this is a plain model checkpoint.
    """
    checkpoint = _peek(filename)
    if not isinstance(checkpoint, dict):
        raise ValueError(f'--resume: {filename!r} is not a training '
                         'checkpoint (not a dict)')
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, Mapping):
        raise ValueError(f'--resume: {filename!r} is not a training '
                         f'checkpoint: its state_dict is a '
                         f'{type(state).__name__}, not a dict of weights')
    theirs = _shapes(state)
    ours = _shapes(model.state_dict())
    where = f'--resume: checkpoint {filename!r} does not fit this run'
    fix = ('Resume with the config that wrote it, or start a new run from '
           'its weights with load_from (without --resume)')
    student = any(k.startswith('student.') for k in ours)
    if student and not any(k.startswith('student.') for k in theirs):
        raise ValueError(
            f'{where}: this is a plain model checkpoint (no student.* '
            'weights), and this config trains a distiller. Resume only '
            'from a checkpoint that tools/train.py wrote with this '
            'distillation config; to start the student from a plain '
            'checkpoint, set model.student_ckpt=FILE and train without '
            '--resume')
    if not student and any(k.startswith('student.') for k in theirs):
        raise ValueError(
            f'{where}: this is a distillation checkpoint (student.* '
            'weights) and this config trains a plain model. Resume with '
            'the distillation config that wrote it; for the student alone '
            'use tools/export_student.py and load_from')
    missing = sorted(set(ours) - set(theirs))
    unexpected = sorted(set(theirs) - set(ours))
    shapes = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k])
    groups = []
    if optimizer_state is not None and isinstance(
            checkpoint.get('optimizer'), Mapping):
        old = [
            len(g.get('params', ()))
            for g in checkpoint['optimizer'].get('param_groups', ())
        ]
        new = [
            len(g.get('params', ()))
            for g in optimizer_state.get('param_groups', ())
        ]
        if old and new and old != new:
            groups = [
                f'optimizer parameter groups: checkpoint {old} '
                f'parameters, this run {new}'
            ]
    saved_cfg = (checkpoint.get('meta') or {}).get('cfg')
    structural = config_differences(saved_cfg, model_cfg, structural=True)
    if not (missing or unexpected or shapes or groups or structural):
        return
    parts = []
    if missing:
        parts.append(f'{len(missing)} weights of this run are not in it '
                     f'[{_head(missing)}]')
    if unexpected:
        parts.append(f'{len(unexpected)} of its weights are not in this '
                     f'run [{_head(unexpected)}]')
    if shapes:
        parts.append(f'{len(shapes)} weights differ in shape [' +
                     _head([f'{k} {theirs[k]} vs {ours[k]}'
                            for k in shapes]) + ']')
    parts += groups
    diff = config_differences(saved_cfg, model_cfg, structural=not parts)
    cfg_text = ('model config keys that differ (checkpoint vs this '
                'config): ' + '; '.join(diff) if diff else
                'the checkpoint names no config (or the same model '
                'config): is it from another model?')
    raise ValueError(f'{where}: it was written by another config or '
                     f'model: ' + '; '.join(parts + [cfg_text]) + f'. {fix}')
