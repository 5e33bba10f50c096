"""Command-line pieces shared by the tools.

``--cfg-options`` parsing (:class:`CfgOptionsAction`), the runner arguments of
``tools/train.py`` and ``tools/test.py``, the argparse number types of every
tool (:func:`positive_int` and its siblings, built on
:func:`~mmswtat.utils.value_checks.check_number`) and
:func:`explicit_options` (which options the user actually typed).
"""
import argparse
import os
from typing import Any, Callable, List, Optional, Sequence, Set

from mmengine.config import Config, DictAction

from .value_checks import check_number


def _number_type(kind: type, **bounds) -> Callable[[str], float]:
    """An argparse ``type=``: parse ``kind`` and check it with check_number.
    """
    want = 'an int' if kind is int else 'a number'

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'must be {want}, got {text!r}') from None
        try:
            return check_number(
                'option', 'value', value, integer=kind is int, **bounds)
        except ValueError as e:  # "option: value must be an int > 0, ..."
            raise argparse.ArgumentTypeError(
                str(e).replace('option: value ', '')) from None

    parse.__name__ = f'{want} {bounds}'  # argparse names it on errors
    return parse


#: argparse ``type=`` for counts, sizes, iterations: an int > 0.
positive_int = _number_type(int, positive=True)
#: argparse ``type=`` for seeds, offsets, warm-up steps: an int >= 0.
non_negative_int = _number_type(int, minimum=0)
#: argparse ``type=`` for times, budgets, factors: a finite number > 0.
positive_float = _number_type(float, positive=True)
#: argparse ``type=`` for a finite number >= 0.
non_negative_float = _number_type(float, minimum=0)


def existing_file(text: str) -> str:
    """argparse ``type=`` for an input file that must exist."""
    import os.path as osp
    if not osp.isfile(text):
        raise argparse.ArgumentTypeError(f'no such file: {text!r}' + (
            ' (a directory)' if osp.isdir(text) else ''))
    return text


def fraction(text: str) -> float:
    """argparse ``type=`` for a share of something: a number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(
            f'must be a fraction in (0, 1], got {text!r}')
    return value


def explicit_options(parser: argparse.ArgumentParser,
                     argv: Optional[List[str]]) -> Set[str]:
    """The ``dest`` of every option the user typed in ``argv``.

    Parses ``argv`` again with every default suppressed, so an option given
    with its default value still counts as given (``--quick`` must not
    replace it).
    """
    saved = [(a, a.default) for a in parser._actions]
    try:
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        given, _ = parser.parse_known_args(argv)
    finally:
        for action, default in saved:
            action.default = default
    return set(vars(given))


def _top_level_split(text: str) -> List[str]:
    """``text`` split at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char in '([') - (char in ')]')
        if char == ',' and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def parse_option_value(text: str) -> Any:
    """One ``--cfg-options`` value, as mmengine's ``DictAction`` reads it
    (numbers, booleans, ``None``, ``a,b`` and ``[a, b]`` lists, ``(a, b)``
    tuples, nested) but keeping the spaces inside a value: mmengine removes
    every space, so ``work_dir=/x/my runs`` became ``/x/myruns``.

    Raises:
        ValueError: Unbalanced brackets.
    """
    text = text.strip().strip('\'"')
    if text.count('(') != text.count(')') or \
            text.count('[') != text.count(']'):
        raise ValueError(f'unbalanced brackets in {text!r}')
    wrapper = None
    if text[:1] + text[-1:] in ('()', '[]'):
        wrapper = tuple if text[0] == '(' else list
        text = text[1:-1]
        if not text.strip():
            return wrapper()
    elif ',' not in text:
        return DictAction._parse_int_float_bool(text)
    values = [parse_option_value(part) for part in _top_level_split(text)]
    return (wrapper or list)(values)


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction`` that refuses ``KEY`` without ``=VALUE`` and
    keeps the spaces inside values (:func:`parse_option_value`).

    mmengine fails on ``KEY`` alone with "not enough values to unpack"; this
    names the item and the expected form. A key given twice with different
    values is an error (the last one won silently).
    """

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values if isinstance(values, list) else [values]:
            key, sep, _ = item.partition('=')
            if not sep or not key or any(c.isspace() for c in key):
                parser.error(
                    f'{option_string}: {item!r} is not KEY=VALUE; write e.g. '
                    f'{option_string} '
                    f'{"".join(key.split()) or "model.teacher_ckpt"}=VALUE '
                    '(nested keys with dots, several pairs separated by '
                    'spaces)')
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in values if isinstance(values, list) else [values]:
            key, _, value = item.partition('=')
            try:
                parsed = parse_option_value(value)
            except ValueError as e:
                parser.error(f'{option_string} {key}: {e}')
            if key in options and options[key] != parsed:
                parser.error(f'{option_string} {key}: given twice, as '
                             f'{options[key]!r} and as {parsed!r}; give it '
                             'once')
            options[key] = parsed
        setattr(namespace, self.dest, options)


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank``."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override config entries, key=value (nested keys with dots)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(
        parser: argparse.ArgumentParser,
        argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse ``argv`` (default ``sys.argv[1:]``), and export ``LOCAL_RANK``
    for launchers that only pass a flag."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_runner(cfg: Config):
    """The config's ``runner_type``, else :class:`mmswtat.DistillRunner`."""
    from mmengine.registry import RUNNERS

    from mmswtat.engine import DistillRunner
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return DistillRunner.from_cfg(cfg)
