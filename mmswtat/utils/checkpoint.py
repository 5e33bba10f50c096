"""Safe checkpoint loading for teachers and students.

Every load goes through :func:`load_checkpoint_file`: a failure names the
role, the path, what is wrong with the file and the fix
(:class:`CheckpointError`; :class:`UnsafeCheckpointError` for a file that
safe loading refuses).
"""
import os
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Dict, List, Optional

import torch
import torch.nn as nn

_REMOTE = ('http://', 'https://')
SAFE_OPT_IN = 'model.weights_only=False'


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or holds no weights."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A file refused by ``weights_only`` (safe) loading."""


def _key(role: str) -> str:
    """Where the user sets this role's checkpoint."""
    return (f'model.{role}_ckpt'
            if role in ('teacher', 'student') else 'the checkpoint argument')


def _looks_like(filename: str) -> str:
    """What the first bytes of a file suggest it is (for messages)."""
    with open(filename, 'rb') as f:
        head = f.read(64)
    if head.startswith(b'PK'):
        return ('a truncated or corrupt torch zip archive (an interrupted '
                'download or copy?)')
    if head.startswith(b'version https://git-lfs'):
        return 'a Git LFS pointer, not the weights (run `git lfs pull`)'
    if head[:1] == b'\x80':
        return 'a plain pickle or a legacy-format torch file'
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError:
        return 'not a torch checkpoint (unknown binary content)'
    if text.lstrip().lower().startswith(('<!doctype', '<html')):
        return 'an HTML page (a failed download?), not a torch checkpoint'
    return f'a text file (starts with {text[:30]!r}), not a torch checkpoint'


def _read(filename: str, role: str, weights_only: bool, opt_in: str):
    """``torch.load`` of a local file with errors naming the problem."""
    where = f'{role} checkpoint {filename!r}'
    fix = f'set {_key(role)} to a checkpoint written by torch.save'
    if osp.isdir(filename):
        raise IsADirectoryError(
            f'{where} is a directory, not a file; {fix} (e.g. '
            f'{osp.join(filename, "iter_20000.pth")})')
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'{where} does not exist; set {_key(role)} to a checkpoint '
            'file or URL')
    if os.path.getsize(filename) == 0:
        raise CheckpointError(f'{where} is empty (0 bytes: an interrupted '
                              f'download or save?); {fix}')
    try:
        return torch.load(
            filename, map_location='cpu', weights_only=weights_only)
    except pickle.UnpicklingError as e:
        if 'Unsupported global' in str(e):
            raise UnsafeCheckpointError(
                f'{where} holds pickled objects that safe loading '
                f'(weights_only=True) refuses: {_global_name(e)}. If you '
                f'trust the file, opt in with {opt_in}; else re-save only '
                'its state_dict.') from None
        cause = e
    except Exception as e:  # EOFError, RuntimeError (zip), KeyError, ...
        cause = e
    what = _looks_like(filename)
    if weights_only and what.startswith('a plain pickle'):
        raise UnsafeCheckpointError(
            f'{where} is {what}, which safe loading (weights_only=True) '
            f'cannot read. If you trust the file, opt in with {opt_in}; else '
            're-save it with torch.save(dict(state_dict=...))') from None
    raise CheckpointError(
        f'{where} cannot be read: it is {what} (torch.load raised '
        f'{type(cause).__name__}); {fix}') from None


def _global_name(error: Exception) -> str:
    """The refused global of a weights_only error, e.g. ``'GLOBAL a.B'``."""
    for line in str(error).splitlines():
        if 'Unsupported global' in line:
            return line.split('Unsupported global:')[-1].split(
                ' was not')[0].strip()
    return 'an unknown global'


def load_checkpoint_file(filename: str,
                         role: str = 'teacher',
                         weights_only: bool = True,
                         opt_in: str = SAFE_OPT_IN) -> dict:
    """Load a checkpoint (path, http(s) URL or mmengine scheme) onto the CPU.

    ``weights_only=True`` (the default, and torch's) refuses pickled code;
    pass ``False`` only for files you trust (documented opt-in).

    Args:
        filename: Path or URL.
        role: ``'teacher'``, ``'student'`` or what the file is for
            (messages; teacher/student also name ``model.<role>_ckpt``).
        weights_only: Safe unpickling.
        opt_in: How the user turns safe loading off (named in messages).

    Raises:
        FileNotFoundError: A local path that does not exist.
        IsADirectoryError: A directory.
        CheckpointError: An empty, truncated, corrupt or non-torch file.
        UnsafeCheckpointError: Refused by safe loading (names ``opt_in``).
        RuntimeError: A URL that cannot be fetched (e.g. offline).
    """
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f'{_key(role)} must be a path or URL string, got '
                        f'{type(filename).__name__} {filename!r}')
    filename = os.fspath(filename)
    if filename.startswith(_REMOTE):
        try:
            return torch.hub.load_state_dict_from_url(
                filename, map_location='cpu', weights_only=weights_only)
        except Exception as e:  # URLError, HTTPError, socket errors
            raise RuntimeError(
                f'{role} checkpoint {filename!r} could not be downloaded '
                f'({type(e).__name__}: {e}). Offline? Download it elsewhere '
                f'and pass the local path, e.g. --cfg-options '
                f'{_key(role)}=/path/to/file.pth') from e
    if '://' in filename:  # open-mmlab://, s3:// ... via mmengine
        from mmengine.runner import CheckpointLoader
        return CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    return _read(filename, role, weights_only, opt_in)


def extract_state_dict(checkpoint: dict,
                       filename: str = 'checkpoint',
                       role: str = 'teacher') -> Dict[str, torch.Tensor]:
    """The model weights of a checkpoint, without a DDP ``module.`` prefix.

    Raises:
        CheckpointError: Not a mapping of names to tensors.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else checkpoint
    if not isinstance(state, dict):
        raise CheckpointError(
            f'{role} checkpoint {filename!r} is not a checkpoint: it holds a '
            f'{type(state).__name__}, not a dict of weights (or a dict with '
            f"'state_dict'); set {_key(role)} to a file saved with "
            'torch.save(model.state_dict()) or by a runner')
    if not state or not any(
            isinstance(v, torch.Tensor) for v in state.values()):
        some = ', '.join(repr(k) for k in list(state)[:5])
        raise CheckpointError(
            f'{role} checkpoint {filename!r} holds no weights (a dict '
            f'without tensors; keys: {some or "none"}); set {_key(role)} to '
            'a model checkpoint')
    return OrderedDict(
        (k[7:] if k.startswith('module.') else k, v) for k, v in state.items())


def _head(names: List[str], n: int = 5) -> str:
    more = f' ... (+{len(names) - n} more)' if len(names) > n else ''
    return ', '.join(names[:n]) + more


def student_weights(
    state: Dict[str, torch.Tensor],
    filename: str,
    fix: str = 'a plain or exported student checkpoint has '
    'none'
) -> Dict[str, torch.Tensor]:
    """The ``student.*`` entries of a distillation checkpoint, unprefixed.

    Args:
        state: A checkpoint's state dict (:func:`extract_state_dict`).
        filename: For the message.
        fix: End of the message.

    Raises:
        ValueError: ``state`` has no ``student.*`` key (not a checkpoint of
            ``tools/train.py`` with a distillation config).
    """
    prefix = 'student.'
    student = {
        k[len(prefix):]: v
        for k, v in state.items() if k.startswith(prefix)
    }
    if not student:
        some = ', '.join(list(state)[:5])
        raise ValueError(
            f'{filename!r} is not a distillation checkpoint: no "student.*" '
            f'weights (keys start with: {some}). Give a checkpoint written '
            f'by tools/train.py with a mmswtat distillation config; {fix}.')
    return student


def load_weights(model: nn.Module,
                 filename: str,
                 role: str = 'teacher',
                 strict: bool = True,
                 weights_only: bool = True,
                 fix: Optional[str] = None) -> Optional[dict]:
    """Load ``filename`` into ``model`` and check the keys.

    ``num_batches_tracked`` buffers missing from a checkpoint are fine.

    Args:
        model: Target model.
        filename: Path or URL.
        role: ``'teacher'`` or ``'student'`` (messages, config key names).
        strict: Missing or unexpected keys are an error (else a warning).
        weights_only: Safe unpickling (see :func:`load_checkpoint_file`).
        fix: What the key-mismatch message tells the user to do (default:
            check the architecture or set ``model.<role>_ckpt_strict``).

    Returns:
        The checkpoint's ``meta`` dict, if any.

    Raises:
        RuntimeError: Keys do not match (``strict``), naming a few of them.
    """
    checkpoint = load_checkpoint_file(filename, role, weights_only)
    load_state(model, extract_state_dict(checkpoint, filename, role), filename,
               role, strict, fix)
    return checkpoint.get('meta') if isinstance(checkpoint, dict) else None


def _nothing_loaded(state: Dict[str, torch.Tensor], filename: str, role: str,
                    wanted: int, missing: List[str],
                    unexpected: List[str]) -> str:
    """The message for a checkpoint of which no key fits the model."""
    prefixes = sorted({k.split('.')[0] for k in state})
    if role == 'teacher' and {'student', 'teacher'} & set(prefixes):
        why = ('it is a distillation checkpoint (keys student.*, teacher.*) '
               'of tools/train.py. As a teacher, give the teacher\'s own '
               'checkpoint (the model.teacher_ckpt of the run that wrote it), '
               'or export its student with tools/export_student.py and give '
               'that file')
    elif {'student', 'teacher'} & set(prefixes):
        why = ('it is a distillation checkpoint (keys student.*, teacher.*); '
               'export its student with tools/export_student.py and give '
               'that file')
    else:
        why = ('its keys start with ' + _head(prefixes) + ', the model\'s '
               'with ' + _head(sorted({k.split('.')[0]
                                       for k in missing})) +
               '; give a checkpoint of this architecture')
    return (f'{role} checkpoint {filename!r} does not match the {role} '
            f'model: none of its {len(state)} keys loads (0 of {wanted} '
            f'weights; {role}_ckpt_strict=False cannot help, the {role} '
            f'would keep random weights): {len(missing)} missing keys '
            f'[{_head(missing)}], {len(unexpected)} unexpected keys '
            f'[{_head(unexpected)}]. {why[0].upper()}{why[1:]}')


def check_finite_state(state: Dict[str, torch.Tensor], filename: str,
                       role: str) -> None:
    """Refuse a checkpoint with NaN or infinite weights: a model that loads
    them outputs garbage (a constant prediction scores a normal-looking
    mIoU), and only non-finite *losses* would be noticed.

    Raises:
        CheckpointError: Naming the file, how many tensors and which.
    """
    bad = [
        k for k, v in state.items() if isinstance(v, torch.Tensor)
        and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise CheckpointError(
            f'{role} checkpoint {filename!r} holds non-finite (NaN or inf) '
            f'weights in {len(bad)} of {len(state)} tensors '
            f'[{_head(bad)}]: the {role} would output garbage. Was it saved '
            'by a run that diverged? Give an earlier checkpoint of that run')


def load_state(model: nn.Module,
               state: Dict[str, torch.Tensor],
               filename: str,
               role: str = 'teacher',
               strict: bool = True,
               fix: Optional[str] = None) -> None:
    """Load a state dict into ``model``; the key check of :func:`load_weights`.

    Raises:
        CheckpointError: Non-finite weights (:func:`check_finite_state`).
        RuntimeError: Shapes or (``strict``) keys do not match, or no key
            of the checkpoint loads (whatever ``strict`` says).
    """
    check_finite_state(state, filename, role)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # size mismatches
        raise RuntimeError(
            f'{role} checkpoint {filename!r} does not fit the {role} model '
            f'(is it a checkpoint of this architecture?): {e}') from None
    missing = [
        k for k in result.missing_keys if not k.endswith('num_batches_tracked')
    ]
    unexpected = list(result.unexpected_keys)
    wanted = [
        k for k in model.state_dict() if not k.endswith('num_batches_tracked')
    ]
    if wanted and len(missing) == len(wanted):
        # Nothing loaded: an error whatever ``strict`` says.
        raise RuntimeError(
            _nothing_loaded(state, filename, role, len(wanted), missing,
                            unexpected))
    if missing or unexpected:
        msg = (f'{role} checkpoint {filename!r} does not match the {role} '
               f'model: {len(missing)} missing keys [{_head(missing)}], '
               f'{len(unexpected)} unexpected keys [{_head(unexpected)}]. ' +
               (fix or 'Is it a checkpoint of this architecture? Set '
                f'model.{role}_ckpt_strict=False to load it anyway.'))
        if strict:
            raise RuntimeError(msg)
        from mmengine.logging import print_log
        print_log(msg, logger='current', level=30)
