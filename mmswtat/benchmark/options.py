"""The command line of ``tools/analysis/benchmark.py``: its argparse types
and the checks that need several options (or files) at once.

The tool builds the parser; everything it checks after parsing is here:
:func:`settle_defaults` fills in what was not given (``--quick``, a
``--shift`` that the ``--window`` cannot take) and :func:`check_options`
refuses what cannot run, each error naming the option and the fix.
"""
import argparse
import os
from typing import Any, Collection, Dict, List, Optional, Tuple

from mmengine.config import Config

from mmswtat.utils import is_distiller_config, resolve_config_path
from mmswtat.utils.cli import non_negative_int
from mmswtat.utils.output_files import check_output_path
from .execution import apply_quick_settings, check_device


def channel_pair(text: str) -> Tuple[int, int]:
    """``--channels``: ``CS:CT``."""
    try:
        cs, ct = (int(v) for v in text.split(':'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'channels must be CS:CT, e.g. 512:2048, got {text!r}') from None
    if cs <= 0 or ct <= 0:
        raise argparse.ArgumentTypeError(
            f'channels must be positive, e.g. 512:2048, got {text!r}')
    return cs, ct


def device_name(text: str) -> str:
    """``--device``: ``auto``, ``cpu`` or an available ``cuda[:i]``."""
    try:
        check_device(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def merges_type(text: str):
    """``--num-merges``: an int >= 0 or ``'auto'``."""
    return text if text == 'auto' else non_negative_int(text)


def _default_shift(args: Dict[str, Any], given: Collection[str]) -> List[str]:
    """Half the window for a ``--shift`` not given and not smaller than
    ``--window``; the note saying so (none if nothing changed)."""
    shift, window = args['shift'], args['window']
    if shift < window or 'shift' in given:
        return []
    args['shift'] = window // 2
    return [
        f'--shift {shift} (not given) is not smaller than --window '
        f'{window}: using --shift {window // 2} (half the window)'
    ]


def settle_defaults(args: Dict[str, Any], given: Collection[str]) -> List[str]:
    """Fill in the values the user did not give, in place.

    Args:
        args: The parsed options (``vars(namespace)``).
        given: The options the user typed (their ``dest``).

    Returns:
        The notes for the user (what ``--quick`` kept; a ``--shift``
        replaced by half the window).
    """
    notes = []
    if args['quick']:
        kept = apply_quick_settings(args, given)
        if kept:
            notes.append('--quick keeps the values you gave: ' +
                         ', '.join(kept))
    return notes + _default_shift(args, given)


def _check_shift(shift: int, window: int) -> None:
    if shift >= window:
        raise ValueError(f'--shift {shift} must be smaller than --window '
                         f'{window} (the usual choice is half the window: '
                         f'{window // 2})')


def _check_reports(reports: Optional[List[str]]) -> None:
    missing = [f for f in reports or [] if not os.path.isfile(f)]
    if missing:
        raise ValueError(
            f'--report: no such JSON report: {", ".join(missing)} '
            '(give the --out files of earlier runs)')


def _check_step_config(config: str) -> None:
    """``--config`` exists and builds a distiller."""
    try:
        cfg = Config.fromfile(resolve_config_path(config))
    except FileNotFoundError as e:
        raise ValueError(f'--config: {e}') from None
    if not is_distiller_config(cfg):
        raise ValueError(
            f'--config {config!r} is not a distillation config '
            f'(model.type is {cfg.model.get("type")!r}); the step '
            'benchmark times a distiller: give a config of '
            'configs/swtat/ or one from tools/make_distill_config.py')


def _check_out(out: Optional[str], force: bool) -> None:
    if out is None:
        return
    try:
        check_output_path(out, force, '', '--out', '.json')
    except (OSError, ValueError) as e:
        raise ValueError(str(e)) from None


def check_options(args: argparse.Namespace) -> None:
    """Refuse options the benchmark cannot run with.

    Raises:
        ValueError: ``--shift`` not smaller than ``--window``; a
            ``--report`` file that does not exist; a step ``--config``
            that does not exist or is not a distillation config; an
            ``--out`` that may not be written (:func:`check_output_path`).
    """
    _check_shift(args.shift, args.window)
    _check_reports(args.report)
    if args.part in ('all', 'step') and not args.report:
        _check_step_config(args.config)
    _check_out(args.out, args.force)
