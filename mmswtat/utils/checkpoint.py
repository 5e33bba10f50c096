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
    if role == 'load_from':
        return 'load_from'
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
    """Refuse a checkpoint with NaN or infinite weights, or with zeros in
    every conv/linear kernel: a model that loads them outputs garbage or a
    constant (a constant prediction scores a normal-looking mIoU), and
    only non-finite *losses* would be noticed. One zero kernel (a
    zero-initialised layer) is legal.

    Raises:
        CheckpointError: Naming the file, how many tensors and which.
    """
    bad = [
        k for k, v in state.items() if isinstance(v, torch.Tensor)
        and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    model = 'model' if role == 'load_from' else role
    if bad:
        raise CheckpointError(
            f'{role} checkpoint {filename!r} holds non-finite (NaN or inf) '
            f'weights in {len(bad)} of {len(state)} tensors '
            f'[{_head(bad)}]: the {model} would output garbage. Was it saved '
            'by a run that diverged? Give an earlier checkpoint of that run')
    kernels = [
        v for k, v in state.items()
        if k.endswith('weight') and isinstance(v, torch.Tensor)
        and v.is_floating_point() and v.dim() >= 2
    ]
    if kernels and not any(bool(v.any()) for v in kernels):
        raise CheckpointError(
            f'{role} checkpoint {filename!r} holds only zeros in all its '
            f'{len(kernels)} conv/linear kernels: the {model} would output '
            'the same values for every input (one class everywhere, which '
            'still scores a normal-looking metric). Was it saved from a '
            'zeroed or never-trained model? Give the checkpoint of a '
            'trained run')


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


def peek_checkpoint(filename: str) -> Optional[dict]:
    """A checkpoint read for a check: memory-mapped where possible (no
    tensor data read), safely (as mmengine loads it under torch >= 2.6).

    Returns:
        The checkpoint, or ``None`` where it cannot be read safely (a legacy
        or remote file: the loader that follows gives its own error).
    """
    if not isinstance(filename, (str, os.PathLike)):
        return None
    filename = os.fspath(filename)
    if not osp.isfile(filename):
        return None
    try:
        return torch.load(
            filename, map_location='cpu', mmap=True, weights_only=True)
    except Exception:  # noqa: BLE001  (legacy format: a full load)
        try:
            return torch.load(filename, map_location='cpu', weights_only=True)
        except Exception:  # noqa: BLE001
            return None


def _shapes(state: Dict[str, torch.Tensor]) -> Dict[str, tuple]:
    """``{name: shape}`` of the weights (no ``num_batches_tracked``)."""
    return {
        k: tuple(v.shape)
        for k, v in state.items()
        if hasattr(v, 'shape') and not k.endswith('num_batches_tracked')
    }


def _fitting(theirs: Dict[str, tuple],
             ours: Dict[str, tuple],
             prefix: str = '') -> int:
    """How many of ``theirs`` load into ``ours`` under ``prefix`` (same
    name and shape)."""
    return sum(ours.get(prefix + k) == v for k, v in theirs.items())


def check_load_from(model: nn.Module, filename: str) -> None:
    """Refuse a ``load_from`` checkpoint of which no weight fits the model.

    mmengine loads ``load_from`` non-strictly: with no key in common it
    prints the key lists and trains from random weights. Like
    ``model.teacher_ckpt`` and ``model.student_ckpt`` (:func:`load_state`),
    a checkpoint of which nothing loads is an error; for a distiller the
    student's weights count (the teacher has its own ``teacher_ckpt``). A
    partial fit (fine-tuning with another head) loads as mmengine does,
    with one warning line saying how much loaded.

    Args:
        model: The runner's model (unwrapped).
        filename: The config's ``load_from``.

    Raises:
        FileNotFoundError, IsADirectoryError, CheckpointError: A local
            file that is missing, a directory, empty, truncated or not a
            torch checkpoint (:func:`_read`'s messages, naming load_from).
        CheckpointError: No weight fits, naming the file, what it is (a
            teacher or student checkpoint in a distillation config, a
            distillation checkpoint in a plain config, another model) and
            the key to use instead.
    """
    checkpoint = peek_checkpoint(filename)
    if checkpoint is None:
        if not isinstance(filename, (str, os.PathLike)) or os.fspath(
                filename).startswith(_REMOTE) or '://' in os.fspath(filename):
            return  # mmengine fetches (or refuses) it
        try:  # a missing, empty, text or corrupt file: named, with the key
            _read(os.fspath(filename), 'load_from', True, SAFE_OPT_IN)
        except UnsafeCheckpointError:  # mmengine reads (or refuses) it
            return
        return
    state = extract_state_dict(checkpoint, filename, 'load_from')
    theirs, ours = _shapes(state), _shapes(model.state_dict())
    distiller = any(k.startswith('student.') for k in ours)
    wanted = [k for k in ours if k.startswith('student.') or not distiller]
    fits = [k for k in wanted if theirs.get(k) == ours[k]]
    check_finite_state({k: state[k] for k in fits}, filename, 'load_from')
    if fits or not wanted:
        if len(fits) < len(wanted):
            from mmengine.logging import print_log
            rest = [k for k in wanted if k not in fits]
            print_log(
                f'load_from: {len(fits)} of the {len(wanted)} weights of '
                f'the {"student" if distiller else "model"} load from '
                f'{filename!r}; {len(rest)} keep their initial values '
                f'[{_head(rest)}]',
                logger='current',
                level=30)
        return
    teacher = getattr(model, 'teacher', None) if distiller else None
    raise CheckpointError(
        _load_from_mismatch(
            theirs, ours, filename, distiller, len(wanted),
            _shapes(teacher.state_dict())
            if isinstance(teacher, nn.Module) else {}))


def _load_from_mismatch(theirs: Dict[str, tuple], ours: Dict[str, tuple],
                        filename: str, distiller: bool, wanted: int,
                        teacher: Dict[str, tuple]) -> str:
    """The message of :func:`check_load_from` (nothing fits); ``teacher``:
    the shapes of a distiller's teacher (not in its state dict)."""
    what = 'student' if distiller else 'model'
    head = (f'load_from: checkpoint {filename!r} does not fit this config\'s '
            f'{what}: none of its {len(theirs)} weights loads (0 of '
            f'{wanted}; mmengine would train from random weights)')
    prefixes = sorted({k.split('.')[0] for k in theirs})
    if distiller and not {'student', 'teacher'} & set(prefixes):
        fit = dict(
            teacher=_fitting(theirs, teacher),
            student=_fitting(theirs, ours, 'student.'))
        roles = [r for r, n in fit.items() if 2 * n > len(theirs)]
        if roles:
            keys = ' or '.join(f'model.{r}_ckpt' for r in roles)
            return (f'{head}: it is a checkpoint of the {" and ".join(roles)} '
                    'model alone, and this config trains a distiller, whose '
                    'weights are student.* (the teacher loads its own '
                    'model.teacher_ckpt). Give it as '
                    f'{keys} (--cfg-options model.{roles[-1]}_ckpt={filename} '
                    'load_from=None); load_from takes a checkpoint that '
                    'tools/train.py wrote with a distillation config')
        return (f'{head}: it holds no student.* weights, and its keys fit '
                'neither the teacher nor the student model (keys start '
                f'with {_head(prefixes)}). Give the teacher\'s checkpoint '
                'as model.teacher_ckpt, the student\'s as '
                'model.student_ckpt, and as load_from only a checkpoint '
                'that tools/train.py wrote with this config')
    if distiller:
        return (f'{head}: it is a distillation checkpoint of another '
                'student (none of its student.* weights fits this '
                "config's student). Give as load_from a checkpoint that "
                'tools/train.py wrote with this config, or start the '
                "student from its own checkpoint with model.student_ckpt")
    if 'student' in prefixes:
        student = {
            k[len('student.'):]: v
            for k, v in theirs.items() if k.startswith('student.')
        }
        if _fitting(student, ours):
            return (f'{head}: it is a distillation checkpoint (keys '
                    'student.*) and this config trains a plain '
                    'model. Export its student first: python '
                    f'tools/export_student.py {filename} STUDENT.pth, then '
                    'set load_from=STUDENT.pth')
        return (f'{head}: it is a distillation checkpoint (keys '
                'student.*), and its student is another architecture than '
                'this model: train with the distillation config that wrote '
                'it, or give a checkpoint of this model')
    return (f'{head}: its keys start with {_head(prefixes)}, the '
            f'{what}\'s with '
            f'{_head(sorted({k.split(".")[0] for k in ours}))}. Give a '
            'checkpoint of this architecture as load_from')
