"""Write the student of a distillation checkpoint as a plain model checkpoint.

    python tools/export_student.py CKPT OUT [--force]

The result loads in the codebase's own tools (e.g. mmseg's ``tools/test.py``)
with the stock student config: keys have no ``student.`` prefix and the
teacher, connectors, embeddings, optimizer and message hub are left out.
OUT may not be CHECKPOINT; an existing directory gets CHECKPOINT_student.pth;
an existing file is replaced only with --force, and never when it is a
training checkpoint; the file is written atomically (no half file after an
interruption).
"""
import argparse
import sys
from typing import Optional, Sequence

from mmswtat.utils.student_checkpoint import export_student


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the tool on ``argv`` (default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='distillation checkpoint')
    parser.add_argument(
        'out',
        help='output .pth file (or an existing '
        'directory: CHECKPOINT_student.pth in it)')
    parser.add_argument(
        '--no-weights-only',
        action='store_true',
        help='load CHECKPOINT with weights_only=False (pickled objects '
        'allowed): only for files you trust')
    parser.add_argument(
        '--force',
        action='store_true',
        help='replace an existing OUT (never a training '
        'checkpoint)')
    args = parser.parse_args(argv)
    try:
        path, n = export_student(args.checkpoint, args.out,
                                 not args.no_weights_only, args.force)
    except (ValueError, OSError) as e:  # refused OUT, unreadable CKPT
        sys.exit(f'export_student.py: {e}')
    print(f'wrote {n} student tensors to {path}')


if __name__ == '__main__':
    main()
