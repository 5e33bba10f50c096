"""Evaluate a checkpoint. With a distillation config the student is tested.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
                        [--force] [--show-dir DIR] [--cfg-options k=v ...]
                        [--launcher ...]

With a plain (student) config, a distillation checkpoint's student weights
are loaded, saying so. A checkpoint of which no key fits the model is an
error (mmengine would score a random model).
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

import mmswtat  # noqa: F401  (mmswtat:: configs, registry, safe loading)
from mmswtat.utils import is_distiller_config, load_tool_config
from mmswtat.utils.checkpoint import CheckpointError
from mmswtat.utils.cli import add_runner_args, build_runner, parse_runner_args
from mmswtat.utils.output_files import check_output_dir, check_output_path
from mmswtat.utils.student_checkpoint import load_test_plain, load_test_student


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a (distilled) model')
    parser.add_argument('config', help='config file path or scope::path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the test logs go')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--force', action='store_true', help='replace an existing --out')
    parser.add_argument(
        '--show-dir', help='save visualised predictions in this directory')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the tool on ``argv`` (default ``sys.argv[1:]``)."""
    args = parse_args(argv)
    if not osp.exists(args.checkpoint):
        raise SystemExit(
            f'test.py: error: checkpoint {args.checkpoint!r} does not exist')
    try:
        if args.show_dir:
            check_output_dir(args.show_dir, True, '', '--show-dir')
    except OSError as e:
        raise SystemExit(f'test.py: error: {e}') from None
    if args.out:
        try:
            check_output_path(args.out, args.force, '', '--out',
                              ('.pkl', '.pickle'))
        except (OSError, ValueError) as e:
            raise SystemExit(f'test.py: error: {e}') from None
    try:
        cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                               args.launcher)
    except (OSError, ValueError) as e:  # a path, an override
        raise SystemExit(f'test.py: error: {e}') from None
    distill = is_distiller_config(cfg)
    if distill:
        # predict() runs the student alone; the teacher's weights are not
        # needed (and may not be downloadable here). The student's weights
        # are loaded below, from a distillation or an exported checkpoint.
        cfg.model.teacher_ckpt = None
    cfg.load_from = None  # loaded below, checked (never a random model)
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
    runner = build_runner(cfg)
    model = getattr(runner.model, 'module', runner.model)
    try:
        if distill:
            kind = load_test_student(model, args.checkpoint,
                                     cfg.model.get('weights_only', True))
        else:
            kind = load_test_plain(model, args.checkpoint)
    except CheckpointError as e:  # names the file and the fix
        raise SystemExit(f'test.py: error: {e}') from None
    if distill:
        runner.logger.info(f'Loaded the student of {kind} checkpoint '
                           f'{args.checkpoint}')
    else:
        runner.logger.info(
            f'Loaded the student.* weights of distillation checkpoint '
            f'{args.checkpoint} into this plain config\'s model' if kind ==
            'distillation' else f'Loaded checkpoint {args.checkpoint}')
    runner.test()


if __name__ == '__main__':
    main()
