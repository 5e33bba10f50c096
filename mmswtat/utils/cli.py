"""Command-line pieces shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os

from mmengine.config import Config, DictAction


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank``."""
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


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for launchers that only pass a flag."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_runner(cfg: Config):
    """The config's ``runner_type``, else :class:`mmswtat.DistillRunner`."""
    from mmengine.registry import RUNNERS

    from mmswtat.engine import DistillRunner
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return DistillRunner.from_cfg(cfg)
