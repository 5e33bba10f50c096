"""Safe checkpoint loading for teachers and students."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional

import torch
import torch.nn as nn

_REMOTE = ('http://', 'https://')


def load_checkpoint_file(filename: str,
                         role: str = 'teacher',
                         weights_only: bool = True) -> dict:
    """Load a checkpoint (path, http(s) URL or mmengine scheme) onto the CPU.

    ``weights_only=True`` (the default, and torch's) refuses pickled code;
    pass ``False`` only for files you trust (documented opt-in).

    Raises:
        FileNotFoundError: A local path that does not exist.
        RuntimeError: A URL that cannot be fetched (e.g. offline).
    """
    if filename.startswith(_REMOTE):
        try:
            return torch.hub.load_state_dict_from_url(
                filename, map_location='cpu', weights_only=weights_only)
        except Exception as e:  # URLError, HTTPError, socket errors
            raise RuntimeError(
                f'{role} checkpoint {filename!r} could not be downloaded '
                f'({type(e).__name__}: {e}). Offline? Download it elsewhere '
                f'and pass the local path, e.g. --cfg-options '
                f'model.{role}_ckpt=/path/to/file.pth') from e
    if '://' in filename:  # open-mmlab://, s3:// ... via mmengine
        from mmengine.runner import CheckpointLoader
        return CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'{role} checkpoint {filename!r} does not exist; set '
            f'model.{role}_ckpt to a checkpoint file or URL')
    return torch.load(filename, map_location='cpu', weights_only=weights_only)


def extract_state_dict(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """The model weights of a checkpoint, without a DDP ``module.`` prefix."""
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else checkpoint
    if not isinstance(state, dict):
        raise TypeError(f'not a checkpoint: got {type(state).__name__}')
    return OrderedDict((k[7:] if k.startswith('module.') else k, v)
                       for k, v in state.items())


def _head(names: List[str], n: int = 5) -> str:
    more = f' ... (+{len(names) - n} more)' if len(names) > n else ''
    return ', '.join(names[:n]) + more


def student_weights(state: Dict[str, torch.Tensor],
                    filename: str,
                    fix: str = 'a plain or exported student checkpoint has '
                    'none') -> Dict[str, torch.Tensor]:
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
    student = {k[len(prefix):]: v for k, v in state.items()
               if k.startswith(prefix)}
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
    load_state(model, extract_state_dict(checkpoint), filename, role, strict,
               fix)
    return checkpoint.get('meta') if isinstance(checkpoint, dict) else None


def load_state(model: nn.Module,
               state: Dict[str, torch.Tensor],
               filename: str,
               role: str = 'teacher',
               strict: bool = True,
               fix: Optional[str] = None) -> None:
    """Load a state dict into ``model``; the key check of :func:`load_weights`.

    Raises:
        RuntimeError: Shapes or (``strict``) keys do not match.
    """
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # size mismatches
        raise RuntimeError(
            f'{role} checkpoint {filename!r} does not fit the {role} model '
            f'(is it a checkpoint of this architecture?): {e}') from None
    missing = [k for k in result.missing_keys
               if not k.endswith('num_batches_tracked')]
    unexpected = list(result.unexpected_keys)
    if missing or unexpected:
        msg = (f'{role} checkpoint {filename!r} does not match the {role} '
               f'model: {len(missing)} missing keys [{_head(missing)}], '
               f'{len(unexpected)} unexpected keys [{_head(unexpected)}]. '
               + (fix or 'Is it a checkpoint of this architecture? Set '
                  f'model.{role}_ckpt_strict=False to load it anyway.'))
        if strict:
            raise RuntimeError(msg)
        from mmengine.logging import print_log
        print_log(msg, logger='current', level=30)
