"""Write a ready, commented distillation config for a student/teacher pair.

    python tools/make_distill_config.py STUDENT_CFG TEACHER_CFG
        [--teacher-ckpt PATH] [--method swtat|swtat_head+cwd|...]
        [--out FILE [--force]]

Both configs are mmseg, mmdet or mmpretrain configs (local files or
``scope::path``). The models are built offline with random weights and run
on one dummy batch; their backbone stages and neck levels are matched by
stride (every FPN level for detectors, the deepest stage otherwise, plus
head.fc logits with KD for classifiers), a shared connector is added where
the channels differ, and windows are chosen for each map at the student
config's training crop. The output inherits the student config, so data,
schedule and runtime stay yours; train it with tools/train.py.
"""
import argparse
import os.path as osp
import shlex
import sys
from typing import Optional, Sequence

import mmswtat  # noqa: F401  (mmswtat:: configs, registry)
from mmswtat.config_gen import METHODS, MatchError, make_distill_config
from mmswtat.utils.output_files import check_output_path


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.split('\n\n')[2:]))
    parser.add_argument('student', help='student config (file or scope::)')
    parser.add_argument('teacher', help='teacher config (file or scope::)')
    parser.add_argument(
        '--teacher-ckpt',
        help='teacher checkpoint path or URL (default: the Weights of the '
        "teacher config's metafile entry, else a placeholder to fill in)")
    parser.add_argument(
        '--method',
        help='distillation method or recipe: one of ' + ', '.join(METHODS) +
        ', or several joined by + (e.g. swtat_head+cwd: SW-TaT on the '
        "decode head's last feature plus CWD on the logits); default: "
        'swtat_head+cwd for segmentation pairs (the accuracy benchmark\'s '
        'best recipe), swtat (SW-TaT + patch merging on the matched maps) '
        'for detectors and classifiers')
    parser.add_argument(
        '--out', help='output config file (default: print to stdout)')
    parser.add_argument(
        '--force', action='store_true', help='replace an existing --out')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the tool on ``argv`` (default ``sys.argv[1:]``); the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    command = 'python tools/make_distill_config.py ' + ' '.join(
        shlex.quote(a) for a in argv)
    try:
        if args.out is not None:  # before the probe: fail fast
            check_output_path(args.out, args.force, '', '--out', '.py')
        text = make_distill_config(
            args.student,
            args.teacher,
            method=args.method,
            teacher_ckpt=args.teacher_ckpt,
            command=command)
    except (MatchError, ValueError, OSError) as e:
        print(f'make_distill_config: {e}', file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(text)
        return 0
    if osp.dirname(args.out):
        import os
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write(text)
    print(
        f'wrote {args.out}; train it with\n'
        f'    python tools/train.py {args.out}',
        file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
