#!/usr/bin/env python
"""Write tiny, learnable synthetic datasets in real OpenMMLab on-disk formats.

A command-line front end of :mod:`mmswtat.datasets.synthetic` (the writers,
their layouts and the content are documented there). Subcommands and the
``data_root`` they make::

    voc           OUT/VOCdevkit/VOC2012    mmseg pascal_voc12(_aug).py
    cocostuff10k  OUT/coco_stuff10k        mmseg coco-stuff10k.py
    coco          OUT/coco/                mmdet coco_detection/instance.py
    voc-det       OUT/VOCdevkit/           mmdet voc0712.py
    imagenet      OUT/imagenet             mmpretrain imagenet_bs32.py

The same ``--seed`` (and the same other arguments) gives byte-identical files.

Example:
    python tools/make_synthetic_data.py voc --out data/synth --num-train 200

A format's folders under ``--out`` (e.g. ``OUT/VOCdevkit/VOC2012``) that
already hold files are written into only with ``--force``.
"""
import argparse
import os.path as osp
import sys
from typing import Callable, Optional, Sequence

from mmswtat.datasets.synthetic import FORMATS
from mmswtat.utils.output_files import check_output_dir

_EPILOG = """\
config overrides (only data_root is needed with the default sizes):
  voc           mmseg pascal_voc12.py / pascal_voc12_aug.py:
                  data_root='OUT/VOCdevkit/VOC2012'
  cocostuff10k  mmseg coco-stuff10k.py: data_root='OUT/coco_stuff10k'
                  (model decode_head num_classes stays 171)
  coco          mmdet coco_detection.py / coco_instance.py:
                  data_root='OUT/coco/', and
                  val_evaluator.ann_file='OUT/coco/annotations/
                  instances_val2017.json' (it is built from data_root at
                  config-parse time); num_classes stays 80
  voc-det       mmdet voc0712.py: data_root='OUT/VOCdevkit/' (num_classes 20).
                  With --size < ~80 either keep --min-obj-size >= 34 or set
                  filter_cfg.bbox_min_size lower in the train datasets
  imagenet      mmpretrain imagenet_bs32.py: data_root='OUT/imagenet' for both
                  loaders; model.head.num_classes=N (optional but sensible),
                  data_preprocessor.num_classes=N, Accuracy topk <= N.
                  The stock 1000-name metainfo is fine (labels 0..N-1); to
                  restrict it pass classes='OUT/imagenet/meta/classes.txt'
                  (an absolute/cwd-relative path, not joined with data_root)
coco and voc-det: keep --size >= 32, the stock train datasets drop images
  whose shorter side is below filter_cfg.min_size=32.
all: the stock pipelines resize to 512 / 1333x800 / 224, which works but is
slow on tiny images; shrinking the pipeline scales is optional.
"""


def _describe(func: Callable) -> str:
    """Return a writer's docstring without its Args/Returns."""
    doc = func.__doc__ or ''
    return doc.split('    Args:')[0].rstrip() + '\n'


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per format."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='format', required=True)
    for name, (func, help_text, size, _) in FORMATS.items():
        p = sub.add_parser(
            name,
            help=help_text,
            description=_describe(func),
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument('--out', required=True, help='output directory')
        p.add_argument(
            '--force',
            action='store_true',
            help='write into folders that already hold files '
            '(files of the same names are replaced)')
        p.add_argument(
            '--num-train',
            type=int,
            default=200,
            help='number of training images (default 200)')
        p.add_argument(
            '--num-val',
            type=int,
            default=50,
            help='number of val/test images (default 50)')
        p.add_argument(
            '--size',
            type=int,
            default=size,
            help=f'image side in pixels (default {size})')
        p.add_argument(
            '--seed',
            type=int,
            default=0,
            help='random seed; same seed => same bytes')
        if name == 'imagenet':
            p.add_argument(
                '--num-classes',
                type=int,
                default=10,
                help='number of classes (default 10)')
        else:
            p.add_argument(
                '--num-classes-used',
                type=int,
                default=5,
                help='how many object classes appear (default 5)')
            p.add_argument(
                '--max-objects',
                type=int,
                default=3,
                help='max objects per image (default 3)')
        if name in ('voc', 'cocostuff10k'):
            p.add_argument(
                '--boundary',
                type=int,
                default=1,
                help='half width of the ignore band around '
                'objects (default 1, 0 = none)')
        if name == 'voc-det':
            p.add_argument(
                '--min-obj-size',
                type=int,
                default=36,
                help='min object box side (default 36, so boxes '
                'survive bbox_min_size=32 of voc0712.py)')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> str:
    """CLI entry point.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The printed one-line summary.
    """
    options = vars(build_parser().parse_args(argv))
    fmt = FORMATS[options.pop('format')]
    force = options.pop('force')
    try:
        check_output_dir(options['out'], True, 'tools/make_synthetic_data.py',
                         '--out')  # not a file
        for folder in fmt.folders:
            check_output_dir(
                osp.join(options['out'], folder), force,
                'tools/make_synthetic_data.py', '--out')
    except (ValueError, OSError) as e:  # not empty / a file / no path
        raise SystemExit(str(e)) from None
    writer = fmt.writer
    try:
        summary = writer(**options)
    except ValueError as e:  # a size or count out of range
        raise SystemExit(str(e)) from None
    print(summary)
    return summary


if __name__ == '__main__':
    main(sys.argv[1:])
