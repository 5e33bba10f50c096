"""Running benchmark cases: in this process or each in a fresh interpreter.

An isolated case runs as ``python -m mmswtat.benchmark.worker SPEC_JSON``,
which prints its result on a line starting with :data:`RESULT_TAG`; so the
memory high-water mark of a case is its own.
"""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Any, Dict, List, Optional

import torch

from .loss_cases import run_loss_case
from .report import fmt_s, save
from .step import run_step_case

RESULT_TAG = 'BENCHMARK_RESULT '
#: Settings of ``--quick``, a smoke run: tiny shapes, one repeat, in-process,
#: one thread (on a busy machine OpenMP barriers of several threads make tiny
#: ops very slow). The step crop becomes 32 unless one is given.
QUICK_SETTINGS: Dict[str, Any] = dict(
    isolate=False,
    threads=1,
    sizes=[8],
    channels=[(16, 32), (16, 16)],
    window=4,
    shift=2,
    max_tokens=16,
    warmup=1,
    repeats=1,
    step_warmup=0,
    step_repeats=1)


def apply_quick_settings(args: Dict[str, Any], given: Any) -> List[str]:
    """``--quick``: :data:`QUICK_SETTINGS` (and crop 32) where not given.

    Args:
        args: The parsed options (``vars(namespace)``), updated in place.
        given: The options the user typed (their ``dest``); those are kept.

    Returns:
        ``'--opt VALUE (quick: Q)'`` for every given value that differs
        from the quick one (the tool says so).
    """
    quick = dict(QUICK_SETTINGS, crops=[32])
    kept = [
        f'--{k.replace("_", "-")} {args[k]} (quick: {v})'
        for k, v in quick.items() if k in given and args[k] != v
    ]
    args.update({k: v for k, v in quick.items() if k not in given})
    return kept


# The directory that holds the mmswtat package (importable by the worker).
_PACKAGE_PARENT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def check_device(name: str) -> str:
    """``name`` if the benchmark can run there: ``'auto'``, ``'cpu'`` or
    ``'cuda[:i]'`` of an available GPU.

    Raises:
        ValueError: Another name, or CUDA that this machine does not have.
    """
    if name in ('auto', 'cpu'):
        return name
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"must be 'auto', 'cpu' or 'cuda[:i]', got "
                         f'{name!r}') from None
    if device.type != 'cuda':
        raise ValueError(f"must be 'auto', 'cpu' or 'cuda[:i]', got {name!r}")
    if not torch.cuda.is_available():
        raise ValueError(f'{name!r}: no CUDA GPU is available here; use '
                         "--device cpu (or 'auto')")
    if device.index is not None and device.index >= \
            torch.cuda.device_count():
        raise ValueError(f'{name!r}: this machine has '
                         f'{torch.cuda.device_count()} GPU(s)')
    return name


def resolve_device(name: str) -> torch.device:
    """``'auto'`` (CUDA if available, else CPU), ``'cpu'`` or ``'cuda[:i]'``.
    """
    return torch.device('cuda' if name == 'auto' and torch.cuda.is_available()
                        else ('cpu' if name == 'auto' else name))


def run_case(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Run one loss or step case here, with its thread count.

    Args:
        spec: A case (``kind`` ``'loss'`` or ``'step'``).

    Returns:
        Its timing and memory result.
    """
    torch.set_num_threads(spec['threads'])
    if spec['kind'] == 'loss':
        return run_loss_case(spec)
    return run_step_case(spec)


def worker_main(spec_json: str) -> Dict[str, Any]:
    """Run the case ``spec_json`` and print its result for the parent.

    Args:
        spec_json: The case as JSON.

    Returns:
        The result (also printed after :data:`RESULT_TAG`).
    """
    result = run_case(json.loads(spec_json))
    print(RESULT_TAG + json.dumps(result), flush=True)
    return result


# glibc: serve every allocation >= 128 KiB by mmap and return it on free, so
# the resident set follows the live tensors (the default dynamic threshold
# keeps freed blocks up to 32 MiB in the heap, which inflates the high-water
# mark by whatever happened to be retained). Slower (page faults), hence
# only for a separate memory run.
EXACT_MEMORY_ENV = {'MALLOC_MMAP_THRESHOLD_': str(128 * 1024)}


def run_isolated(spec: Dict[str, Any],
                 timeout: float,
                 extra_env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Run one case in a fresh interpreter; its result or the error tail.

    Args:
        spec: The case.
        timeout: Seconds before it is abandoned.
        extra_env: Environment variables set for it.

    Returns:
        Its result, or ``{'error': ...}``.
    """
    cmd = [sys.executable, '-m', 'mmswtat.benchmark.worker', json.dumps(spec)]
    env = dict(os.environ)
    env['PYTHONPATH'] = (
        _PACKAGE_PARENT + os.pathsep + env.get('PYTHONPATH', ''))
    env.update(extra_env or {})
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return dict(error=f'timed out after {timeout:.0f} s')
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
    return dict(error=f'exit {proc.returncode}: ' + ' | '.join(tail))


def execute(spec: Dict[str, Any],
            *,
            isolate: bool = True,
            case_timeout: float = 1800,
            cpu_memory: str = 'exact') -> Dict[str, Any]:
    """Time one case; on CPU with ``cpu_memory='exact'`` measure its memory
    in a second, separate run (one iteration, exact-memory allocator).

    Args:
        spec: The case.
        isolate: Run it in a fresh interpreter (else here; an exception is
            then reported as the case's ``error``).
        case_timeout: Seconds before an isolated run is abandoned.
        cpu_memory: ``'exact'`` or ``'fast'`` (the timing run's high-water
            mark, inflated by allocator retention).

    Returns:
        The result, or ``{'error': ...}``.
    """
    if not isolate:
        try:
            return run_case(spec)
        except Exception as e:  # keep the other cases going, report this
            return dict(error=f'{type(e).__name__}: {e}')
    result = run_isolated(spec, case_timeout)
    if ('error' in result or spec['device'] != 'cpu' or cpu_memory != 'exact'):
        return result
    mem = run_isolated(
        dict(spec, warmup=0, repeats=1), case_timeout, EXACT_MEMORY_ENV)
    if 'error' in mem:
        result['memory_error'] = mem['error']
        return result
    result['timing_run_peak_mib'] = result['peak_mib']
    result['timing_run_peak_delta_mib'] = result['peak_delta_mib']
    result['peak_mib'] = mem['peak_mib']
    result['peak_delta_mib'] = mem['peak_delta_mib']
    result['memory_method'] = (
        mem['memory_method'] + ', separate one-'
        'iteration run with MALLOC_MMAP_THRESHOLD_=' +
        EXACT_MEMORY_ENV['MALLOC_MMAP_THRESHOLD_'])
    return result


def loadavg() -> Optional[float]:
    """The 1-minute load average, or ``None`` where unknown."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def run_part(report: Dict[str, Any], part: str, cases: List[Dict[str, Any]],
             out: str, **execute_options: Any) -> None:
    """Run the cases of one part, printing a line and saving after each.

    Each case dict is updated in place with its result and the load average
    before and after; skipped cases (``skip``) are only printed.

    Args:
        report: The report; ``report[part]`` becomes ``cases``.
        part: ``'loss'`` or ``'step'``.
        cases: The planned cases.
        out: JSON path, rewritten after every case (a killed run keeps
            its cases).
        **execute_options: Forwarded to :func:`execute`.
    """
    report[part] = cases
    for i, spec in enumerate(cases):
        label = (
            f"[{part} {i + 1}/{len(cases)}] " +
            (f"{spec['loss']} {spec['mode']} {spec['cs']}->"
             f"{spec['ct']} {spec['size']}x{spec['size']}" if part == 'loss'
             else f"{spec['phase']} crop {spec['crop']} teacher "
             f"{spec.get('teacher_precision', 'fp32')}"))
        if 'skip' in spec:
            print(f"{label}: skipped ({spec['skip']})", flush=True)
            continue
        spec['loadavg_before'] = loadavg()
        spec.update(execute(spec, **execute_options))
        spec['loadavg_after'] = loadavg()
        print(
            f'{label}: ' + (spec['error'] if 'error' in spec else
                            f"{fmt_s(spec['median_s'])}, peak "
                            f"{spec['peak_mib']:.0f} MiB (+"
                            f"{spec['peak_delta_mib']:.0f})"),
            flush=True)
        save(report, out)
