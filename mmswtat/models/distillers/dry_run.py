"""A build-time dry run: shapes and channels checked before the first step.

Student and teacher run once, in eval mode and without gradients, on a tiny
all-zero batch (``1 x C x 64 x 64``); every loss then gets its inputs as in
training (recorder level, tuple index, connector; an all-valid
``valid_mask`` where the mapping asks for one) and checks them
(``check_inputs``), so a wrong index, a connector with the wrong
``in_channels`` or a channel mismatch stops the build, naming the loss or
connector and both shapes. Nothing changes: no parameter, buffer, BN
statistic or random state is touched. Where the forward itself cannot run
on a dummy batch (e.g. a model that needs real data samples), the dry run
is skipped and the same checks happen at the first step.
"""
import logging
import math
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .checks import named
from .recorder import RecorderCallError, RecordModifiedError
from .teacher import (choose_forward, normalisation, not_reached_fix,
                      record_forward)

SIZE = 64


@contextmanager
def _eval(*modules: nn.Module) -> Iterator[None]:
    """Eval mode inside, each submodule's own mode restored after."""
    flags = [(m, m.training) for root in modules for m in root.modules()]
    try:
        for root in modules:
            root.eval()
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def _skip(role: str, error: Exception) -> None:
    print_log(
        f'SingleTeacherDistiller: no build-time dry run of the {role} '
        f'({type(error).__name__}: {error}); its features are checked '
        'at the first step',
        logger='current',
        level=logging.DEBUG)


def _records(distiller: nn.Module,
             inputs: torch.Tensor) -> Optional[Tuple[Dict, Dict]]:
    """Student and teacher records of the dummy batch, or ``None``."""
    frozen = distiller.frozen_teacher  # its forward, in fp32, no logging
    # The whole forward, not stopped at the last record: a module that
    # runs again after it was recorded is counted (RecorderCallError).
    stop, frozen.recorder.stop_when_done = frozen.recorder.stop_when_done, \
        False
    try:
        teacher = record_forward(
            frozen.model, frozen.recorder,
            frozen.inputs(inputs), None, frozen.mode,
            not_reached_fix(frozen.mode)) if frozen.recorder.names else {}
    except (RecordModifiedError, RecorderCallError):  # so in training too
        raise
    except RuntimeError as e:
        if 'were not reached' in str(e):  # the training forward itself
            raise
        return _skip('teacher', e)
    except Exception as e:  # noqa: BLE001  (any model-specific failure)
        return _skip('teacher', e)
    finally:
        frozen.recorder.stop_when_done = stop
    recorder = distiller.student_recorder
    try:
        mode = choose_forward(distiller.student, recorder.paths.values())
        student = record_forward(distiller.student, recorder, inputs, None,
                                 mode, 'the dry run')
    except (RecordModifiedError, RecorderCallError):
        raise
    except Exception as e:  # noqa: BLE001  (student.loss may reach more)
        return _skip('student', e)
    return student, teacher


def _tensors(output: Any):
    """The tensors of a record (a tensor, or a tuple/list of levels)."""
    if isinstance(output, (tuple, list)):
        for item in output:
            yield from _tensors(item)
    elif isinstance(output, torch.Tensor):
        yield output


def _warn_constant_teacher(distiller: nn.Module, teacher: Dict) -> None:
    """Warn about a teacher feature with one value everywhere on the dry
    run's batch. A trained network's feature differs between channels and
    at the borders even for an all-zero input; a constant one comes from a
    broken teacher (e.g. an all-zero checkpoint), onto which the student
    would be regressed. A teacher without a checkpoint (random weights,
    warned at the first step) is skipped: untrained BN layers map the
    all-zero batch to zeros everywhere."""
    if getattr(distiller, '_random_teacher', False):
        return
    paths = distiller.frozen_teacher.recorder.paths
    for name, output in teacher.items():
        for x in _tensors(output):
            if x.numel() > 1 and bool(x.max() == x.min()):
                print_log(
                    f'SingleTeacherDistiller: teacher recorder {name!r} '
                    f'({paths.get(name)!r}) gives a constant feature (every '
                    f'value {float(x.flatten()[0]):g}) on the build-time dry '
                    'run: is model.teacher_ckpt an all-zero or broken '
                    'checkpoint? The student would be distilled towards a '
                    'constant; check the teacher (tools/test.py TEACHER_CFG '
                    'TEACHER_CKPT)',
                    logger='current',
                    level=logging.WARNING)
                break


def _crop(pre: nn.Module) -> Optional[Tuple[int, int]]:
    """The preprocessor's fixed padding size ``(H, W)``, if it has one."""
    size = getattr(pre, 'size', None)
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(
            isinstance(s, int) for s in size):
        return tuple(size)
    return None


def _check_inputs(module: nn.Module, student: Any, teacher: Any,
                  mask: Optional[torch.Tensor]) -> None:
    """``module.check_inputs`` as its forward will be called (a mask only
    for the masked losses, as ``LossBank.forward`` passes one)."""
    check = getattr(module, 'check_inputs', None)
    if check is None:
        return
    if mask is None:
        check(student, teacher)
    else:
        check(student, teacher, mask)


def dry_run(distiller: nn.Module) -> None:
    """Check every loss's inputs on a dummy batch (see the module doc).

    Args:
        distiller: A built ``SingleTeacherDistiller``.

    Raises:
        ValueError, IndexError: A loss or connector cannot take its
            features (naming it and the shapes); a ``PatchMergeTaTLoss``
            merges more than the map at the preprocessor's ``size`` allows.

    A window or shift that cannot take effect on the map at the
    preprocessor's ``size`` is a warning (``BaseTaTLoss.check_map_size``).
        RuntimeError: A teacher recorder its training forward never reaches.
    """
    head = distiller.loss_bank
    if not head.routes:
        return
    pre = distiller.data_preprocessor
    norm = normalisation(pre)
    channels = norm[0].numel() if norm is not None else 3
    inputs = torch.zeros(1, channels, SIZE, SIZE)
    crop = _crop(pre)
    with torch.no_grad(), _eval(distiller.student, head):
        records = _records(distiller, inputs)
        if records is None:
            return
        _warn_constant_teacher(distiller, records[1])
        labels = torch.zeros(1, 1, SIZE, SIZE, dtype=torch.long)
        for item in head.loss_inputs(*records, labels=labels):
            where = f'distill loss {item.name!r}' + (
                '' if item.level is None else f' (level {item.level})')
            with named(where):
                _check_inputs(item.module, item.student, item.teacher,
                              item.valid_mask)
                # Map size at the training crop (maps scale with the input
                # unless a teacher connector resizes them).
                if crop is not None and hasattr(item.module, 'pass_layouts') \
                        and item.teacher.dim() == 4 and head.routes[
                            item.name].teacher.connector is None:
                    h, w = item.teacher.shape[-2:]
                    size = (math.ceil(crop[0] * h / SIZE),
                            math.ceil(crop[1] * w / SIZE))
                    check = getattr(item.module, 'check_map_size', None)
                    if check is not None:  # warns: windows without effect
                        item.module.owner = where
                        check(*size)
                    else:
                        item.module.pass_layouts(*size)
