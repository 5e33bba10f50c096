"""Evaluate a checkpoint. With a distillation config the student is tested.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
                        [--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.registry import RUNNERS

import mmswtat  # noqa: F401  (mmswtat:: configs, registry, safe loading)
from mmswtat.engine import DistillRunner
from mmswtat.utils import is_distiller_config, load_tool_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a (distilled) model')
    parser.add_argument('config', help='config file path or scope::path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the test logs go')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help='save visualised predictions in this directory')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value (nested keys with dots)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint {args.checkpoint!r} does not exist')
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    if is_distiller_config(cfg):
        # predict() runs the student alone; the teacher's weights are not
        # needed (and may not be downloadable here).
        cfg.model.teacher_ckpt = None
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show_dir:
        vis_hook = cfg.default_hooks.get('visualization')
        if vis_hook is None:
            raise ValueError('--show-dir needs a visualization hook in '
                             'default_hooks')
        vis_hook['draw'] = True
        cfg.visualizer['save_dir'] = args.show_dir
    if args.out:
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = (list(evaluator) if isinstance(evaluator, list)
                              else [evaluator]) + [dump]
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg else
              DistillRunner.from_cfg(cfg))
    runner.test()


if __name__ == '__main__':
    main()
