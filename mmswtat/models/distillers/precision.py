"""Precision of the frozen teacher's forward: choices, checks, autocast.

The teacher runs without gradients, so it needs no fp32: under bf16 or fp16
autocast its forward takes about half the time and activation memory. Only
that forward changes; its recorded features are cast back to fp32 before any
loss reads them (:func:`to_fp32`).
"""
import functools
import logging
import warnings
from contextlib import AbstractContextManager
from typing import Any, FrozenSet

import torch
from mmengine.logging import print_log

#: ``teacher_precision`` values: ``'auto'`` picks ``'bf16'`` where the
#: device runs it fast (:func:`has_fast_bf16`), else ``'fp32'``.
TEACHER_PRECISIONS = ('fp32', 'bf16', 'fp16', 'auto')
AUTOCAST_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
#: /proc/cpuinfo flags of CPUs with native bf16 arithmetic (AVX-512 BF16
#: dot products, AMX tiles); without them bf16 is emulated and can be slower.
FAST_BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')
REDUCED = (torch.bfloat16, torch.float16)


@functools.lru_cache(maxsize=None)
def cpu_flags() -> FrozenSet[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is
    no such file, e.g. macOS)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return frozenset(line.split(':', 1)[1].split())
    except OSError:
        pass
    return frozenset()


def has_fast_bf16(device_type: str) -> bool:
    """Whether ``device_type`` runs bf16 natively (fast).

    CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and newer); CPU: one of
    :data:`FAST_BF16_CPU_FLAGS`; any other device: ``False``.
    """
    if device_type == 'cuda':
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == 'cpu':
        return any(flag in cpu_flags() for flag in FAST_BF16_CPU_FLAGS)
    return False


def check_teacher_precision(precision: str) -> str:
    """Validate ``teacher_precision`` before the device is known.

    Raises:
        ValueError: Not one of :data:`TEACHER_PRECISIONS`, or ``'fp16'``
            without any GPU (CPUs have no fast fp16; ``'bf16'`` is their
            half precision).
    """
    if precision not in TEACHER_PRECISIONS:
        raise ValueError(f'teacher_precision must be one of '
                         f'{", ".join(map(repr, TEACHER_PRECISIONS))}, got '
                         f'{precision!r}')
    if precision == 'fp16' and not torch.cuda.is_available():
        raise ValueError(_FP16_ON_CPU)
    return precision


_FP16_ON_CPU = ("teacher_precision='fp16' needs a GPU: CPU autocast has no "
                "fast fp16; use teacher_precision='bf16' (or 'auto', which "
                "picks bf16 where the CPU runs it fast, else fp32)")


def resolve_teacher_precision(precision: str,
                              device_type: str,
                              log: bool = True) -> str:
    """The precision the teacher runs in on ``device_type``.

    Args:
        precision: One of :data:`TEACHER_PRECISIONS`.
        device_type: ``inputs.device.type``, e.g. ``'cpu'`` or ``'cuda'``.
        log: Log the choice (INFO) and, for bf16 on a device without fast
            bf16, warn (``UserWarning``) that it may be slower than fp32.

    Returns:
        ``'fp32'``, ``'bf16'`` or ``'fp16'``.

    Raises:
        ValueError: As :func:`check_teacher_precision`; ``'fp16'`` on a CPU.
    """
    check_teacher_precision(precision)
    fast = has_fast_bf16(device_type)
    chosen = precision
    if precision == 'auto':
        chosen = 'bf16' if fast else 'fp32'
    elif precision == 'fp16' and device_type == 'cpu':
        raise ValueError(_FP16_ON_CPU)
    if not log:
        return chosen
    why = (f' ({"fast" if fast else "no fast"} bf16 on {device_type})'
           if precision == 'auto' else '')
    print_log(
        f'SingleTeacherDistiller: teacher_precision={precision!r}: '
        f'the teacher runs in {chosen} on {device_type}{why}; its '
        'features reach the losses in fp32.',
        logger='current',
        level=logging.INFO)
    if chosen == 'bf16' and not fast:
        warnings.warn(f"teacher_precision='bf16': this {device_type} has "
                      'no native bf16 arithmetic (CPU flags '
                      f'{"/".join(FAST_BF16_CPU_FLAGS)}, or a CUDA GPU with '
                      'bf16), so the teacher may run slower than in fp32, '
                      'on an AVX2-only CPU many times slower (a 3x3 conv '
                      "measured 57x); 'auto' picks fp32 here.")
    return chosen


def teacher_autocast(precision: str,
                     device_type: str) -> AbstractContextManager:
    """The autocast context of the teacher's forward.

    ``'fp32'`` disables autocast, so the teacher runs in fp32 even inside
    an ``--amp`` training step; ``'bf16'``/``'fp16'`` autocast to that type.
    """
    if precision == 'fp32':
        return torch.autocast(device_type, enabled=False)
    return torch.autocast(device_type, dtype=AUTOCAST_DTYPES[precision])


def to_fp32(value: Any) -> Any:
    """``value`` with every bf16/fp16 tensor cast to fp32 (through tuples,
    lists and dicts; other tensors and values as they are). A container with
    nothing to cast is returned itself, so records that share an output
    (two recorders on one module) still share it."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in REDUCED else value
    if isinstance(value, (tuple, list)):
        items = [to_fp32(v) for v in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        return (type(value)(
            *items) if hasattr(value, '_fields') else type(value)(items))
    if isinstance(value, dict):
        items = {k: to_fp32(v) for k, v in value.items()}
        if all(items[k] is v for k, v in value.items()):
            return value
        return items
    return value
