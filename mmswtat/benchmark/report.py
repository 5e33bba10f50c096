"""Benchmark reports: Markdown tables, summaries, JSON files and merging.

A report is a dict: ``machine`` (see :func:`machine_info`), ``settings``,
the ``loss`` and ``step`` case lists, and the rendered ``loss_table``,
``loss_summary``, ``step_table`` and ``step_summary``.
"""
import json
import os
import platform
import time
from typing import Any, Dict, List, Optional

import torch

from .step_report import step_table
from .timing import fmt_s


def loss_table(cases: List[Dict[str, Any]]) -> str:
    """Markdown table of the loss cases run (or skipped), with the speed-up
    of each loss over global TaT at the same shape and mode."""
    rows = [
        '| C_s->C_t | map | mode | loss | fwd+bwd (median) | speed-up vs TaT '
        '| peak mem (delta) |', '|---|---|---|---|---:|---:|---:|'
    ]
    ref = {}
    for c in cases:
        if c['loss'] == 'tat' and 'median_s' in c:
            ref[(c['cs'], c['ct'], c['size'], c['mode'])] = c['median_s']
    for c in cases:
        if not any(k in c for k in ('median_s', 'skip', 'error')):
            continue  # not run yet
        key = (c['cs'], c['ct'], c['size'], c['mode'])
        head = (f"| {c['cs']}->{c['ct']} | {c['size']}x{c['size']} | "
                f"{c['mode']} | {c['loss']} ")
        if 'skip' in c or 'error' in c:
            why = c.get('skip') or c.get('error')
            rows.append(head + f'| skipped: {why} | | |')
            continue
        ratio = (f'{ref[key] / c["median_s"]:.1f}x'
                 if key in ref and c['loss'] != 'tat' else
                 ('1.0x' if c['loss'] == 'tat' else 'n/a (global skipped)'))
        rows.append(head + f"| {fmt_s(c['median_s'])} | {ratio} | "
                    f"{c['peak_delta_mib']:.0f} MiB |")
    return '\n'.join(rows)


def loss_summary(cases: List[Dict[str, Any]]) -> List[str]:
    """Speed-up of SW-TaT over global TaT and its memory growth with H*W."""
    lines = []
    done = {
        (c['loss'], c['mode'], c['cs'], c['ct'], c['size']): c
        for c in cases if 'median_s' in c
    }
    keys = sorted({k[1:4] for k in done})
    for mode, cs, ct in keys:
        sizes = sorted(k[4] for k in done if k[:4] == ('swtat', mode, cs, ct))
        for size in sizes:
            sw = done[('swtat', mode, cs, ct, size)]
            tat = done.get(('tat', mode, cs, ct, size))
            if tat is not None:
                lines.append(
                    f'{mode} {cs}->{ct} {size}x{size}: SWTaTLoss speed-up '
                    'over global TaTLoss '
                    f"{tat['median_s'] / sw['median_s']:.1f}x")
        mems = [(s, done[('swtat', mode, cs, ct, s)]['peak_delta_mib'])
                for s in sizes]
        if len(mems) > 1:
            steps = ', '.join(
                f'{a}->{b}: x{mb / max(ma, 1e-9):.1f} (H*W x{(b / a)**2:.0f})'
                for (a, ma), (b, mb) in zip(mems, mems[1:]))
            lines.append(f'{mode} {cs}->{ct}: SWTaTLoss peak memory growth '
                         f'{steps}')
    return lines


def machine_info(device: torch.device, threads: int) -> Dict[str, Any]:
    """Device, versions, threads, CPU/GPU model and load average now."""
    info = dict(
        device=str(device),
        torch=torch.__version__,
        python=platform.python_version(),
        threads=threads,
        cpu_count=os.cpu_count(),
        platform=platform.platform(),
        time=time.strftime('%Y-%m-%d %H:%M:%S'))
    try:
        info['loadavg_start'] = list(os.getloadavg())
    except OSError:
        pass
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def output_path(out: Optional[str], device: torch.device) -> str:
    """``out``, or ``work_dirs/benchmark/benchmark_<device type>.json``; its
    directory is created."""
    out = out or os.path.join('work_dirs', 'benchmark',
                              f'benchmark_{device.type}.json')
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    return out


def start_report(device: torch.device, threads: int,
                 settings: Dict[str, Any]) -> Dict[str, Any]:
    """A new report of a run (machine and settings); prints its header.

    Args:
        device: Where the cases run.
        threads: torch intra-op threads.
        settings: The run's settings (the command line), stored as given.

    Returns:
        ``{'machine': ..., 'settings': ...}``; the parts are added by
        :func:`mmswtat.benchmark.execution.run_part`.
    """
    report: Dict[str, Any] = dict(
        machine=machine_info(device, threads), settings=settings)
    print(
        f"benchmark on {report['machine'].get('cpu', device)} "
        f'({device}, {threads} threads, load average '
        f"{report['machine'].get('loadavg_start')})",
        flush=True)
    return report


def render(report: Dict[str, Any]) -> None:
    """(Re)build the tables and summaries of ``report`` from its cases."""
    if report.get('loss'):
        report['loss_table'] = loss_table(report['loss'])
        report['loss_summary'] = loss_summary(report['loss'])
    if report.get('step'):
        report['step_table'], report['step_summary'] = step_table(
            report['step'])


def save(report: Dict[str, Any], out: str) -> None:
    """Write the report (after every case: a killed run keeps its cases)."""
    render(report)
    tmp = out + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, out)


def merge_reports(paths: List[str]) -> Dict[str, Any]:
    """Several JSON reports as one; a later case replaces an earlier one
    with the same settings (e.g. a re-run on a quieter machine)."""
    merged: Dict[str, Any] = dict(machine=[], loss=[], step=[])
    index: Dict[tuple, int] = {}
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        merged['machine'].append(dict(report.get('machine', {}), file=path))
        for part in ('loss', 'step'):
            for case in report.get(part, []):
                key = (part, ) + tuple(
                    case.get(k) for k in ('loss', 'mode', 'cs', 'ct', 'size',
                                          'phase', 'crop', 'batch', 'device',
                                          'teacher_precision', 'attn_impl'))
                if key in index:
                    merged[part][index[key]] = case
                else:
                    index[key] = len(merged[part])
                    merged[part].append(case)
    return {k: v for k, v in merged.items() if v}


def print_report(report: Dict[str, Any]) -> None:
    """Print the rendered tables and summaries of ``report``."""
    if report.get('loss'):
        print('\nLoss forward + backward:\n')
        print(report['loss_table'])
        print('\n' + '\n'.join(report['loss_summary']))
    if report.get('step'):
        first = report['step'][0]
        crops = sorted({c['crop'] for c in report['step']})
        print(f"\nDistillation step, {first['config']}, crop "
              f"{', '.join(map(str, crops))}, batch {first['batch']}:\n")
        print(report['step_table'])


def failed_cases(report: Dict[str, Any]) -> List[str]:
    """``'part i: error'`` for every case of the report that failed.

    ``tools/analysis/benchmark.py`` exits non-zero when there is one (after
    writing the report); skipped cases are not failures.
    """
    out = []
    for part in ('loss', 'step'):
        for i, case in enumerate(report.get(part) or [], 1):
            if isinstance(case, dict) and 'error' in case:
                out.append(f'{part} {i}: {case["error"]}')
    return out


def finish_report(report: Dict[str, Any], out: str) -> Dict[str, Any]:
    """End a run: note the load average, save, print the tables.

    Args:
        report: The report of the run.
        out: JSON path.

    Returns:
        ``report``.
    """
    report['machine']['loadavg_end'] = list(os.getloadavg())
    save(report, out)
    print_report(report)
    print(f'\nwritten {out}')
    return report


def show_reports(paths: List[str],
                 out: Optional[str] = None) -> Dict[str, Any]:
    """Print the tables of earlier runs, merged (see :func:`merge_reports`).

    Args:
        paths: JSON reports; later cases replace earlier ones with the same
            settings.
        out: Where to write the merge (``None``: nowhere).

    Returns:
        The merged, rendered report.
    """
    report = merge_reports(paths)
    render(report)
    if out:
        save(report, out)
    print_report(report)
    return report
