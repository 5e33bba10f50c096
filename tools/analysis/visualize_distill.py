"""Pictures of what a distillation checkpoint does on one image.

    python tools/analysis/visualize_distill.py CONFIG CHECKPOINT IMAGE \
        --out DIR [--teacher-ckpt FILE] [--query Y,X | --query-px Y,X]
        [--losses NAME ...] [--head N] [--batch-stats] [--device cpu|cuda]
        [--cfg-options k=v ...]

CONFIG is the distillation config the CHECKPOINT was trained with (a
``tools/train.py`` checkpoint: ``student.*`` and ``distill_losses.*`` keys).
For every TaT-type distillation loss (every level of a multi-level one),
DIR/<loss>[_level<i>]/ gets windows.png, features.png, loss_maps.png,
attention_<pass>.png and maps.npz (see docs/visualization.md;
the library is :mod:`mmswtat.analysis`). The query is a teacher feature-map
cell (``--query``, default the centre) or an input pixel (``--query-px``).
"""
import argparse
import os.path as osp
import sys
import time
from typing import List, Optional, Tuple

import torch

import mmswtat  # noqa: F401  (mmswtat:: configs, registry, safe loading)
from mmswtat.analysis import (build_distiller, load_image, loss_inputs,
                              record_features, write_loss_report)
from mmswtat.utils import is_distiller_config, load_tool_config
from mmswtat.utils.cli import CfgOptionsAction
from mmswtat.utils.output_files import check_output_dir

_START = time.time()


def log(msg: str) -> None:
    print(f'[visualize {time.time() - _START:5.1f}s] {msg}', flush=True)


def fail(msg: str) -> None:
    sys.exit(f'visualize_distill.py: error: {msg}')


def parse_pair(text: str, what: str) -> Tuple[int, int]:
    try:
        y, x = (int(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{what} must be two integers "Y,X", got {text!r}') from None
    return y, x


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pictures of a SW-TaT distiller on one image: window '
        'grids, teacher vs reconstruction, per-position loss, attention')
    parser.add_argument('config', help='distillation config (or scope::path)')
    parser.add_argument(
        'checkpoint',
        help='distillation checkpoint '
        '(tools/train.py output)')
    parser.add_argument('image', help='input image file')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--force',
        action='store_true',
        help='write into a non-empty --out folder')
    parser.add_argument(
        '--teacher-ckpt',
        help='teacher checkpoint (default: model.teacher_ckpt of the config)')
    query = parser.add_mutually_exclusive_group()
    query.add_argument(
        '--query',
        type=lambda t: parse_pair(t, '--query'),
        help='query cell "Y,X" on the teacher feature map (default: centre)')
    query.add_argument(
        '--query-px',
        type=lambda t: parse_pair(t, '--query-px'),
        help='query as an input pixel "Y,X" (mapped to each feature map)')
    parser.add_argument(
        '--losses', nargs='+', help='only these distillation losses')
    parser.add_argument(
        '--head', type=int, help='attention head to show (default: mean)')
    parser.add_argument(
        '--batch-stats',
        action='store_true',
        help="normalise the connectors and the losses' embeddings with the "
        "image's own batch statistics, as in training (default: running "
        'statistics, as the trained model stands); the logged training loss '
        'used these')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device (default: cuda if available)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override config entries, key=value (nested keys with dots)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    try:
        check_output_dir(args.out, args.force, '')
    except OSError as e:
        fail(str(e))
    for what, path in (('checkpoint', args.checkpoint), ('image', args.image)):
        if not osp.isfile(path):
            fail(f'{what} {path!r} does not exist')
    if args.teacher_ckpt and not osp.isfile(args.teacher_ckpt) and \
            '://' not in args.teacher_ckpt:
        fail(f'--teacher-ckpt {args.teacher_ckpt!r} does not exist')
    try:
        cfg = load_tool_config(args.config, args.cfg_options)
    except FileNotFoundError as e:
        fail(str(e))
    if not is_distiller_config(cfg):
        fail(f'{args.config!r} is not a distillation config (model.type is '
             f'{cfg.model.get("type")!r}); give the config the checkpoint '
             'was trained with')
    if args.teacher_ckpt:
        cfg.model.teacher_ckpt = args.teacher_ckpt
    elif not cfg.model.get('teacher_ckpt'):
        log('warning: no teacher_ckpt in the config: the teacher has random '
            'weights (give --teacher-ckpt)')

    log(f'1/4 building the distiller and loading {args.checkpoint}')
    try:
        model = build_distiller(cfg, args.checkpoint, args.device)
    except (FileNotFoundError, RuntimeError) as e:
        fail(f'building the distiller failed: {e}\n(give the teacher '
             'weights with --teacher-ckpt FILE)')
    except ValueError as e:
        fail(str(e))
    try:
        log(f'2/4 loading {args.image} through the test pipeline')
        inputs, samples, picture = load_image(cfg, model, args.image)
        log(f'3/4 teacher and student forward on {tuple(inputs.shape)}')
        student_rec, teacher_rec = record_features(model, inputs, samples)
        # Connectors (e.g. the shared student projection) normalise like
        # the losses' embeddings: running statistics unless --batch-stats.
        model.connectors.train(args.batch_stats)
        items = loss_inputs(model, student_rec, teacher_rec, args.losses, log)
        if not items:
            fail('no TaT-type distillation loss (SWTaTLoss, TaTLoss, '
                 'PatchMergeTaTLoss) in this config: nothing to show')
        for i, (folder, loss, s, t) in enumerate(items, 1):
            log(f'4/4 [{i}/{len(items)}] {folder}')
            loss.train(args.batch_stats)
            written = write_loss_report(loss, s, t, picture,
                                        osp.join(args.out,
                                                 folder), folder, args.query,
                                        args.query_px, args.head, log)
            for path in written.values():
                print(f'    {path}')
    except (ValueError, RuntimeError) as e:
        fail(str(e))
    log(f'done: {osp.abspath(args.out)}')


if __name__ == '__main__':
    main()
