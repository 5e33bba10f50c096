"""Accuracy benchmark: does distillation make the student better?

Real data that scikit-learn ships (handwritten digits composited onto its
sample photographs, written as a VOC dataset), a DeepLabV3 ResNet-D8
teacher and a narrower student, and every method trained from the same
student initialisation, seed, data order and iterations through mmengine's
Runner (the shipped distiller and config fragments). See docs/accuracy.md.

Usage::

    python tools/analysis/accuracy_benchmark.py                # table, 3 seeds
    python tools/analysis/accuracy_benchmark.py --sweep --seeds 1
    python tools/analysis/accuracy_benchmark.py --best-from OUT/sweep.json
    python tools/analysis/accuracy_benchmark.py --quick           # smoke run
    python tools/analysis/accuracy_benchmark.py --task det        # detection

``--task det``: RetinaNet (stock config, shrunk) on COCO-format digit
detection scenes, bbox mAP (docs/detection.md); the same sweep, seeds,
reuse and reports.

Writes ``table.{json,md,png}`` (or ``sweep.*``) under ``--out-dir``; the
dataset, pretrained backbones and the teacher are cached under
``--cache-dir``, keyed by their settings (changed settings => rebuilt).
"""
import argparse
import dataclasses
import os

from mmswtat.benchmark.accuracy import (DEFAULT_METHODS, baseline_grid,
                                        quick_settings, run_sweep, run_table,
                                        sweep_grid)
# yapf: disable
from mmswtat.benchmark.accuracy.bench import (WEIGHT_FACTORS, best_settings,
                                              check_grid, load_report,
                                              reusable_runs, run_merge,
                                              shard_grid, table_grid,
                                              with_knobs)
# yapf: enable
from mmswtat.benchmark.accuracy.det_configs import DET_METHODS
from mmswtat.benchmark.accuracy.det_settings import (det_quick_settings,
                                                     det_regime_settings)
from mmswtat.benchmark.accuracy.settings import (CONVERGED_ITERS, REGIMES,
                                                 STUDENT_ARCHS,
                                                 regime_settings)
from mmswtat.benchmark.accuracy.tasks import TASKS
from mmswtat.utils.cli import (existing_file, non_negative_int, positive_float,
                               positive_int)


def report_file(text: str) -> str:
    """argparse ``type=`` for a report of this benchmark (``--reuse``,
    ``--best-from``)."""
    try:
        load_report(existing_file(text))
    except ValueError as e:  # argparse would say only "invalid value"
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def shard_arg(text: str):
    """argparse ``type=`` for ``--shard K/N`` (1 <= K <= N)."""
    k, sep, n = text.partition('/')
    try:
        k, n = int(k), int(n)
    except ValueError:
        k = n = 0
    if not sep or not 1 <= k <= n:
        raise argparse.ArgumentTypeError(
            f'{text!r}: expected K/N with 1 <= K <= N, e.g. 1/2')
    return k, n


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument(
        '--task',
        default='seg',
        choices=list(TASKS),
        help='seg: DeepLabV3 on the digit scenes (mIoU); det: '
        'RetinaNet on the digit detection scenes (bbox mAP, '
        'docs/detection.md)')
    p.add_argument(
        '--methods',
        nargs='+',
        help='methods to run. seg: components of '
        'mmswtat/recipes.py or recipes joined by + (default: '
        f'{" ".join(DEFAULT_METHODS)}); det: '
        f'{" ".join(DET_METHODS)} (default: all)')
    p.add_argument(
        '--regime',
        default='default',
        choices=list(REGIMES),
        help='seg: default: 300-iteration students, 1,000-iteration '
        'teacher; long: 2,000-iteration students, the teacher '
        'trained 5,000 iterations; converged: 8,000-iteration '
        'students (plateau checked against 4,000), the teacher '
        'trained 10,000 iterations (docs/accuracy.md). det: default: '
        '1,000-iteration students, 3,000-iteration teacher; long: '
        '2,000-iteration students, 6,000-iteration teacher '
        '(docs/detection.md)')
    p.add_argument(
        '--teacher-width',
        type=positive_int,
        help="teacher's base_channels (default 32: half-width "
        'ResNet-18; 64 = full width); its heads scale with it')
    p.add_argument(
        '--student-arch',
        default='resnet',
        choices=list(STUDENT_ARCHS),
        help='seg: the student family. resnet: the quarter-width '
        'ResNet-18-D8 (default); mobilenetv2: a DeepLabV3 '
        'MobileNetV2-D8 at width 0.5 (a cross-family pair; head '
        'and logit methods only, its stages are not layer4)')
    p.add_argument(
        '--size',
        type=positive_int,
        help='scene size in pixels (default 64: an 8x8 layer4 '
        'map); SW-TaT keeps window 4, shift 2')
    p.add_argument(
        '--teacher-precision',
        choices=['bf16', 'fp32', 'auto'],
        help="table: the distillers' teacher_precision (a knob "
        "of every distilled run; default: the distiller's fp32)")
    p.add_argument(
        '--knob',
        action='append',
        default=[],
        metavar='KEY=VALUE',
        help='table: a knob added to every distilled method '
        '(repeatable), e.g. logit_factor=3 (a recipe\'s logit '
        'weight x3: swtat_head+cwd at 1 is then 0.1 + 9) or '
        'preact=True')
    p.add_argument(
        '--baseline-factors',
        nargs='*',
        type=positive_float,
        default=[0.5, 2.0],
        help='table: also train the undistilled student for '
        'these multiples of the schedule (its plateau, N/2 vs N, '
        'and the matched-compute column); the flag with no values '
        'skips it')
    p.add_argument(
        '--seeds',
        type=positive_int,
        default=3,
        help='number of seeds (0..N-1); mean ± std over them')
    p.add_argument(
        '--first-seed',
        type=non_negative_int,
        default=0,
        help='seeds are FIRST..FIRST+N-1 (split a run over '
        'processes, then merge the reports with --reuse)')
    p.add_argument(
        '--sweep',
        action='store_true',
        help='loss-weight sweep of every method plus SW-TaT knobs')
    p.add_argument(
        '--best-from',
        metavar='SWEEP_JSON',
        type=report_file,
        help='run each method at its best setting of this sweep')
    p.add_argument(
        '--reuse',
        nargs='+',
        default=[],
        metavar='JSON',
        type=report_file,
        help='reports whose runs (same settings, method, weight, '
        'knobs, seed) are taken instead of re-run')
    p.add_argument(
        '--report-only',
        action='store_true',
        help='train nothing: report the --reuse runs that the '
        'table/sweep asks for (merges split runs); without '
        '--methods, every run of the --reuse reports')
    p.add_argument(
        '--knob-methods',
        nargs='*',
        help='sweep: methods whose knob variants are tried '
        '(default: every method that has some: seg swtat, '
        'swtat_head; det swtat, swtat_nopm); none to skip them')
    p.add_argument(
        '--structure-sweep',
        action='store_true',
        help="sweep: SW-TaT's structure instead of its knob "
        'variants, each at every weight factor. seg: global_pass '
        'pm/anchor/none x window_size 1/2/4 (shift half the '
        'window; methods swtat, swtat_head); det: the FPN forms '
        "(normalize='self', window_size='auto', connector, "
        'global_pass; method swtat)')
    p.add_argument(
        '--shard',
        type=shard_arg,
        metavar='K/N',
        help='run only part K of N of the grid (every N-th setting '
        'from the K-th): processes side by side, each with its '
        'own --out-dir and the same --cache-dir; merge with '
        '--reuse A.json B.json --report-only')
    p.add_argument(
        '--factors',
        nargs='+',
        type=positive_float,
        help='sweep: weight factors around the published weight '
        '(default 0.3 1 3 10)')
    p.add_argument('--iters', type=positive_int, help='student iterations')
    p.add_argument(
        '--teacher-iters', type=positive_int, help='teacher iterations')
    p.add_argument('--data-seed', type=non_negative_int, help='dataset seed')
    p.add_argument(
        '--threads',
        type=non_negative_int,
        default=1,
        help='torch threads per process (default 1: measured on '
        'a busy 2-core machine, 2 threads spin-waited at 10 s/it '
        'against 0.4 s/it for 1; run processes side by side '
        'with --first-seed instead)')
    p.add_argument(
        '--quick',
        action='store_true',
        help='tiny networks and data, a few iterations (smoke)')
    p.add_argument('--out-dir', default='work_dirs/accuracy')
    p.add_argument(
        '--force',
        action='store_true',
        help="replace the report (table.* or sweep.*) that "
        '--out-dir already holds (its runs are lost unless '
        'given to --reuse)')
    p.add_argument(
        '--cache-dir',
        default=None,
        help='cache of data/backbones/teacher (default '
        'OUT_DIR/cache)')
    return p.parse_args(argv)


def parse_knobs(items) -> dict:
    """``['logit_factor=3', 'preact=True']`` -> ``{'logit_factor': 3.0,
    'preact': True}`` (numbers and booleans parsed, other values strings).
    """
    import ast
    knobs = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise SystemExit(f'--knob {item!r}: expected KEY=VALUE, e.g. '
                             'logit_factor=3')
        try:
            knobs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            knobs[key] = value
        if isinstance(knobs[key], int) and not isinstance(knobs[key], bool):
            knobs[key] = float(knobs[key])
    return knobs


def check_arch_methods(methods, arch: str) -> None:
    """Methods on ``layer4`` need a ResNet student: refuse them for
    another family, naming the methods that fit."""
    from mmswtat.recipes import COMPONENTS
    bad = [
        m for m in methods for c in m.split('+')
        if c in COMPONENTS and COMPONENTS[c].placement == 'layer4'
    ]
    if bad:
        fit = [n for n, c in COMPONENTS.items() if c.placement != 'layer4']
        raise SystemExit(
            f'accuracy_benchmark.py: error: --student-arch {arch}: '
            f'{" ".join(dict.fromkeys(bad))} distil(s) layer4, which a '
            f'{arch} student does not have; use {", ".join(fit)} (or '
            'recipes of them)')


def check_plateau_run(iters: int, factors) -> None:
    """``--regime converged`` needs its plateau check: >= 8,000 student
    iterations and, where the undistilled student runs, that student at
    half of them too (baseline factor 0.5). Said before anything
    trains."""
    if iters < CONVERGED_ITERS:
        raise SystemExit(
            f'accuracy_benchmark.py: error: --regime converged with --iters '
            f'{iters}: its plateau check compares the undistilled student at '
            f'{CONVERGED_ITERS // 2} and {CONVERGED_ITERS} iterations, so it '
            f'needs --iters >= {CONVERGED_ITERS} (or use --regime long)')
    if 0.5 not in (factors or ()):
        raise SystemExit(
            'accuracy_benchmark.py: error: --regime converged needs the '
            'undistilled student at half the schedule for its plateau '
            'check; keep 0.5 in --baseline-factors (e.g. '
            '--baseline-factors 0.5)')


def precheck(settings, grid) -> None:
    """Every setting can run (knobs, duplicates): one line, before any
    data, teacher or report is made."""
    try:
        check_grid(settings, grid)
    except ValueError as e:
        raise SystemExit(f'accuracy_benchmark.py: error: {e}') from None


def check_reports(out_dir: str, name: str, force: bool) -> None:
    """Refuse, before any training, to replace ``OUT_DIR/<name>.*``
    without ``--force``: its runs would be lost."""
    from mmswtat.utils.output_files import check_output_path
    for ext in ('json', 'md', 'png'):
        try:
            check_output_path(
                os.path.join(out_dir, f'{name}.{ext}'), force,
                'tools/analysis/accuracy_benchmark.py', '--out-dir report')
        except FileExistsError as e:
            raise SystemExit(
                f'{e}; to keep its runs, give a new --out-dir and --reuse '
                f'{os.path.join(out_dir, name + ".json")}') from None


def main(argv=None) -> dict:
    """Run the benchmark; torch's thread count is restored on return (the
    tool may run inside another program, e.g. the tests)."""
    import torch
    threads = torch.get_num_threads()
    try:
        return _main(argv)
    finally:
        torch.set_num_threads(threads)


def _main(argv=None) -> dict:
    args = parse_args(argv)
    task = TASKS[args.task]
    merge = args.report_only and args.reuse and not args.methods
    args.methods = args.methods or list(task.default_methods)
    try:
        task.check_methods(args.methods)
    except ValueError as e:  # one line, not a traceback
        raise SystemExit(f'accuracy_benchmark.py: error: --methods: {e}') \
            from None
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.task == 'det':
        try:
            s = det_regime_settings(args.regime)
        except ValueError as e:
            raise SystemExit(f'accuracy_benchmark.py: error: {e}') from None
        s = det_quick_settings() if args.quick else s
    else:
        s = quick_settings() if args.quick else regime_settings(args.regime)
    if args.teacher_width:
        w = args.teacher_width
        s = dataclasses.replace(
            s,
            teacher=dataclasses.replace(
                s.teacher,
                base_channels=w,
                stem_channels=w,
                head_channels=2 * w))
    if args.student_arch != 'resnet':
        if args.task != 'seg':
            raise SystemExit('accuracy_benchmark.py: error: --student-arch '
                             'is a segmentation option (leave --task seg)')
        if not merge:  # a merge trains nothing: its reports' methods ran
            check_arch_methods(args.methods, args.student_arch)
        s = dataclasses.replace(s, student=STUDENT_ARCHS[args.student_arch])
    if args.size:
        s = dataclasses.replace(
            s, data=dataclasses.replace(s.data, size=args.size))
    if args.iters:
        s = dataclasses.replace(
            s,
            student_train=dataclasses.replace(
                s.student_train, iters=args.iters))
    if args.teacher_iters:
        s = dataclasses.replace(
            s,
            teacher_train=dataclasses.replace(
                s.teacher_train, iters=args.teacher_iters))
    if args.data_seed is not None:
        s = dataclasses.replace(
            s, data=dataclasses.replace(s.data, seed=args.data_seed))
    try:
        s.check()  # prepare() checks again; here, before anything is written
    except ValueError as e:
        raise SystemExit(f'accuracy_benchmark.py: error: {e}') from None
    if (args.regime == 'converged' and not args.sweep
            and 'none' in args.methods):
        check_plateau_run(s.student_train.iters, args.baseline_factors)
    if args.shard and not args.sweep:
        raise SystemExit('accuracy_benchmark.py: error: --shard splits a '
                         'sweep; split a table with --first-seed/--seeds')
    if args.structure_sweep and not args.sweep:
        raise SystemExit('accuracy_benchmark.py: error: --structure-sweep '
                         'is a sweep option; add --sweep')
    check_reports(args.out_dir, 'sweep' if args.sweep else 'table', args.force)
    if args.reuse and not merge:  # before any data or teacher is made
        try:
            reusable_runs(args.reuse, s)
        except ValueError as e:
            raise SystemExit(f'accuracy_benchmark.py: error: {e}') from None
    cache = args.cache_dir or os.path.join(args.out_dir, 'cache')
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if merge:
        out = run_merge(s, args.reuse, args.out_dir, cache,
                        'sweep' if args.sweep else 'table')
    elif args.sweep:
        source = (
            task.structure_knobs
            if args.structure_sweep else task.method_knobs)
        knobs = {
            m: v
            for m, v in source.items() if m in
            (args.methods if args.knob_methods is None else args.knob_methods)
        }
        grid = sweep_grid(
            args.methods,
            args.factors or WEIGHT_FACTORS,
            knobs,
            task,
            cross=args.structure_sweep)
        if args.shard:
            grid = shard_grid(grid, args.shard)
        precheck(s, grid)
        out = run_sweep(
            s,
            grid,
            seeds,
            args.out_dir,
            cache,
            reuse=args.reuse,
            report_only=args.report_only)
    else:
        best = best_settings(args.best_from) if args.best_from else None
        knobs = parse_knobs(args.knob)
        if args.teacher_precision:
            knobs['teacher_precision'] = args.teacher_precision
        if knobs:
            best = {
                m:
                with_knobs((best or {}).get(m)
                           or (m, task.published_weight(m), {}), **knobs)
                for m in args.methods if m != 'none'
            }
        extra = baseline_grid(args.baseline_factors or (),
                              s.student_train.iters)
        precheck(s, table_grid(task, args.methods, best, extra))
        out = run_table(
            s,
            args.methods,
            seeds,
            args.out_dir,
            cache,
            best,
            reuse=args.reuse,
            report_only=args.report_only,
            extra=extra)
    print(open(out['paths']['md']).read())
    print(f'[accuracy] reports: {out["paths"]}')
    return out


if __name__ == '__main__':
    main()
