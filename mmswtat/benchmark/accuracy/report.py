"""Benchmark records -> a JSON file, a Markdown table and a bar chart."""
import json
import math
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence

from .tasks import TASKS


def group_key(record: dict) -> str:
    """``method@weight[knobs]``: one row per distinct setting."""
    knobs = ','.join(f'{k}={v}' for k, v in sorted(record['knobs'].items()))
    weight = '' if record['method'] == 'none' else f'@{record["weight"]:g}'
    return record['method'] + weight + (f'[{knobs}]' if knobs else '')


def summarise(records: Sequence[dict],
              metric: str = 'mIoU',
              also: Sequence[str] = ()) -> List[dict]:
    """Mean and sample std of ``metric`` (and mean s/it) per setting, in
    order of first appearance; ``also``: further figures, each as
    ``row['also'][name] = (mean, std)``."""
    groups: Dict[str, List[dict]] = {}
    for r in records:
        groups.setdefault(group_key(r), []).append(r)
    rows = []
    for key, rs in groups.items():
        vals = [r[metric] for r in rs]
        rows.append(
            dict(
                key=key,
                method=rs[0]['method'],
                weight=rs[0]['weight'],
                knobs=rs[0]['knobs'],
                n=len(vals),
                iters=rs[0].get('iters'),
                mean=statistics.fmean(vals),
                std=statistics.stdev(vals) if len(vals) > 1 else 0.0,
                seeds=[r['seed'] for r in rs],
                values=vals,
                s_per_it=statistics.fmean(r['s_per_it'] for r in rs),
                cpu_s_per_it=_mean_present(r.get('cpu_s_per_it') for r in rs),
                also={m: _mean_std([r[m] for r in rs])
                      for m in also}))
        diverged = {r['seed']: r['diverged'] for r in rs if r.get('diverged')}
        if diverged:  # scored 0: the student a diverged run leaves
            rows[-1]['diverged'] = diverged
    return rows


def _mean_std(values: Sequence[float]) -> tuple:
    return (statistics.fmean(values),
            statistics.stdev(values) if len(values) > 1 else 0.0)


def _mean_present(values) -> Optional[float]:
    """Mean of the values that are not None (None if there are none)."""
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def cost_ratio(row: dict, base: dict) -> float:
    """``row``'s training cost per iteration over ``base``'s: CPU time
    where both have it (one torch thread: nearly free of the load of other
    jobs), else wall-clock."""
    key = 'cpu_s_per_it' if row.get('cpu_s_per_it') and base.get(
        'cpu_s_per_it') else 's_per_it'
    return row[key] / base[key]


def baseline_row(rows: Sequence[dict]) -> Optional[dict]:
    """The undistilled student at the benchmark's schedule (no knobs)."""
    return next((r for r in rows if r['method'] == 'none' and not r['knobs']),
                None)


def baseline_curve(rows: Sequence[dict]) -> List[tuple]:
    """``[(iters, mean mIoU, s/it), ...]`` of the undistilled student's
    runs, sorted by iterations."""
    points = {
        r['iters']: (r['iters'], r['mean'], r['s_per_it'])
        for r in rows if r['method'] == 'none'
    }
    return [points[k] for k in sorted(points)]


def matched_compute(row: dict, base: dict,
                    curve: Sequence[tuple]) -> Optional[tuple]:
    """What the baseline reaches in the wall-clock ``row`` spends.

    The method's cost ratio ``r`` (:func:`cost_ratio`) gives the baseline
    ``r * N`` iterations; its mIoU there is interpolated linearly on the
    baseline's measured schedule lengths.

    Returns:
        ``(r, baseline mIoU at r * N, extrapolated)`` or None (fewer than
        two baseline lengths).
    """
    if len(curve) < 2 or not base['s_per_it']:
        return None
    ratio = cost_ratio(row, base)
    budget = ratio * base['iters']
    (x0, y0, _), (x1, y1, _) = curve[0], curve[1]
    for a, b in zip(curve, curve[1:]):
        (x0, y0, _), (x1, y1, _) = a, b
        if budget <= x1:
            break
    value = y0 + (y1 - y0) * (budget - x0) / (x1 - x0)
    return ratio, value, not curve[0][0] <= budget <= curve[-1][0]


def best_per_method(rows: Sequence[dict]) -> Dict[str, dict]:
    """The highest-mean row of each method (the baseline's other schedule
    lengths are references, not settings)."""
    best: Dict[str, dict] = {}
    for row in rows:
        if 'iters' in row['knobs']:
            continue
        if row['method'] not in best or row['mean'] > best[
                row['method']]['mean']:
            best[row['method']] = row
    return best


def paired_gain(row: dict, base: dict) -> str:
    """``mean ± std`` over the seeds both rows have of ``row - base``."""
    ref = dict(zip(base['seeds'], base['values']))
    diffs = [
        v - ref[s] for s, v in zip(row['seeds'], row['values']) if s in ref
    ]
    if not diffs:
        return ''
    std = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
    return f'{statistics.fmean(diffs):+.2f} ± {std:.2f}'


def paired_values(row: dict, base: dict) -> str:
    """The per-seed paired differences ``row - base``
    (``'s0 +1.20, s1 -0.30'``)."""
    ref = dict(zip(base['seeds'], base['values']))
    return ', '.join(f's{s} {v - ref[s]:+.2f}'
                     for s, v in zip(row['seeds'], row['values']) if s in ref)


def plateau_note(rows: Sequence[dict], iters: int) -> str:
    """The plateau check of the undistilled student: its metric at half the
    schedule against the full schedule, paired over the seeds that ran both
    (within :data:`~.settings.PLATEAU_TOLERANCE`: converged), and the full
    schedule against twice it where that ran (both within: converged), or
    ``''`` when the half or the full length is missing.

    Args:
        rows: Summary rows (:func:`summarise`).
        iters: The full schedule ``N``.
    """
    from .settings import PLATEAU_TOLERANCE
    runs = {}
    for r in rows:
        if r['method'] == 'none':
            runs.setdefault(r['iters'], dict(zip(r['seeds'], r['values'])))
    half, full = runs.get(iters // 2), runs.get(iters)
    seeds = sorted(set(half or {}) & set(full or {}))
    if not seeds:
        return ''
    delta = statistics.fmean(full[s] - half[s] for s in seeds)
    ok = abs(delta) <= PLATEAU_TOLERANCE
    # A longer run outranks the half-schedule check: a student that still
    # gains from N to 2N has not converged at N, however little it gained
    # from N/2 to N (detection: 0.2 -> 1.1 -> 4.9 bbox mAP).
    double = runs.get(iters * 2) or {}
    later = sorted(set(double) & set(full))
    after = ''
    if later:
        delta2 = statistics.fmean(double[s] - full[s] for s in later)
        ok = ok and abs(delta2) <= PLATEAU_TOLERANCE
        after = (f'; {iters} -> {iters * 2} it {delta2:+.2f} (seed'
                 f'{"s" if len(later) > 1 else ""} '
                 f'{", ".join(map(str, later))})')
    return (f'Plateau check: {iters // 2} -> {iters} it {delta:+.2f} '
            f'(paired over seed{"s" if len(seeds) > 1 else ""} '
            f'{", ".join(map(str, seeds))}){after}; '
            f'{"within" if ok else "NOT within"}'
            f' {PLATEAU_TOLERANCE:g}: the undistilled student has '
            f'{"" if ok else "not "}converged.')


def markdown(rows: Sequence[dict],
             teacher: Optional[dict] = None,
             title: str = '',
             metrics: Sequence[str] = ('mIoU', ),
             task: str = 'seg') -> str:
    """A Markdown table, with the gain over the baseline when present
    (difference of means, and the per-seed paired difference).

    Args:
        rows: From :func:`summarise`.
        teacher: The teacher's test figures.
        title: A heading.
        metrics: The ranking figure, then further figures shown as
            ``mean ± std`` columns (``row['also']``).
        task: The task whose method labels are used.
    """
    metric, also = metrics[0], list(metrics[1:])
    labels = TASKS[task]
    base = baseline_row(rows)
    curve = baseline_curve(rows)
    lines = [f'### {title}', ''] if title else []
    lines += [
        '| method | weight | knobs | ' +
        ' | '.join(f'{m} (mean ± std)' for m in metrics) + ' | gain vs none '
        '| paired gain (mean ± std) | seeds | s/it | cost vs none '
        '| matched-compute none | gain vs it | gap closed '
        '| paired gain per seed |', '|' + '---|' * (12 + len(metrics))
    ]
    if teacher:
        lines.append('| teacher | | | ' + ' | '.join(f'{teacher[m]:.2f}'
                                                     for m in metrics) +
                     ' | | | 1 | '
                     f'{teacher.get("s_per_it", math.nan):.3f} | | | | | |')
    for r in rows:
        gain = '' if base is None or r is base else \
            f'{r["mean"] - base["mean"]:+.2f}'
        paired = '' if base is None or r is base else paired_gain(r, base)
        per_seed = '' if base is None or r is base else paired_values(r, base)
        knobs = ', '.join(f'{k}={v}' for k, v in sorted(r['knobs'].items()))
        cost = matched = vs = closed = ''
        if base is not None and r['method'] != 'none':
            found = matched_compute(r, base, curve)
            cost = f'{cost_ratio(r, base):.2f}x'
            if found is not None:
                matched = f'{found[1]:.2f}' + (' (extrap.)'
                                               if found[2] else '')
                vs = f'{r["mean"] - found[1]:+.2f}'
            if teacher and teacher[metric] > base['mean']:
                gap = teacher[metric] - base['mean']
                closed = f'{(r["mean"] - base["mean"]) / gap:.0%}'
        figures = ''.join(' | {:.2f} ± {:.2f}'.format(*r['also'][m])
                          for m in also)
        lines.append(
            f'| {labels.label(r["method"], r["knobs"])} | '
            f'{labels.weight_label(r["method"], r["weight"], r["knobs"])} | '
            f'{knobs} | '
            f'{r["mean"]:.2f} ± {r["std"]:.2f}{figures} | {gain} | {paired} | '
            f'{r["n"]} | {r["s_per_it"]:.3f} | {cost} | {matched} | {vs} | '
            f'{closed} | {per_seed} |')
    for r in rows:
        for seed, why in sorted((r.get('diverged') or {}).items()):
            lines += [
                '', f'{labels.label(r["method"], r["knobs"])} at '
                f'{labels.weight_label(r["method"], r["weight"], r["knobs"])}'
                f', seed {seed}: training diverged ({why}); scored 0.'
            ]
    if len(curve) > 1:
        lines += [
            '', 'Undistilled student by schedule length: ' +
            ', '.join(f'{it} it {m:.2f}' for it, m, _ in curve) + '.'
        ]
        note = plateau_note(rows, base['iters']) if base else ''
        if note:
            lines += ['', note]
    return '\n'.join(lines) + '\n'


def bar_chart(rows: Sequence[dict],
              path: str,
              teacher: Optional[dict] = None,
              title: str = '',
              metric: str = 'mIoU') -> None:
    """PNG bar chart of the mean ``metric`` with std error bars."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    # Long knob values (e.g. per_level dicts) are cut: the Markdown table
    # has them whole.
    labels = [
        r['key'] if len(r['key']) <= 32 else r['key'][:31] + '…' for r in rows
    ]
    means = [r['mean'] for r in rows]
    stds = [r['std'] for r in rows]
    fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(rows) + 1), 3.6))
    ax.bar(range(len(rows)), means, yerr=stds, capsize=4, color='#4c72b0')
    if teacher:
        ax.axhline(
            teacher[metric],
            color='#c44e52',
            ls='--',
            label=f'teacher {teacher[metric]:.1f}')
        ax.legend(loc='lower right')
    base = baseline_row(rows)
    if base:
        ax.axhline(base['mean'], color='grey', ls=':', lw=1)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=30, ha='right', fontsize=8)
    ax.set_ylabel(f'val {metric} (mean ± std over seeds)')
    lo = min(m - s for m, s in zip(means, stds)) if rows else 0
    ax.set_ylim(max(0, lo - 5), None)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out_dir: str,
                 name: str,
                 records: Sequence[dict],
                 meta: dict,
                 teacher: Optional[dict] = None,
                 title: str = '') -> Dict[str, str]:
    """Write ``<name>.json`` (every run), ``<name>.md`` and ``<name>.png``.

    Returns:
        ``{'json': path, 'md': path, 'png': path}``.
    """
    metrics = meta.get('metrics') or ['mIoU']
    task = meta.get('task', 'seg')
    rows = summarise(records, metrics[0], metrics[1:])
    paths = {
        ext: osp.join(out_dir, f'{name}.{ext}')
        for ext in ('json', 'md', 'png')
    }
    with open(paths['json'], 'w') as f:
        json.dump(
            dict(meta=meta, teacher=teacher, runs=list(records), summary=rows),
            f,
            indent=1,
            default=str)
    with open(paths['md'], 'w') as f:
        f.write(markdown(rows, teacher, title, metrics, task))
    if rows:
        bar_chart(rows, paths['png'], teacher, title, metrics[0])
    return paths
