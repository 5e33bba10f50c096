"""``--resume`` checks what it resumes, before training.

mmengine resumes any checkpoint: the weights load non-strictly, and a
checkpoint of another config or model fails later, inside the optimizer
("size of tensor a (64) must match (32)", "parameter group doesn't
match"). :func:`check_resume` compares the checkpoint with the model and
the optimizer first and names what differs: the model config keys of both
configs (recorders, connectors, losses), or "this is a plain model
checkpoint".

It then checks the run state: a checkpoint at or past this config's
``train_cfg.max_iters`` / ``max_epochs`` (nothing to train) is refused; a
checkpoint without optimizer or scheduler state (``save_optimizer=False``)
and optimizer or scheduler settings of this config that the checkpoint's
state overrides are warned about; one line says what the resume restores.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

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

#: Former registered names of a class (configs that use either resume the
#: same model).
FORMER_TYPE_NAMES = {'mmswtat.KLDivLoss': 'mmswtat.KDLoss'}


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
    for flat in (old, new):  # a former class name is the same class
        for k, v in flat.items():
            if k.endswith('.type') and isinstance(v, str):
                flat[k] = FORMER_TYPE_NAMES.get(v, v)
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


def _training_checkpoint(filename: str) -> dict:
    """The checkpoint to resume, refused unless it is a dict."""
    checkpoint = _peek(filename)
    if not isinstance(checkpoint, dict):
        raise ValueError(f'--resume: {filename!r} is not a training '
                         'checkpoint (not a dict)')
    return checkpoint


def _weights(checkpoint: dict, filename: str) -> Mapping:
    """The checkpoint's ``state_dict`` (the checkpoint itself if none),
    refused unless it is a mapping."""
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, Mapping):
        raise ValueError(f'--resume: {filename!r} is not a training '
                         f'checkpoint: its state_dict is a '
                         f'{type(state).__name__}, not a dict of weights')
    return state


def _check_model_kind(ours: Mapping[str, tuple], theirs: Mapping[str, tuple],
                      where: str) -> None:
    """Refuse a plain model checkpoint for a distiller, and the reverse."""
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


def _weight_differences(ours: Mapping[str, tuple],
                        theirs: Mapping[str, tuple]) -> List[str]:
    """One line each for missing, unexpected and reshaped weights."""
    missing = sorted(set(ours) - set(theirs))
    unexpected = sorted(set(theirs) - set(ours))
    shapes = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k])
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
    return parts


def _group_differences(checkpoint: dict,
                       optimizer_state: Optional[dict]) -> List[str]:
    """A line when the optimizer's parameter groups hold other numbers of
    parameters than the checkpoint's (nothing when either is unknown)."""
    if optimizer_state is None or not isinstance(
            checkpoint.get('optimizer'), Mapping):
        return []
    old = [
        len(g.get('params', ()))
        for g in checkpoint['optimizer'].get('param_groups', ())
    ]
    new = [
        len(g.get('params', ()))
        for g in optimizer_state.get('param_groups', ())
    ]
    if old and new and old != new:
        return [
            f'optimizer parameter groups: checkpoint {old} '
            f'parameters, this run {new}'
        ]
    return []


def _mismatch_message(where: str, parts: List[str], diff: List[str]) -> str:
    """The error of a checkpoint that another config or model wrote."""
    fix = ('Resume with the config that wrote it, or start a new run from '
           'its weights with load_from (without --resume)')
    cfg_text = ('model config keys that differ (checkpoint vs this '
                'config): ' + '; '.join(diff) if diff else
                'the checkpoint names no config (or the same model '
                'config): is it from another model?')
    return (f'{where}: it was written by another config or '
            f'model: ' + '; '.join(parts + [cfg_text]) + f'. {fix}')


def check_resume(filename: str,
                 model: nn.Module,
                 model_cfg: Any,
                 optimizer_state: Optional[dict] = None,
                 progress: Optional[Tuple[str, int]] = None,
                 schedulers: Optional[Mapping[str, dict]] = None,
                 rng_hook: bool = False) -> None:
    """Refuse a checkpoint that this run cannot resume.

    Args:
        filename: The checkpoint to resume.
        model: The (unwrapped) model of this run.
        model_cfg: This run's ``cfg.model`` (named in the message).
        optimizer_state: This run's ``optim_wrapper.state_dict()``, to
            compare its parameter groups with the checkpoint's.
        progress: ``('iter', max_iters)`` or ``('epoch', max_epochs)`` of
            this run's train loop; ``None`` skips the run-state checks.
        schedulers: This run's built parameter schedulers' state dicts by
            config key (:func:`scheduler_states`).
        rng_hook: This run has ``mmswtat.RNGStateHook`` (it restores the
            torch RNG state the checkpoint holds).

    Raises:
        ValueError: The weights (names or shapes), the optimizer's
            parameter groups or the model config (other than
            :data:`RESUME_SAFE_KEYS`) differ, naming the config keys that
            differ, or saying that this is a plain model checkpoint; or the
            checkpoint is at or past the end of this run
            (:func:`check_run_state`).
    """
    checkpoint = _training_checkpoint(filename)
    theirs = _shapes(_weights(checkpoint, filename))
    ours = _shapes(model.state_dict())
    where = f'--resume: checkpoint {filename!r} does not fit this run'
    _check_model_kind(ours, theirs, where)
    parts = _weight_differences(ours, theirs) + _group_differences(
        checkpoint, optimizer_state)
    saved_cfg = (checkpoint.get('meta') or {}).get('cfg')
    if not parts and not config_differences(
            saved_cfg, model_cfg, structural=True):
        if progress is not None:
            check_run_state(checkpoint, filename, progress, optimizer_state,
                            schedulers, rng_hook)
        return
    diff = config_differences(saved_cfg, model_cfg, structural=not parts)
    raise ValueError(_mismatch_message(where, parts, diff))


#: Parameter-scheduler state entries that are run progress, not settings.
_PROGRESS_KEYS = ('last_step', 'verbose')
#: Optimizer parameter-group settings compared with the checkpoint's.
_OPTIM_KEYS = ('initial_lr', 'weight_decay', 'momentum', 'betas', 'eps',
               'nesterov', 'dampening')


def scheduler_states(schedulers: Any) -> Dict[str, dict]:
    """``{'param_scheduler[i]': state}`` of a runner's built schedulers
    (a list, or a dict of lists per optimizer: ``param_scheduler.NAME[i]``).
    """
    if isinstance(schedulers, Mapping):
        return {
            f'param_scheduler.{name}[{i}]': s.state_dict()
            for name, group in schedulers.items()
            for i, s in enumerate(group or ()) if hasattr(s, 'state_dict')
        }
    return {
        f'param_scheduler[{i}]': s.state_dict()
        for i, s in enumerate(schedulers or ()) if hasattr(s, 'state_dict')
    }


def _differences(old: Mapping, new: Mapping, keys: Sequence[str],
                 where: str) -> List[str]:

    def norm(v):
        return list(v) if isinstance(v, (list, tuple)) else v

    return [
        f'{where} {k}: checkpoint {old[k]!r}, this config {new[k]!r}'
        for k in keys if k in old and k in new and norm(old[k]) != norm(new[k])
    ]


def _settings_overridden(checkpoint: Mapping, optimizer_state: Optional[dict],
                         schedulers: Mapping[str, dict]) -> List[str]:
    """This config's optimizer and scheduler settings that differ from the
    checkpoint's state (which a resume restores over them)."""
    lines = []
    old_optim = checkpoint.get('optimizer')
    if isinstance(old_optim, Mapping) and optimizer_state:
        for i, (a, b) in enumerate(
                zip(
                    old_optim.get('param_groups', ()),
                    optimizer_state.get('param_groups', ()))):
            lines += _differences(a, b, _OPTIM_KEYS,
                                  f'optim_wrapper param group {i}')
    old_sched = checkpoint.get('param_schedulers')
    if schedulers and old_sched:
        if isinstance(old_sched, Mapping):
            old = {
                f'param_scheduler.{name}[{i}]': s
                for name, group in old_sched.items()
                for i, s in enumerate(group)
            }
        else:
            old = {f'param_scheduler[{i}]': s for i, s in enumerate(old_sched)}
        if len(old) != len(schedulers):
            lines.append(f'param_scheduler: checkpoint {len(old)} '
                         f'schedulers, this config {len(schedulers)} (they '
                         'are restored in order)')
        for key, new in schedulers.items():
            if isinstance(old.get(key), Mapping):
                keys = [
                    k for k in new
                    if not k.startswith('_') and k not in _PROGRESS_KEYS
                ]
                lines += _differences(old[key], new, keys, key)
    return lines


def check_run_state(checkpoint: Mapping,
                    filename: str,
                    progress: Tuple[str, int],
                    optimizer_state: Optional[dict] = None,
                    schedulers: Optional[Mapping[str, dict]] = None,
                    rng_hook: bool = False) -> None:
    """Check a resume checkpoint against this run's schedule and settings.

    mmengine's ``Runner.resume`` restores the weights, the optimizer state,
    the parameter schedulers' state (settings included: ``end``,
    ``eta_min``, ``base_values``...), the iteration and epoch (the data
    loader then skips the batches already seen), the message hub and the
    random seed; ``mmswtat.RNGStateHook`` adds the torch RNG state.

    Args:
        checkpoint: The checkpoint (as :func:`check_resume` read it).
        filename: For messages.
        progress: ``('iter', max_iters)`` or ``('epoch', max_epochs)``.
        optimizer_state: This run's optimizer state (its settings).
        schedulers: This run's scheduler states (:func:`scheduler_states`).
        rng_hook: This run restores the torch RNG state.

    Raises:
        ValueError: The checkpoint is at or past ``train_cfg.max_iters`` /
            ``max_epochs``: nothing would be trained.
    """
    from mmengine.logging import print_log
    unit, limit = progress
    meta = checkpoint.get('meta') or {}
    done = meta.get(unit)
    where = f'--resume: checkpoint {filename!r}'
    if isinstance(done, int) and done >= limit:
        raise ValueError(
            f'{where} is at {unit} {done}, and this config\'s '
            f'train_cfg.max_{unit}s is {limit}: nothing is left to train '
            f'(mmengine would stop at once). To train longer, raise '
            f'train_cfg.max_{unit}s above {done} (--cfg-options '
            f'train_cfg.max_{unit}s=N; the LR schedule keeps the '
            'checkpoint\'s settings); to evaluate it, run tools/test.py '
            f'CONFIG {filename}')
    has_optim = 'optimizer' in checkpoint
    has_sched = 'param_schedulers' in checkpoint
    lost = []
    if not has_optim:
        lost.append('no optimizer state: the optimizer restarts from its '
                    'initial state (no momentum or Adam statistics)')
    if schedulers and not has_sched:
        lost.append('no parameter-scheduler state: the LR schedule '
                    f'restarts from its first step while training goes on '
                    f'at {unit} {done}')
    if lost:
        print_log(
            f'{where} has ' + '; and '.join(lost) + ' (it was saved with '
            'default_hooks.checkpoint.save_optimizer=False or '
            'save_param_scheduler=False). For an exact resume, resume from '
            'a checkpoint saved with both True (the defaults); to start a '
            f'new schedule from its weights, use load_from={filename} '
            'without --resume',
            logger='current',
            level=30)
    overridden = _settings_overridden(checkpoint, optimizer_state, schedulers
                                      or {})
    if overridden:
        print_log(
            f'{where} and this config disagree about the run; a resume '
            'restores the checkpoint\'s optimizer and scheduler state, so '
            'the checkpoint\'s values win: ' + '; '.join(overridden) +
            f'. To train with this config\'s values, start a new run from '
            f'its weights with load_from={filename} without --resume',
            logger='current',
            level=30)
    restored = ['the weights']
    restored += ['the optimizer state'] if has_optim else []
    restored += ['the parameter schedulers\' state'] if has_sched else []
    restored += [
        f'the {unit} ({done}; the data loader skips the batches already '
        'seen)', 'the message hub (logged scalars)', 'the random seed'
    ]
    rng = (rng_hook and isinstance(meta.get('mmswtat_torch_rng'), Mapping))
    print_log(
        f'--resume restores from {filename}: ' + ', '.join(restored) +
        (', the torch RNG state (RNGStateHook)' if rng else
         '; not the torch RNG state (dropout draws restart from the seed; '
         "custom_hooks=[dict(type='mmswtat.RNGStateHook')] saves and "
         'restores it)'),
        logger='current',
        level=20)
