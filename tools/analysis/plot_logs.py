"""Loss and metric curves from mmengine's ``scalars.json``.

    python tools/analysis/plot_logs.py WORK_DIR [WORK_DIR ...] --out curves.png
        [--run latest|all|<timestamp>] [--labels A B ...]
        [--metrics mIoU ...] [--distill-keys loss_swtat ...] [--title TEXT]

WORK_DIR is a ``tools/train.py --work-dir`` (its ``<timestamp>/vis_data/
scalars.json`` is read), one ``<timestamp>`` folder, or a ``scalars.json``.
One figure, three panels: the total and task losses, each distillation loss
(names from the config dumped next to the log, or ``--distill-keys``) and the
validation metrics (mIoU, coco/bbox_mAP, accuracy/top1, ...). Several work
dirs (e.g. the distilled and the undistilled student) share the panels.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmswtat.analysis import draw_curves, load_run, save_figure
from mmswtat.utils.output_files import check_output_path


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot task losses, distillation losses and validation '
        "metrics from mmengine's vis_data/scalars.json")
    parser.add_argument(
        'work_dirs',
        nargs='+',
        metavar='WORK_DIR',
        help='training work dir(s), timestamp folder(s) or '
        'scalars.json file(s)')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument(
        '--force', action='store_true', help='replace an existing --out')
    parser.add_argument(
        '--run',
        default='latest',
        help="'latest' (default), 'all' (every run of the work dir in order, "
        'e.g. a resumed training) or a timestamp folder name')
    parser.add_argument('--labels', nargs='+', help='legend name per work dir')
    parser.add_argument(
        '--metrics',
        nargs='+',
        help='validation metrics to plot (default: '
        'the primary one first, at most four)')
    parser.add_argument(
        '--distill-keys',
        nargs='+',
        help='logged keys that are distillation losses (default: the '
        'distill_losses of the config dumped in vis_data/config.py)')
    parser.add_argument('--title', default='', help='figure title')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not args.out.lower().endswith('.png'):
        sys.exit(f'plot_logs.py: error: --out must be a .png file, got '
                 f'{args.out!r}')
    if args.labels and len(args.labels) != len(args.work_dirs):
        sys.exit(f'plot_logs.py: error: {len(args.labels)} --labels for '
                 f'{len(args.work_dirs)} work dirs')
    runs = []
    for i, work_dir in enumerate(args.work_dirs):
        try:
            run = load_run(work_dir, args.run,
                           args.labels[i] if args.labels else None,
                           args.distill_keys)
        except (FileNotFoundError, ValueError) as e:
            sys.exit(f'plot_logs.py: error: {e}')
        steps = max((len(x) for x, _ in run.train.values()), default=0)
        print(
            f'[plot_logs] {run.label}: {len(run.files)} run(s), {steps} '
            f'training points, losses {run.task_keys}, distillation '
            f'{run.distill_keys}, metrics {list(run.val)}',
            flush=True)
        if args.distill_keys:
            absent = [k for k in args.distill_keys if k not in run.train]
            if absent:
                print(
                    f'[plot_logs] warning: {run.label} never logged '
                    f'{absent}',
                    flush=True)
        runs.append(run)
    if args.metrics:
        logged = {m for run in runs for m in run.val}
        absent = [m for m in args.metrics if m not in logged]
        if absent:
            sys.exit(f'plot_logs.py: error: metrics {absent} were not '
                     f'logged; logged: {sorted(logged)}')
    try:  # after the inputs are read, before anything is drawn
        check_output_path(args.out, args.force, '', '--out')
    except OSError as e:
        sys.exit(f'plot_logs.py: error: {e}')
    path = save_figure(draw_curves(runs, args.metrics, args.title), args.out)
    print(f'[plot_logs] curves: {osp.abspath(path)}', flush=True)


if __name__ == '__main__':
    main()
