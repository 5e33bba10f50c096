"""The table (methods x seeds) and the sweep (weights and SW-TaT knobs)."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from .methods import WEIGHT_FACTORS
from .report import best_per_method, summarise, write_report
from .runs import check_setting, prepare, run_method
from .settings import BenchmarkSettings
from .tasks import SegTask, metric_of, task_of

Setting = Tuple[str, Optional[float], dict]


def sweep_grid(methods: Sequence[str],
               factors: Sequence[float] = WEIGHT_FACTORS,
               knobs: Optional[Dict[str, Sequence[dict]]] = None,
               task=None,
               cross: bool = False) -> List[Setting]:
    """``(method, weight, knobs)`` of the sweep: every method's weight grid
    around its published weight (a recipe's: factors on its components'
    published weights), plus the task's knob variants (segmentation:
    :data:`.methods.METHOD_KNOBS`; each at the published weight).

    Args:
        methods: Method names of ``task``.
        factors: Weight factors.
        knobs: ``{method: [knob dict, ...]}`` (default: the task's).
        task: A :mod:`.tasks` task (default: segmentation).
        cross: Every knob variant at every weight factor (else at the
            published weight only).
    """
    task = task or SegTask()
    task.check_methods(methods)
    knobs = task.method_knobs if knobs is None else knobs
    grid: List[Setting] = []
    for name in methods:
        published = task.published_weight(name)
        if published is None:
            grid.append((name, None, {}))
            continue
        grid += [(name, round(published * f, 6), {}) for f in factors]
        grid += [(name, round(published * f, 6), dict(k))
                 for k in knobs.get(name, ())
                 for f in (factors if cross else (1.0, ))]
    return grid


def shard_grid(grid: Sequence[Setting],
               shard: Tuple[int, int]) -> List[Setting]:  # yapf: disable
    """Part ``k`` of ``n`` (``shard=(k, n)``, 1-based) of a grid: every
    ``n``-th setting from the ``k``-th, so processes side by side split it
    evenly; merge their reports with ``--reuse ... --report-only``."""
    k, n = shard
    return list(grid[k - 1::n])


def baseline_grid(factors: Sequence[float], iters: int) -> List[Setting]:
    """The undistilled student at other schedule lengths (``iters`` knob):
    its plateau (N/2 vs N) and the matched-compute reference (what the
    baseline gains from the wall-clock a costlier method spends)."""
    return [('none', None, dict(iters=max(1, round(iters * f))))
            for f in factors if round(iters * f) != iters]


def with_knobs(setting: Setting, **knobs) -> Setting:
    """``setting`` with ``knobs`` added (e.g. ``teacher_precision``)."""
    method, weight, old = setting
    return method, weight, dict(old, **knobs)


def load_report(path: str) -> dict:
    """A benchmark report (``table.json`` / ``sweep.json``) as a dict.

    Raises:
        ValueError: ``path`` is not JSON, or has no ``meta`` and ``runs``.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f'{path!r} is not JSON ({e}); give a table.json or '
                         'sweep.json this benchmark wrote') from None
    if not (isinstance(data, dict) and 'meta' in data and 'runs' in data):
        raise ValueError(f'{path!r} is not a report of this benchmark (no '
                         "'meta' and 'runs'); give a table.json or "
                         'sweep.json it wrote')
    return data


def best_settings(sweep_json: str) -> Dict[str, Setting]:
    """``{method: (method, weight, knobs)}``: each method's best sweep row."""
    data = load_report(sweep_json)
    rows = summarise(data['runs'], metric_of(data['meta']))
    return {
        m: (m, r['weight'], r['knobs'])
        for m, r in best_per_method(rows).items()
    }


def reusable_runs(paths: Sequence[str],
                  settings: BenchmarkSettings) -> Dict[tuple, dict]:
    """Records of earlier reports made with exactly ``settings``, keyed by
    ``(method, weight, knobs, seed)``; other reports are an error."""
    found: Dict[tuple, dict] = {}
    want = json.loads(json.dumps(settings.to_dict(), default=str))
    for path in paths:
        data = load_report(path)
        if data['meta']['settings'] != want:
            raise ValueError(f'--reuse {path}: made with other settings; '
                             'its runs cannot be reused')
        for r in data['runs']:
            found[_run_key(r['method'], r['weight'], r['knobs'],
                           r['seed'])] = r
    return found


def check_grid(settings: BenchmarkSettings, grid: Sequence[Setting]) -> None:
    """Every setting of ``grid`` can run (:func:`~.runs.check_setting`),
    and none is listed twice (its runs would count as two seeds' worth).

    Raises:
        ValueError: The first setting that cannot, named.
    """
    seen = set()
    for method, weight, knobs in grid:
        key = _run_key(method, weight, knobs, 0)
        if key in seen:
            raise ValueError(f'method {method!r} (weight {weight}, knobs '
                             f'{knobs}) is listed twice; name it once')
        seen.add(key)
        check_setting(settings, method, weight, knobs)


def merged_grid(paths: Sequence[str]) -> Tuple[List[Setting], List[int]]:
    """Every ``(method, weight, knobs)`` and seed of the reports ``paths``,
    in order of first appearance: the grid that reports all their runs
    (``--report-only`` without ``--methods``)."""
    grid: Dict[tuple, Setting] = {}
    seeds: Dict[int, None] = {}
    for path in paths:
        for r in load_report(path)['runs']:
            key = _run_key(r['method'], r['weight'], r['knobs'], 0)
            grid.setdefault(key, (r['method'], r['weight'], r['knobs']))
            seeds.setdefault(r['seed'])
    return list(grid.values()), sorted(seeds)


def run_merge(settings: BenchmarkSettings,
              paths: Sequence[str],
              out_dir: str,
              cache_root: str,
              name: str,
              log=print) -> dict:
    """One report (``name``: ``'table'`` or ``'sweep'``) of every run of the
    reports ``paths`` (made with ``settings``), training nothing."""
    grid, seeds = merged_grid(paths)
    task = task_of(settings)
    title = (f'{task.title}, {settings.student_train.iters} it'
             if name == 'table' else 'sweep')
    return _run_all(
        settings,
        grid,
        seeds,
        out_dir,
        cache_root,
        name,
        title,
        log,
        paths,
        report_only=True)


def _run_key(method, weight, knobs, seed) -> tuple:
    return (method, weight, json.dumps(knobs, sort_keys=True), seed)


def _run_all(settings: BenchmarkSettings,
             grid: Sequence[Setting],
             seeds: Sequence[int],
             out_dir: str,
             cache_root: str,
             name: str,
             title: str,
             log=print,
             reuse: Sequence[str] = (),
             report_only: bool = False) -> dict:
    check_grid(settings, grid)
    os.makedirs(out_dir, exist_ok=True)
    task = task_of(settings)
    metric = task.metrics[0]
    done = reusable_runs(reuse, settings)
    prep = prepare(settings, cache_root, log)
    log(f'[bench] teacher {metric} {prep.teacher[metric]:.2f}; pretraining '
        f'{prep.pretrain}')
    meta = dict(
        settings=settings.to_dict(),
        seeds=list(seeds),
        pretrain=prep.pretrain,
        grid=[list(g) for g in grid])
    if task.name != 'seg':
        meta.update(task=task.name, metrics=list(task.shown))
    records: List[dict] = []
    for seed in seeds:
        for method, weight, knobs in grid:
            tag = f'{method}_w{weight}_{"_".join(map(str, knobs.values()))}'
            work = osp.join(out_dir, 'work', f'{tag}_s{seed}')
            old = done.get(_run_key(method, weight, knobs, seed))
            if old is not None:
                log(f'[bench] reusing {tag} seed {seed}: {metric} '
                    f'{old[metric]:.2f}')
            elif report_only:
                log(f'[bench] {tag} seed {seed}: not in --reuse, left out')
                continue
            records.append(
                old or run_method(settings, prep, method, seed, work, weight,
                                  knobs, cache_root, log))
            write_report(out_dir, name, records, meta, prep.teacher, title)
    paths = write_report(out_dir, name, records, meta, prep.teacher, title)
    return dict(records=records, teacher=prep.teacher, paths=paths)


def table_grid(
    task,
    methods: Sequence[str],
    best: Optional[Dict[str, Setting]] = None,
    extra: Sequence[Setting] = ()
) -> List[Setting]:
    """The table's settings: every method at ``best`` or its published
    weight, then ``extra``."""
    task.check_methods(methods)
    grid = [(best or {}).get(m) or (m, task.published_weight(m), {})
            for m in methods]
    return grid + list(extra)


def run_table(settings: BenchmarkSettings, methods: Sequence[str],
              seeds: Sequence[int], out_dir: str, cache_root: str,
              best: Optional[Dict[str, Setting]] = None, log=print,
              reuse: Sequence[str] = (), report_only: bool = False,
              extra: Sequence[Setting] = ()) -> dict:  # yapf: disable
    """Every method (at its published weight, or at ``best``) x seeds,
    plus the ``extra`` settings (e.g. :func:`baseline_grid`).

    Seeds run in the outer loop, so a cut-short run still has every method
    at the same number of seeds. Reports are rewritten after each run.
    """
    task = task_of(settings)
    grid = table_grid(task, methods, best, extra)
    return _run_all(settings, grid, seeds, out_dir, cache_root, 'table',
                    f'{task.title}, {settings.student_train.iters} it', log,
                    reuse, report_only)


def run_sweep(settings: BenchmarkSettings,
              grid: Sequence[Setting],
              seeds: Sequence[int],
              out_dir: str,
              cache_root: str,
              log=print,
              reuse: Sequence[str] = (),
              report_only: bool = False) -> dict:
    """The sweep grid x seeds (reports ``sweep.{json,md,png}``); runs
    found in the ``reuse`` reports (same settings) are not repeated."""
    return _run_all(settings, grid, seeds, out_dir, cache_root, 'sweep',
                    'sweep', log, reuse, report_only)
