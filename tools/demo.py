"""`make demo`: distillation makes a better student, on real data, in minutes.

1. the accuracy benchmark's digit scenes (scikit-learn's handwritten digits
   on its sample photographs), digit-pretrained backbones and a DeepLabV3
   teacher, trained once and cached (a second run reuses them);
2. + 3. the student distilled with the shipped recipe and the same student
   without distillation, side by side: same initial weights, seed, data
   order and iterations, each with `tools/train.py` on a config file
   written to OUT/configs/;
4. all three tested with `tools/test.py`;
5. the distilled student exported, `predictions.png` (image, ground truth,
   teacher, undistilled and distilled student for 6 validation scenes) and
   `curves.png` (both students' losses).

Every step prints the command it runs. Environment knobs DEMO_DIR,
DEMO_ITERS, DEMO_TEACHER_ITERS, DEMO_SEED and DEMO_METHOD are the options'
defaults. See docs/accuracy.md for the benchmark behind it.
"""
import argparse
import os
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None) -> argparse.Namespace:
    from mmswtat.utils.cli import non_negative_int, positive_int
    env = os.environ.get
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0].replace('`', ''),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.split('\n')[1:]))
    p.add_argument(
        '--out-dir',
        default=env('DEMO_DIR', osp.join(ROOT, 'work_dirs', 'demo')),
        help='where the data, runs, table and figures go (DEMO_DIR; '
        'default work_dirs/demo)')
    p.add_argument(
        '--iters',
        type=positive_int,
        default=env('DEMO_ITERS', '300'),
        help='student iterations (DEMO_ITERS; default 300)')
    p.add_argument(
        '--teacher-iters',
        type=positive_int,
        default=env('DEMO_TEACHER_ITERS', '1000'),
        help='teacher iterations (DEMO_TEACHER_ITERS; default 1000, '
        'cached)')
    p.add_argument(
        '--seed',
        type=non_negative_int,
        default=env('DEMO_SEED', '0'),
        help="the students' seed (DEMO_SEED; default 0)")
    p.add_argument(
        '--method',
        default=env('DEMO_METHOD'),
        help='a method or recipe of mmswtat/recipes.py (DEMO_METHOD; '
        'default: the shipped recipe at its shipped weights)')
    p.add_argument(
        '--force',
        action='store_true',
        help='replace the table and figures OUT already holds')
    p.add_argument(
        '--quick',
        action='store_true',
        help='tiny networks and data (a smoke test of every step; the '
        'tests run it)')
    args = p.parse_args(argv)
    if args.method is not None:
        from mmswtat.benchmark.accuracy.methods import check_methods
        try:
            if args.method == 'none':
                raise ValueError("'none' is the undistilled student the "
                                 'demo trains anyway; give a method')
            check_methods([args.method])
        except ValueError as e:
            p.error(f'--method: {e}')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    from mmswtat.benchmark.accuracy.demo import run_demo
    return run_demo(args.out_dir, args.iters, args.teacher_iters, args.seed,
                    args.method, args.force, args.quick)


if __name__ == '__main__':
    main()
