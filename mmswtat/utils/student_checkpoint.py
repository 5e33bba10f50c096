"""The student of a distillation checkpoint: export it, or load it to test.

Library side of ``tools/export_student.py`` and ``tools/test.py``.
"""
import os
import os.path as osp
import tempfile
from typing import Dict, Tuple

import torch
import torch.nn as nn

from .checkpoint import (extract_state_dict, load_checkpoint_file, load_state,
                         student_weights)

PREFIX = 'student.'


def _training_checkpoint(path: str) -> bool:
    """Whether ``path`` is a training checkpoint (optimizer or message hub).
    """
    try:
        checkpoint = torch.load(
            path, map_location='cpu', mmap=True, weights_only=True)
    except Exception:  # noqa: BLE001  (not a (safe) torch file)
        try:
            checkpoint = torch.load(
                path, map_location='cpu', weights_only=True)
        except Exception:  # noqa: BLE001
            return False
    return isinstance(checkpoint, dict) and any(
        k in checkpoint
        for k in ('optimizer', 'message_hub', 'param_schedulers'))


def export_path(src: str, dst: str, force: bool = False) -> str:
    """Where :func:`export_student` writes: ``dst``, or a file in it.

    An existing directory ``dst`` gets ``<name of src>_student.pth``. An
    existing file is replaced only with ``force``, and never when it is a
    training checkpoint (its optimizer state would be lost).

    Raises:
        ValueError: The output is the input checkpoint itself, or an
            existing training checkpoint.
        FileExistsError: The output exists and ``force`` is not set.
    """
    if osp.isdir(dst):
        stem = osp.splitext(osp.basename(src))[0]
        dst = osp.join(dst, f'{stem}_student.pth')
    same = osp.realpath(src) == osp.realpath(dst) or (
        osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst))
    if same:
        stem = osp.splitext(dst)[0]
        raise ValueError(
            f'OUT {dst!r} is the distillation checkpoint itself: exporting '
            'would overwrite it and lose the optimizer state, connectors '
            'and meta (no --resume). Give another OUT, e.g. '
            f'{stem}_student.pth')
    if osp.isfile(dst) and _training_checkpoint(dst):
        stem = osp.splitext(dst)[0]
        raise ValueError(
            f'OUT {dst!r} is an existing training '
            'checkpoint (it has optimizer state): export never replaces one, '
            f'even with --force. Give another OUT, e.g. {stem}_student.pth')
    from .output_files import check_output_path
    return check_output_path(dst, force, '')


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_save(obj: dict, dst: str, replace: bool = True) -> None:
    """``torch.save`` to a temporary file next to ``dst``, then rename.

    An interrupted save leaves no half-written file at ``dst``. The file
    gets the mode ``torch.save`` would give it (``0666`` less the umask;
    the temporary file is ``0600``).

    Args:
        obj: What to save.
        dst: The file.
        replace: Replace an existing ``dst``; else the file appears only if
            ``dst`` still does not exist when it is complete (an exclusive
            hard link), so of two saves to one new path the second fails
            instead of silently replacing the first.

    Raises:
        FileExistsError: ``dst`` exists (``replace=False``).
    """
    folder = osp.dirname(osp.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(dst)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
        os.chmod(tmp, 0o666 & ~_umask())
        if replace:
            os.replace(tmp, dst)
        else:
            try:
                os.link(tmp, dst)  # fails if dst exists, atomically
            except FileExistsError:
                raise FileExistsError(
                    f'{dst!r} appeared while it was written (another '
                    'export to the same OUT?); it was kept. Give another '
                    'OUT, or --force to replace it') from None
            os.remove(tmp)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def export_student(src: str,
                   dst: str,
                   weights_only: bool = True,
                   force: bool = False) -> Tuple[str, int]:
    """Write the student of ``src`` as a plain model checkpoint.

    Keys lose the ``student.`` prefix; the teacher, connectors, embeddings,
    optimizer and message hub are left out.

    Args:
        src: A distillation checkpoint of ``tools/train.py``.
        dst: Output file, or an existing directory (see :func:`export_path`).
        weights_only: Safe loading of ``src``.
        force: Replace an existing ``dst`` (never a training checkpoint).

    Returns:
        ``(path written, number of tensors)``.

    Raises:
        ValueError: ``dst`` is ``src`` or a training checkpoint, or ``src``
            holds no ``student.*`` weights.
        FileExistsError: ``dst`` exists and ``force`` is not set.
        CheckpointError: ``src`` cannot be read (see
            :func:`load_checkpoint_file`).
    """
    import mmswtat
    dst = export_path(src, dst, force)
    checkpoint = load_checkpoint_file(src, 'distillation', weights_only,
                                      '--no-weights-only')
    student = student_weights(
        extract_state_dict(checkpoint, src, 'distillation'), src,
        'a plain model checkpoint needs no export')
    meta = dict(checkpoint.get('meta') or {})
    out_meta = {
        k: meta[k]
        for k in ('dataset_meta', 'iter', 'epoch', 'mmengine_version')
        if k in meta
    }
    out_meta.update(
        exported_from=osp.abspath(src), mmswtat_version=mmswtat.__version__)
    atomic_save(dict(state_dict=student, meta=out_meta), dst, replace=force)
    return dst, len(student)


def is_distillation_state(state: Dict[str, torch.Tensor]) -> bool:
    """Whether a state dict holds ``student.*`` weights."""
    return any(k.startswith(PREFIX) for k in state)


def load_test_student(model: nn.Module,
                      filename: str,
                      weights_only: bool = True) -> str:
    """Load a distillation or an exported student checkpoint to test.

    Args:
        model: The (unwrapped) distiller; its ``student`` gets the weights.
        filename: A ``tools/train.py`` checkpoint of a distillation config
            (``student.*`` keys) or an exported / plain checkpoint of the
            student model (keys of the student itself).
        weights_only: Safe loading.

    Returns:
        ``'distillation'`` or ``'student'``: what the file was.

    Raises:
        ValueError: Neither: e.g. a teacher or another model's checkpoint.
    """
    state = extract_state_dict(
        load_checkpoint_file(filename, 'test', weights_only), filename, 'test')
    if is_distillation_state(state):
        state = student_weights(state, filename)
        kind = 'distillation'
    else:
        kind = 'student'
    try:
        load_state(
            model.student,
            state,
            filename,
            'student',
            strict=True,
            fix="Is it a checkpoint of this config's student?")
    except RuntimeError as e:
        if kind == 'distillation':
            raise ValueError(
                f'{e} (was it trained with another student config?)') from None
        some = ', '.join(list(state)[:3])
        raise ValueError(
            f'checkpoint {filename!r} does not fit this distillation '
            "config: this is a teacher/plain model checkpoint: its keys do "
            f'not start with student. (they start with: {some}) and do not '
            "match the config's student model either. Give the checkpoint "
            'tools/train.py wrote with this config, or its export '
            f'(tools/export_student.py). Detail: {e}') from None
    return kind


def load_test_plain(model: nn.Module,
                    filename: str,
                    weights_only: bool = True) -> str:
    """Load a checkpoint into the model of a plain (non-distillation) config.

    A distillation checkpoint's ``student.*`` weights are loaded (the plain
    config is then the student's config); any other checkpoint loads as it
    is. Unlike mmengine's ``load_from``, a checkpoint of which no key fits
    the model is an error, never a random model to score.

    Args:
        model: The (unwrapped) model of the config.
        filename: The checkpoint.
        weights_only: Safe loading.

    Returns:
        ``'distillation'`` (its student was loaded) or ``'plain'``.

    Raises:
        ValueError: No key of the checkpoint fits, or shapes differ (naming
            the checkpoint; for a distillation checkpoint, the fix is its
            distillation config or another student config).
    """
    state = extract_state_dict(
        load_checkpoint_file(filename, 'test', weights_only), filename, 'test')
    kind = 'plain'
    if is_distillation_state(state):
        state = student_weights(state, filename)
        kind = 'distillation'
    try:
        load_state(
            model,
            state,
            filename,
            'test',
            strict=False,
            fix='Is it a checkpoint of this config\'s model?')
    except RuntimeError as e:
        if kind == 'distillation':
            raise ValueError(
                f'{e}. Its student.* weights do not fit this config\'s '
                'model: test it with the distillation config it was '
                'trained with (tools/test.py DISTILL_CONFIG CKPT) or with '
                "that config's student config") from None
        raise ValueError(str(e)) from None
    return kind
