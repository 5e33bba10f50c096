"""Median timing of one benchmark phase, a matmul throughput probe, and
seconds as text (:func:`fmt_s`)."""
import statistics
import time
from typing import Any, Callable, Dict, Optional

import torch

from .memory import PeakMemory


def time_phase(fn: Callable[[], Any], device: torch.device, warmup: int,
               repeats: int) -> Dict[str, Any]:
    """Median wall (and CPU) seconds of ``fn`` after ``warmup`` calls.

    Args:
        fn: One iteration of the phase.
        device: Where it runs (CUDA is synchronised around each call).
        warmup: Untimed calls first.
        repeats: Timed calls.

    Returns:
        ``median_s``, ``min_s``, ``max_s``, ``times_s``, ``median_cpu_s``,
        ``warmup``, ``repeats`` and the :class:`PeakMemory` fields.
    """
    mem = PeakMemory(device)
    mem.reset()

    def sync() -> None:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    out = dict(
        median_s=statistics.median(walls),
        min_s=min(walls),
        max_s=max(walls),
        times_s=walls,
        median_cpu_s=statistics.median(cpus),
        warmup=warmup,
        repeats=repeats)
    out.update(mem.read())
    return out


def calibrate_gflops(device: torch.device) -> float:
    """Sustained fp32 matmul GFLOP/s (for the skip estimates only)."""
    n = 1024 if device.type == 'cpu' else 8192
    a = torch.randn(n, n, device=device)
    a @ a
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    reps = 3
    for _ in range(reps):
        a @ a
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return 2.0 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def fmt_s(x: Optional[float]) -> str:
    """Seconds as ``'12.3 ms'`` below one second, else ``'1.23 s'``."""
    if x is None:
        return '-'
    return f'{x * 1e3:.1f} ms' if x < 1 else f'{x:.2f} s'
