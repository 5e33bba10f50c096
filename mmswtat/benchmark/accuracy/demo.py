"""``make demo``: distillation making a better student on real data.

The accuracy benchmark's digit scenes (scikit-learn's real digits on its
sample photographs), its digit-pretrained networks and its cached teacher;
then the real commands a user runs, on config files written to the demo
folder: ``tools/train.py`` for the distilled and the undistilled student
(same initial weights, seed and iterations, side by side), ``tools/test.py``
for all three, ``tools/export_student.py``, ``tools/analysis/plot_logs.py``.
It ends with a table (``demo.md`` / ``demo.json``), ``predictions.png`` and
``curves.png``.
"""
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import time
from dataclasses import replace
from typing import Dict, List, Optional, Sequence

from .settings import BenchmarkSettings

#: The repository (tools/ are run from it).
ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
#: Validation scenes drawn in ``predictions.png``.
NUM_SCENES = 6
#: What the demo writes (``--force`` replaces them).
OUTPUTS = ('demo.md', 'demo.json', 'predictions.png', 'curves.png')


def demo_settings(iters: int, teacher_iters: int) -> BenchmarkSettings:
    """The benchmark's default regime with the demo's schedule lengths."""
    s = BenchmarkSettings()
    return replace(
        s,
        student_train=replace(s.student_train, iters=iters),
        teacher_train=replace(s.teacher_train, iters=teacher_iters))


def machine() -> str:
    """The CPU flags that matter for the timings, and the threads."""
    flags = ''
    try:
        with open('/proc/cpuinfo') as f:
            text = f.read()
        flags = ', '.join(
            f for f in ('avx512_bf16', 'avx512f', 'avx2')
            if re.search(rf'\b{f}\b', text))
    except OSError:
        pass
    return (f'{platform.machine()}, {os.cpu_count()} cores'
            f'{", " + flags if flags else ""}; one torch thread per run')


def _progress(step: str,
              cmd: List[str],
              log: str,
              env: Optional[dict] = None) -> subprocess.Popen:
    print(
        f'[demo] {step}\n[demo]   $ {" ".join(_short(c) for c in cmd)}',
        flush=True)
    f = open(log, 'w')
    return subprocess.Popen(
        cmd, stdout=f, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)


def _short(arg: str) -> str:
    """An argument as a user would type it (paths relative to the repo)."""
    if arg == sys.executable:
        return 'python'
    if osp.isabs(arg) and arg.startswith(ROOT + os.sep):
        return osp.relpath(arg, ROOT)
    return arg


def _wait(procs: Dict[str, subprocess.Popen], logs: Dict[str, str]) -> None:
    """Wait for the processes, printing their training progress."""
    start, shown = time.time(), ''
    while any(p.poll() is None for p in procs.values()):
        time.sleep(1)
        parts = []
        for name, log in logs.items():
            found = re.findall(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]',
                               open(log).read())
            parts.append(f'{name} {found[-1][0]}/{found[-1][1]}'
                         if found else f'{name} starting')
        if ', '.join(parts) != shown:
            shown = ', '.join(parts)
            print(
                f'\r[demo]   {shown} ({time.time() - start:.0f}s)',
                end='',
                flush=True)
    print(f'\r[demo]   done in {time.time() - start:.0f}s' + ' ' * 40)
    for name, proc in procs.items():
        if proc.returncode:
            tail = open(logs[name]).read()[-3000:]
            raise SystemExit(f'{tail}\n[demo] {name} failed (exit '
                             f'{proc.returncode}); see {logs[name]}')


def _miou(log: str) -> float:
    found = re.findall(r'mIoU: ([\d.]+)', open(log).read())
    if not found:
        raise SystemExit(f'[demo] no mIoU in {log}')
    return float(found[-1])


def write_configs(settings: BenchmarkSettings, prep, recipe: str,
                  weights: Optional[Sequence[float]], knobs: dict, seed: int,
                  out: str) -> Dict[str, str]:
    """The teacher, distillation and undistilled-student configs as files
    (``OUT/configs/*.py``), as the benchmark builds them."""
    from .methods import is_recipe
    from .runs import student_init
    from .tasks import task_of
    task = task_of(settings)
    init = student_init(settings, prep, seed, osp.join(out, 'cache'),
                        lambda *a: None)
    knobs = dict(knobs)
    weight = None
    if weights is not None and is_recipe(recipe):
        knobs['weights'] = tuple(weights)
    elif weights is not None:
        weight = weights[0]
    distill = task.distill_config(recipe, settings, weight, knobs)
    cfgs = dict(
        teacher=task.run_config(
            task.model(settings, 'teacher'), settings, settings.teacher_train,
            prep.data_root, osp.join(out, 'teacher'), 0),
        distilled=task.run_config(
            task.distiller(settings, distill, prep.teacher_ckpt, init),
            settings,
            settings.student_train,
            prep.data_root,
            osp.join(out, 'distilled'),
            seed,
            save_checkpoint=True),
        undistilled=task.run_config(
            task.model(settings, 'student'),
            settings,
            settings.student_train,
            prep.data_root,
            osp.join(out, 'undistilled'),
            seed,
            save_checkpoint=True,
            load_from=init))
    os.makedirs(osp.join(out, 'configs'), exist_ok=True)
    paths = {}
    for name, cfg in cfgs.items():
        cfg.log_level = 'INFO'
        # a loss curve of a few points even for a short run
        cfg.default_hooks.logger.interval = max(
            1, min(50, settings.student_train.iters // 10))
        paths[name] = osp.join(out, 'configs', f'{name}.py')
        cfg.dump(paths[name])
    return paths


def run_demo(out: str,
             iters: int = 300,
             teacher_iters: int = 1000,
             seed: int = 0,
             recipe: Optional[str] = None,
             force: bool = False,
             quick: bool = False) -> dict:
    """Run the demo into ``out``; returns its report (``demo.json``).

    ``quick``: the benchmark's tiny ``--quick`` networks and data, and
    ``iters`` / ``teacher_iters`` as given (a smoke test of every step).

    Raises:
        SystemExit: A report exists (without ``force``), or a step failed
            (naming its log).
    """
    from mmswtat.recipes import SHIPPED_RECIPE
    from .runs import prepare
    out = osp.abspath(out)
    existing = [f for f in OUTPUTS if osp.exists(osp.join(out, f))]
    if existing and not force:
        raise SystemExit(f'demo.py: error: {out} already holds {existing}; '
                         'give --force to replace them (the cached data and '
                         'teacher are reused either way), or another '
                         '--out-dir')
    shipped = recipe is None or recipe == SHIPPED_RECIPE['recipe']
    recipe = recipe or SHIPPED_RECIPE['recipe']
    weights = SHIPPED_RECIPE['benchmark_weights'] if shipped else None
    knobs = SHIPPED_RECIPE['knobs'] if shipped else {}
    os.makedirs(out, exist_ok=True)
    settings = demo_settings(iters, teacher_iters)
    if quick:
        from .settings import quick_settings
        q = quick_settings()
        settings = replace(
            q,
            student_train=replace(q.student_train, iters=iters),
            teacher_train=replace(q.teacher_train, iters=teacher_iters))
    timing: Dict[str, float] = {}
    start = time.time()
    print(
        f'[demo] 1/5 digit scenes, digit-pretrained backbones and the '
        f'teacher ({teacher_iters} iterations; cached in '
        f'{_short(osp.join(out, "cache"))})',
        flush=True)
    cached = osp.isdir(osp.join(out, 'cache'))
    prep = prepare(
        replace(settings, log_level='WARNING'), osp.join(out, 'cache'),
        lambda *a: None)
    timing['teacher_s'] = time.time() - start
    print(
        f'[demo]   {"reused the cached" if cached else "made the"} data '
        f'and teacher ({timing["teacher_s"]:.0f}s); teacher mIoU '
        f'{prep.teacher["mIoU"]:.2f}',
        flush=True)
    configs = write_configs(settings, prep, recipe, weights, knobs, seed, out)
    py = sys.executable
    env = dict(os.environ, OMP_NUM_THREADS='1')
    work = {k: osp.join(out, k) for k in ('distilled', 'undistilled')}
    logs = {k: osp.join(out, f'{k}_train.log') for k in work}
    t0 = time.time()
    procs = {
        k:
        _progress(
            f'{2 if k == "distilled" else 3}/5 train the {k} student '
            f'({iters} iterations' +
            (f', {recipe}' if k == 'distilled' else '') + ')',
            [py, 'tools/train.py', configs[k], '--work-dir', work[k]], logs[k],
            env)
        for k in work
    }
    _wait(procs, logs)
    timing['students_s'] = time.time() - t0
    ckpts = dict(
        teacher=prep.teacher_ckpt,
        **{k: osp.join(work[k], f'iter_{iters}.pth')
           for k in work})
    t0 = time.time()
    results = {}
    tests = {}
    for k in ('teacher', 'distilled', 'undistilled'):
        log = osp.join(out, f'{k}_test.log')
        tests[k] = (_progress(f'4/5 test the {k} model', [
            py, 'tools/test.py', configs[k], ckpts[k], '--work-dir',
            osp.join(out, 'test', k)
        ], log, env), log)
    for k, (proc, log) in tests.items():
        if proc.wait():
            raise SystemExit(f'[demo] testing {k} failed; see {log}')
        results[k] = _miou(log)
    timing['tests_s'] = time.time() - t0
    student = osp.join(out, 'distilled_student.pth')
    export = _progress('5/5 export the distilled student, draw the figures', [
        py, 'tools/export_student.py', ckpts['distilled'], student, '--force'
    ], osp.join(out, 'export.log'), env)
    curves = _progress('5/5 loss curves', [
        py, 'tools/analysis/plot_logs.py', work['distilled'],
        work['undistilled'], '--labels', 'distilled', 'undistilled', '--out',
        osp.join(out, 'curves.png'), '--force'
    ], osp.join(out, 'curves.log'), env)
    if export.wait() or curves.wait():
        raise SystemExit(f'[demo] export or plot failed; see {out}/*.log')
    from .demo_figure import draw_predictions
    draw_predictions(configs, dict(ckpts, distilled=student), prep.data_root,
                     osp.join(out, 'predictions.png'), NUM_SCENES)
    timing['total_s'] = time.time() - start
    report = dict(
        recipe=recipe,
        weights=list(weights) if weights else None,
        knobs=knobs,
        iters=iters,
        teacher_iters=teacher_iters,
        seed=seed,
        mIoU=results,
        gain=results['distilled'] - results['undistilled'],
        seconds=timing,
        machine=machine(),
        configs={
            k: _short(v)
            for k, v in configs.items()
        })
    with open(osp.join(out, 'demo.json'), 'w') as f:
        json.dump(report, f, indent=1)
    table = markdown(report)
    with open(osp.join(out, 'demo.md'), 'w') as f:
        f.write(table)
    print('\n' + table)
    print(f'[demo] figures: {_short(osp.join(out, "predictions.png"))}, '
          f'{_short(osp.join(out, "curves.png"))}; configs to rerun any step '
          f'with tools/train.py / tools/test.py: '
          f'{_short(osp.join(out, "configs"))}/')
    return report


def markdown(report: dict) -> str:
    """The demo's table."""
    m, s = report['mIoU'], report['seconds']
    rows = [('teacher (DeepLabV3 R18-D8, half width)', m['teacher'],
             report['teacher_iters'], s['teacher_s']),
            (f'student, distilled ({report["recipe"]})', m['distilled'],
             report['iters'], s['students_s']),
            ('student, no distillation', m['undistilled'], report['iters'],
             s['students_s'])]
    lines = [
        '| model (digit scenes, val mIoU) | mIoU | iterations | seconds |',
        '|---|---|---|---|'
    ] + [f'| {a} | {b:.2f} | {c} | {d:.0f} |' for a, b, c, d in rows]
    lines += [
        '', f'Gain of distillation: **{report["gain"]:+.2f} mIoU** (same '
        'initial weights, seed, data order and iterations; the two students '
        f'trained side by side). Total {s["total_s"]:.0f} s on '
        f'{report["machine"]}.'
    ]
    return '\n'.join(lines) + '\n'
