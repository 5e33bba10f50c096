"""Step-benchmark tables: the phases, and the cost per crop and precision.

Per crop size and teacher precision (``teacher_precision``), with (a) the
student step, (b) the teacher forward, (c) the distillation step and (d) the
distillation losses alone: ``overhead = c / (a + b)``, ``c / (a + b_fp32)``
(against the fp32 teacher's floor) and the losses' share ``d / (a + b)``.
"""
from typing import Any, Dict, List, Optional, Tuple

from .timing import fmt_s

PHASE_NAMES = {
    'student': '(a) student train step alone',
    'teacher': '(b) teacher no-grad forward (as the distiller runs it)',
    'distill': '(c) full distillation train step',
    'teacher_full': 'teacher full forward (backbone + heads), reference',
    'distill_losses': '(d) distillation losses fwd+bwd alone, reference',
}


def _time(by: Dict[tuple, Dict[str, Any]], *key: Any) -> Optional[float]:
    case = by.get(key)
    return None if case is None else case.get('median_s')


def phase_table(cases: List[Dict[str, Any]]) -> str:
    """Markdown table of every step case run: time, CPU time, memory."""
    rows = [
        '| crop | teacher | phase | s/iter (median) | CPU s/iter | peak mem '
        '| mem growth |', '|---:|---|---|---:|---:|---:|---:|'
    ]
    for c in cases:
        if 'median_s' not in c and 'error' not in c:
            continue  # not run yet
        head = (f"| {c['crop']} | {c.get('teacher_precision', 'fp32')} | "
                f"{PHASE_NAMES.get(c['phase'], c['phase'])} ")
        if 'error' in c:
            rows.append(head + f"| error: {c['error']} | | | |")
            continue
        cpu = fmt_s(c['median_cpu_s']) if c['device'] == 'cpu' else '-'
        rows.append(head + f"| {fmt_s(c['median_s'])} | {cpu} | "
                    f"{c['peak_mib']:.0f} MiB | "
                    f"{c['peak_delta_mib']:.0f} MiB |")
    return '\n'.join(rows)


def settings_summary(cases: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One dict per (crop, teacher precision) whose a, b and c ran.

    Keys: ``crop``, ``teacher_precision``, ``teacher_runs_in``, ``a_s``,
    ``b_s``, ``c_s``, ``overhead`` (c / (a + b)), ``extra_s`` (c - a - b);
    where their phases ran: ``b_fp32_s``, ``overhead_vs_fp32_floor``
    (c / (a + b_fp32)), ``teacher_speedup`` (b_fp32 / b), ``losses_s`` (d),
    ``losses_share`` (d / (a + b)), ``tokens`` (teacher feature positions
    H*W), ``teacher_early_exit_saving`` (1 - b / teacher full).
    """
    by = {
        (c['crop'], c.get('teacher_precision', 'fp32'), c['phase']): c
        for c in cases
    }
    per_crop = {
        (c['crop'], c['phase']): c
        for c in cases if c['phase'] in ('student', 'distill_losses')
    }
    out = []
    for crop, precision, phase in by:
        if phase != 'distill':
            continue
        a = _time(per_crop, crop, 'student')
        b = _time(by, crop, precision, 'teacher')
        c = _time(by, crop, precision, 'distill')
        if None in (a, b, c):
            continue
        row = dict(
            crop=crop,
            teacher_precision=precision,
            teacher_runs_in=by[(crop, precision,
                                'distill')].get('teacher_runs_in', precision),
            a_s=a,
            b_s=b,
            c_s=c,
            overhead=c / (a + b),
            extra_s=c - a - b)
        b32 = _time(by, crop, 'fp32', 'teacher')
        if b32 is not None:
            row.update(
                b_fp32_s=b32,
                overhead_vs_fp32_floor=c / (a + b32),
                teacher_speedup=b32 / b)
        d = _time(per_crop, crop, 'distill_losses')
        if d is not None:
            row.update(losses_s=d, losses_share=d / (a + b))
            shapes = per_crop[(crop,
                               'distill_losses')].get('features',
                                                      {}).get('teacher', {})
            first = next(iter(shapes.values()), None)
            if first and isinstance(first[0], int):
                row['tokens'] = first[-2] * first[-1]
        full = _time(by, crop, precision, 'teacher_full')
        if full is not None:
            row['teacher_early_exit_saving'] = 1 - b / full
        out.append(row)
    return out


def _cell(row: Dict[str, Any], key: str, fmt: str) -> str:
    return format(row[key], fmt) if key in row else '-'


def settings_table(rows: List[Dict[str, Any]]) -> str:
    """Markdown table of :func:`settings_summary`: cost per crop and
    precision."""
    lines = [
        '| crop | tokens | teacher | a | b | c | c/(a+b) | c/(a+b_fp32) | '
        'b_fp32/b | d (losses) | d/(a+b) |',
        '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|'
    ]
    for r in rows:
        teacher = r['teacher_precision']
        if r['teacher_runs_in'] != teacher:
            teacher += f" ({r['teacher_runs_in']})"
        lines.append(
            f"| {r['crop']} | {r.get('tokens', '-')} | {teacher} | "
            f"{fmt_s(r['a_s'])} | {fmt_s(r['b_s'])} | {fmt_s(r['c_s'])} | "
            f"**{r['overhead']:.3f}** | "
            f"{_cell(r, 'overhead_vs_fp32_floor', '.3f')} | "
            f"{_cell(r, 'teacher_speedup', '.2f')} | "
            f"{fmt_s(r.get('losses_s'))} | "
            f"{_cell(r, 'losses_share', '.0%')} |")
    return '\n'.join(lines)


def step_table(cases: List[Dict[str, Any]]) -> Tuple[str, Dict[str, Any]]:
    """The step report: phase table, per-setting table, summary.

    Args:
        cases: Step cases (run or not).

    Returns:
        The text (phase table, ``overhead = c / (a + b)`` of each setting,
        the per-setting table when there is more than one setting) and the
        summary: ``settings`` (:func:`settings_summary`) and, from the first
        setting, ``overhead``, ``extra_s``, ``losses_share_of_extra`` and
        ``teacher_early_exit_saving`` where their phases ran.
    """
    text = [phase_table(cases)]
    rows = settings_summary(cases)
    summary: Dict[str, Any] = dict(settings=rows)
    for r in rows:
        text.append(f"\ncrop {r['crop']}, teacher {r['teacher_precision']}: "
                    f"overhead = c / (a + b) = {r['c_s']:.3f} / "
                    f"({r['a_s']:.3f} + {r['b_s']:.3f}) = "
                    f"**{r['overhead']:.3f}**")
        if 'overhead_vs_fp32_floor' in r and r['teacher_precision'] != 'fp32':
            text.append(f"c / (a + b_fp32) = {r['overhead_vs_fp32_floor']:.3f}"
                        f" (b_fp32 / b = {r['teacher_speedup']:.2f})")
        if 'losses_s' in r:
            text.append(f"distillation losses alone: {r['losses_s']:.3f} s "
                        f"({r['losses_share'] * 100:.0f}% of a + b)")
        if 'teacher_early_exit_saving' in r:
            text.append('teacher early exit saves '
                        f"{r['teacher_early_exit_saving'] * 100:.0f}% of its "
                        'full forward')
    if rows:
        first = rows[0]
        summary.update(overhead=first['overhead'], extra_s=first['extra_s'])
        if 'losses_s' in first:
            summary['losses_share_of_extra'] = first['losses_s'] / max(
                first['extra_s'], 1e-12)
        if 'teacher_early_exit_saving' in first:
            summary['teacher_early_exit_saving'] = first[
                'teacher_early_exit_saving']
    if len(rows) > 1:
        text.append('\nPer crop and teacher precision (a, d: once per crop; '
                    'tokens: teacher feature positions):\n')
        text.append(settings_table(rows))
    return '\n'.join(text), summary
