"""Train a model (a distillation config or any mmseg/mmdet/mmpretrain config).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

One run per work dir: a second run in a work dir that a live run holds
(``WORK_DIR/.mmswtat_train.lock``) stops, naming it.
"""
import argparse
import sys
from typing import Optional, Sequence

import mmswtat  # noqa: F401  (mmswtat:: configs, registry, safe loading)
from mmswtat.engine.work_dir_lock import WorkDirBusyError, work_dir_lock
from mmswtat.utils import check_amp_device, load_tool_config
from mmswtat.utils.cli import add_runner_args, build_runner, parse_runner_args
from mmswtat.utils.value_checks import check_train_schedule


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train (and distil) a model')
    parser.add_argument('config', help='config file path or scope::path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the latest checkpoint in the work dir, or from '
        'the given checkpoint')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def _note(message: str) -> None:
    """A note before the run's logger exists, on stderr (mmengine's
    'current' logger may be an earlier in-process run's, with its log)."""
    print(f'train.py: {message}', file=sys.stderr)


def apply_resume(cfg, resume: Optional[str]) -> None:
    """Set ``cfg.resume`` / ``cfg.load_from`` for ``--resume [CKPT]``.

    ``--resume`` alone resumes the latest checkpoint of the work dir. With
    ``load_from`` also set (the config or ``--cfg-options``), a work dir
    without a checkpoint yet starts a new run from load_from's weights (so
    that one command both starts and restarts a run); either way a note
    says which. ``--resume CKPT`` resumes CKPT.
    """
    if resume is None:
        return
    cfg.resume = True
    if resume != 'auto':
        cfg.load_from = resume
        return
    given, cfg.load_from = cfg.get('load_from'), None
    if not given:
        return
    from mmengine.runner import find_latest_checkpoint
    latest = find_latest_checkpoint(cfg.work_dir)
    if latest is None:
        cfg.resume, cfg.load_from = False, given
        _note(f'--resume: no checkpoint in the work dir {cfg.work_dir!r} '
              f'yet: a new run starts from the weights of load_from='
              f'{given!r}')
    else:
        _note(f'--resume: resuming {latest!r}, the latest checkpoint in the '
              f'work dir; load_from={given!r} is not used (it only '
              'initialises a new run)')


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the tool on ``argv`` (default ``sys.argv[1:]``)."""
    args = parse_args(argv)
    try:
        cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                               args.launcher)
        check_train_schedule(cfg)  # before anything is built
    except (OSError, ValueError) as e:  # a path, an override, a value
        raise SystemExit(f'train.py: error: {e}') from None  # one line
    if args.amp:
        check_amp_device()
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper == 'AmpOptimWrapper':
            _note('--amp: AMP is already enabled in the config')
        elif wrapper != 'OptimWrapper':
            raise ValueError(f'--amp needs optim_wrapper.type=OptimWrapper, '
                             f'the config has {wrapper!r}')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    apply_resume(cfg, args.resume)
    try:
        lock = work_dir_lock(cfg.work_dir, args.resume is not None, _note)
        with lock:
            runner = build_runner(cfg)
            runner.train()
    except WorkDirBusyError as e:
        raise SystemExit(f'train.py: error: {e}') from None


if __name__ == '__main__':
    main()
