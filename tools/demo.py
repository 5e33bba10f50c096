"""`make demo`: SW-TaT distillation end to end, offline, on 2 CPU cores.

1. writes a small synthetic VOC dataset (real VOC layout);
2. trains a DeepLabV3 R101-D8 teacher on it (mmseg's stock config);
3. distils DeepLabV3 R18-D8 from it with pure SW-TaT on layer4
   (configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py);
4. trains the same R18 student without distillation for as many iterations;
5. tests all three with tools/test.py and prints their mIoU side by side,
   and plots the loss curves of the two students.

Every step is the real command a user runs, with `--cfg-options` for data
location, crop size and iterations. Options (``--help``); the environment
knobs DEMO_ITERS, DEMO_TEACHER_ITERS, DEMO_CROP, DEMO_DIR and
DEMO_DISTILL_WEIGHT are their defaults.

The distillation runs with the config's own loss weights (DEMO_DISTILL_WEIGHT
overrides both). At the demo's 64-pixel crop layer4 is 8x8, which the
config's 8x8 window would cover whole (SW-TaT would degenerate to global
TaT), so the demo sets window 4 / shift 2: four windows per map, and the
shifted pass crosses their borders, as at the paper's 512 crop.
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys
import time

from mmswtat.testing import as_cli, seg_tiny_options

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

STOCK_TEACHER = ('mmseg::deeplabv3/'
                 'deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py')
DISTILL = osp.join(ROOT, 'configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py')
STUDENT = osp.join(
    ROOT, 'configs/students/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py')


def run(step: str, cmd: list, log: str) -> str:
    """Run a command, stream a one-line progress, return its output."""
    print(f'[demo] {step} ...', flush=True)
    start = time.time()
    lines = []
    with open(log, 'w') as f, subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT) as proc:
        for line in proc.stdout:
            f.write(line)
            lines.append(line)
            m = re.search(r'Iter\((train|test|val)\)\s*\[\s*(\d+)/(\d+)\]',
                          line)
            if m:
                print(
                    f'\r[demo]   {m.group(1)} {m.group(2)}/{m.group(3)}'
                    f'  ({time.time() - start:.0f}s)',
                    end='',
                    flush=True)
    print(
        f'\r[demo]   done in {time.time() - start:.0f}s (log: {log})',
        flush=True)
    if proc.returncode:
        sys.stdout.write(''.join(lines[-40:]))
        raise SystemExit(f'[demo] {step} failed (exit {proc.returncode}); '
                         f'see {log}')
    return ''.join(lines)


def miou(output: str) -> float:
    found = re.findall(r'mIoU: ([\d.]+)', output)
    if not found:
        raise SystemExit('[demo] no mIoU in the test output')
    return float(found[-1])


def parse_args(argv=None) -> argparse.Namespace:
    from mmswtat.utils.cli import positive_float, positive_int
    env = os.environ.get
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0].replace('`', ''),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.split('\n')[1:]))
    p.add_argument(
        '--out-dir',
        default=env('DEMO_DIR', osp.join(ROOT, 'work_dirs/demo')),
        help='where the data, runs and figures go (DEMO_DIR; default '
        'work_dirs/demo)')
    p.add_argument(
        '--iters',
        type=positive_int,
        default=env('DEMO_ITERS', '120'),
        help='student iterations (DEMO_ITERS; default 120)')
    p.add_argument(
        '--teacher-iters',
        type=positive_int,
        default=env('DEMO_TEACHER_ITERS'),
        help='teacher iterations (DEMO_TEACHER_ITERS; default --iters)')
    p.add_argument(
        '--crop',
        type=positive_int,
        default=env('DEMO_CROP', '64'),
        help='crop size in pixels (DEMO_CROP; default 64)')
    p.add_argument(
        '--distill-weight',
        type=positive_float,
        default=env('DEMO_DISTILL_WEIGHT'),
        help="both SW-TaT weights d = z (DEMO_DISTILL_WEIGHT; default the "
        "config's)")
    args = p.parse_args(argv)
    # argparse converts string defaults with `type` (environment values
    # are checked like flags)
    if args.teacher_iters is None:
        args.teacher_iters = args.iters
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    iters, teacher_iters, crop = args.iters, args.teacher_iters, args.crop
    out = osp.abspath(args.out_dir)
    os.makedirs(out, exist_ok=True)
    py = sys.executable
    data_root = osp.join(out, 'data/VOCdevkit/VOC2012')

    run('1/5 synthetic VOC dataset', [
        py, 'tools/make_synthetic_data.py', 'voc', '--out',
        osp.join(out, 'data'), '--num-train', '200', '--num-val', '40',
        '--size',
        str(crop), '--seed', '0', '--force'
    ], osp.join(out, 'data.log'))

    def train(step, config, work, n, extra=()):
        opts = seg_tiny_options(
            config, data_root, crop=crop, iters=n, batch_size=4, lr=0.05)
        opts['randomness.seed'] = 0
        run(step, [
            py, 'tools/train.py', config, '--work-dir', work, '--cfg-options',
            *as_cli(opts), *extra
        ], osp.join(out,
                    osp.basename(work) + '_train.log'))
        return osp.join(work, f'iter_{n}.pth')

    def test(step, config, ckpt, work, extra=()):
        opts = seg_tiny_options(config, data_root, crop=crop)
        text = run(step, [
            py, 'tools/test.py', config, ckpt, '--work-dir', work,
            '--cfg-options', *as_cli(opts), *extra
        ], osp.join(out,
                    osp.basename(work) + '_test.log'))
        return miou(text)

    teacher_ckpt = train('2/5 teacher DeepLabV3 R101-D8', STOCK_TEACHER,
                         osp.join(out, 'teacher'), teacher_iters)
    windows = [
        'model.distill.distill_losses.loss_swtat.window_size=4',
        'model.distill.distill_losses.loss_swtat.shift_size=2'
    ]
    weight = args.distill_weight
    if weight is not None:
        windows += [
            f'model.distill.distill_losses.{name}.loss_weight={weight}'
            for name in ('loss_swtat', 'loss_pmtat')
        ]
    distill_ckpt = train('3/5 SW-TaT distillation R101 -> R18', DISTILL,
                         osp.join(out, 'distill'), iters,
                         [f'model.teacher_ckpt={teacher_ckpt}', *windows])
    baseline_ckpt = train('4/5 student R18-D8 without distillation', STUDENT,
                          osp.join(out, 'baseline'), iters)

    run('curves', [
        py, 'tools/analysis/plot_logs.py',
        osp.join(out, 'distill'),
        osp.join(out, 'baseline'), '--labels', 'SW-TaT', 'baseline', '--out',
        osp.join(out, 'curves.png'), '--force'
    ], osp.join(out, 'curves.log'))

    results = [
        ('teacher R101-D8',
         test('5/5 test teacher', STOCK_TEACHER, teacher_ckpt,
              osp.join(out, 'test_teacher'))),
        ('student R18-D8, SW-TaT distilled',
         test('5/5 test distilled student', DISTILL, distill_ckpt,
              osp.join(out, 'test_distill'))),
        ('student R18-D8, no distillation',
         test('5/5 test baseline student', STUDENT, baseline_ckpt,
              osp.join(out, 'test_baseline'))),
    ]
    weights = (f'd = z = {weight} (DEMO_DISTILL_WEIGHT)'
               if weight else "the config's d and z")
    print(f'\n(distillation loss weights: {weights}; SW-TaT window 4, shift '
          f'2 on the 8x8 layer4 map; crop {crop}, batch 4, from random '
          'initialisation)')
    print('\n| model | iterations | mIoU (synthetic VOC val) |')
    print('|---|---|---|')
    for (name, value), n in zip(results, (teacher_iters, iters, iters)):
        print(f'| {name} | {n} | {value:.2f} |')
    print(f'\n[demo] work dirs, logs and checkpoints: {out}')
    print(f'[demo] distilled checkpoint: {distill_ckpt}')
    print(f'[demo] loss curves (distilled vs baseline): '
          f'{osp.join(out, "curves.png")}')
    student = osp.join(out, 'student.pth')
    print('[demo] export the student for mmseg: python '
          f'tools/export_student.py {distill_ckpt} {student}')


if __name__ == '__main__':
    main()
