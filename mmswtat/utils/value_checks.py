"""Checks of single config values: type, range, meaning.

Used by the loss base classes (``BaseTaTLoss``, ``PeerLoss``) for their
hyperparameters and by the distiller for its own settings, so that every
bad value gets the same kind of message: who owns it, the key, what is
allowed, what was given. :func:`is_int` is the one int-but-not-bool test
and :func:`named` the one way to prefix an error with its owner.
"""
import numbers
import re
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Union

Number = Union[int, float]


class ConfigTypeError(TypeError, ValueError):
    """A config value of the wrong type (also a ``ValueError``, so code that
    catches bad values catches it too)."""


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number and not a ``bool`` (``True`` is an
    int in Python, never a config number)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    """Whether ``value`` is an ``int`` and not a ``bool``."""
    return isinstance(value, int) and is_number(value)


_MMENGINE_PREFIX = re.compile(r'^class `\w+` in [\w/.\\-]+: ')


@contextmanager
def named(where: str) -> Iterator[None]:
    """Prefix a ``ValueError``/``TypeError``/``IndexError`` with ``where``;
    an unregistered ``type`` (mmengine's ``KeyError``) gets the nearest
    registered names.

    The one way an error is prefixed with its owner (a loss class, a
    distill loss's config name, a connector). The error keeps its type;
    mmengine's ``class `X` in file.py:`` prefix is dropped (the message
    already names the class); a message that already starts with ``where``
    is left as it is.
    """
    try:
        yield
    except KeyError as e:  # mmengine: 'X is not in the mmseg::model registry'
        msg = str(e.args[0]) if e.args else ''
        if ' is not in the ' not in msg:
            raise
        raise KeyError(f'{where}: type {msg.split(" is not in")[0]!r} is '
                       f'not registered{_nearest_type(msg)}') from None
    except (ValueError, TypeError, IndexError) as e:
        msg = _MMENGINE_PREFIX.sub('', str(e))
        if msg.startswith(where):
            raise
        try:
            new = type(e)(f'{where}: {msg}')
        except Exception:  # an exception class with another signature
            raise e from None
        raise new.with_traceback(e.__traceback__) from None


def _nearest_type(msg: str) -> str:
    """'; did you mean ...?' for an unregistered type, from mmswtat's."""
    import difflib

    from mmswtat.registry import MODELS
    name = msg.split(' is not in')[0].split('.')[-1]
    close = difflib.get_close_matches(
        name, list(MODELS.module_dict), n=2, cutoff=0.6)
    names = ' or '.join(repr(f'mmswtat.{c}') for c in close)
    return (f'; did you mean {names}?'
            if close else ' (a mmswtat type needs the mmswtat. prefix)')


def _given(value: Any) -> str:
    """``value`` as the message shows it, with a hint for quoted numbers."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return f'{value!r} (a str)'
        return f'{value!r} (a str: write {value} without quotes)'
    if value is None:
        return 'None'
    return f'{value!r} (a {type(value).__name__})'


def check_number(owner: str,
                 key: str,
                 value: Any,
                 minimum: Optional[Number] = None,
                 positive: bool = False,
                 integer: bool = False) -> Number:
    """``value`` if it is a real number (an int if ``integer``) in range.

    Args:
        owner: Who the value belongs to, e.g. ``"SWTaTLoss"`` (messages).
        key: Its config key, e.g. ``'loss_weight'``.
        value: The value given.
        minimum: Smallest allowed value (inclusive), if any.
        positive: Must be ``> 0``.
        integer: Must be an int (``5.0`` is accepted as 5; ``0.5`` is not).

    Returns:
        ``value`` (an ``int`` when ``integer``).

    Raises:
        ConfigTypeError: Not a number (a str, None, a bool, a list...).
        ValueError: Out of range, fractional for an int, NaN or inf.
    """
    want = 'an int' if integer else 'a number'
    bound = (' > 0'
             if positive else f' >= {minimum}' if minimum is not None else '')
    if not is_number(value):
        raise ConfigTypeError(
            f'{owner}: {key} must be {want}{bound}, got {_given(value)}')
    if value != value or value in (float('inf'), float('-inf')):
        raise ValueError(f'{owner}: {key} must be finite, got {value!r}')
    if integer:
        if int(value) != value:
            raise ValueError(f'{owner}: {key} must be a whole number{bound}, '
                             f'got {value!r}')
        value = int(value)
    if (positive and not value > 0) or (minimum is not None
                                        and value < minimum):
        raise ValueError(f'{owner}: {key} must be {want}{bound}, got '
                         f'{value!r}')
    return value


def check_bool(owner: str, key: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (``'no'`` is not false).

    Raises:
        ConfigTypeError: Anything else.
    """
    if not isinstance(value, bool):
        raise ConfigTypeError(
            f'{owner}: {key} must be True or False, got {_given(value)}' +
            ('; a non-empty string counts as True in Python' if isinstance(
                value, str) else ''))
    return value


_SAID = set()
#: Optimizer hyperparameters that are finite numbers >= 0 in every torch
#: optimizer that has them.
NON_NEGATIVE_OPTIMIZER_KEYS = ('lr', 'weight_decay', 'momentum', 'eps',
                               'dampening')


def check_train_schedule(cfg: Any) -> None:
    """Refuse a training schedule with nothing to train.

    ``train_cfg.max_iters`` (or ``max_epochs``) <= 0 makes mmengine exit at
    once, with no checkpoint and no message; ``val_interval`` and the
    training ``batch_size`` must be positive as well, ``num_workers`` >= 0
    the checkpoint ``interval`` > 0 or -1 (and no key the checkpoint hook
    does not know), ``randomness.seed`` an int >= 0 and the optimizer's
    ``lr`` a finite number >= 0. Warnings (continuing is
    legitimate): ``lr=0`` (no weight changes) and a distillation warm-up
    as long as the run (the weights never reach full value).

    Args:
        cfg: The run's config (``train_cfg``, ``train_dataloader``).

    Raises:
        ValueError, ConfigTypeError: A value that is not a positive int,
            naming the key and the fix.
    """
    train_cfg = cfg.get('train_cfg') or {}
    for key in ('max_iters', 'max_epochs', 'val_interval'):
        if key in train_cfg:
            try:
                check_number(
                    'train_cfg',
                    key,
                    train_cfg[key],
                    positive=True,
                    integer=True)
            except ValueError as e:
                value = train_cfg[key]
                what = ''
                if isinstance(value, numbers.Real) and value <= 0:
                    what = (': nothing would be trained (no step, no '
                            'checkpoint)' if key != 'val_interval' else
                            ': validation would never run on schedule')
                raise type(e)(f'{e}{what}; set e.g. --cfg-options '
                              f'train_cfg.{key}=1000') from None
    loader = cfg.get('train_dataloader') or {}
    if isinstance(loader, dict) and 'batch_size' in loader:
        check_number(
            'train_dataloader',
            'batch_size',
            loader['batch_size'],
            positive=True,
            integer=True)
    if isinstance(loader, dict) and 'num_workers' in loader:
        check_number(
            'train_dataloader',
            'num_workers',
            loader['num_workers'],
            minimum=0,
            integer=True)
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    if isinstance(hook, dict) and 'interval' in hook:
        interval = check_number(
            'default_hooks.checkpoint',
            'interval',
            hook['interval'],
            integer=True)
        if interval == 0 or interval < -1:
            raise ValueError(
                f'default_hooks.checkpoint: interval must be an int > 0 '
                f'(save every N iterations/epochs) or -1 (only the last), '
                f'got {interval}')
    if isinstance(hook, dict):
        _check_checkpoint_keys(hook)
    seed = (cfg.get('randomness') or {}).get('seed')
    if seed is not None:
        check_number('randomness', 'seed', seed, minimum=0, integer=True)
    _say_schedule_notes(cfg, train_cfg)
    _say_scheduler_ends(cfg, train_cfg)
    _say_warmup(cfg, train_cfg)


def _check_checkpoint_keys(hook: dict) -> None:
    """mmengine's ``CheckpointHook`` hands keys it does not know to
    ``Runner.save_checkpoint``, which raises a TypeError at the first save:
    after ``interval`` iterations of training. Refuse them up front."""
    if hook.get('type', 'CheckpointHook') not in ('CheckpointHook',
                                                  'mmengine.CheckpointHook'):
        return
    import difflib
    import inspect

    from mmengine.hooks import CheckpointHook
    from mmengine.runner import Runner
    known = {'type', '_scope_'}
    for fn in (CheckpointHook.__init__, Runner.save_checkpoint):
        known.update(
            p for p in inspect.signature(fn).parameters
            if p not in ('self', 'kwargs', 'filename', 'out_dir'))
    known.add('out_dir')
    for key in hook:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), 1)
            raise ValueError(
                f'default_hooks.checkpoint: unknown key {key!r} '
                '(CheckpointHook passes it to Runner.save_checkpoint, which '
                'would fail at the first save, after a whole checkpoint '
                'interval of training)' +
                (f'; did you mean {close[0]!r}?' if close else
                 f'; the keys are {sorted(known - {"_scope_"})}'))


def _say_schedule_notes(cfg: Any, train_cfg: Any) -> None:
    """Warnings: settings of the schedule that cannot take effect."""
    from mmengine.logging import print_log
    optimizer = (cfg.get('optim_wrapper') or {}).get('optimizer') or {}
    lr = optimizer.get('lr') if isinstance(optimizer, dict) else None
    for key, value in (optimizer.items() if isinstance(optimizer, dict) else
                       ()):
        if key in NON_NEGATIVE_OPTIMIZER_KEYS and value is not None or (
                isinstance(value, str)
                and _given(value).endswith('without quotes)')
        ):  # a quoted number: never meant
            check_number('optim_wrapper.optimizer', key, value, minimum=0)
    if lr == 0 and ('lr', 0) not in _SAID:
        _SAID.add(('lr', 0))
        print_log(
            'optim_wrapper.optimizer: lr=0: no weight changes (the '
            'schedulers scale the base lr, so it stays 0); only BN '
            'statistics move. Set a learning rate > 0, e.g. --cfg-options '
            'optim_wrapper.optimizer.lr=0.01',
            logger='current',
            level=30)


def _say_scheduler_ends(cfg: Any, train_cfg: Any) -> None:
    """A parameter scheduler that ends after the run: lowering ``max_iters``
    (or ``max_epochs``) and keeping the schedule's ``end`` runs only the
    start of the schedule (a poly LR stays near its initial value)."""
    from mmengine.logging import print_log
    scheds = cfg.get('param_scheduler') or []
    scheds = [scheds] if isinstance(scheds, dict) else list(scheds)
    by_iter = 'max_iters' in train_cfg
    length = train_cfg.get('max_iters' if by_iter else 'max_epochs')
    if not isinstance(length, int) or isinstance(length, bool):
        return
    unit = 'iteration' if by_iter else 'epoch'
    key = 'max_iters' if by_iter else 'max_epochs'
    for i, sched in enumerate(scheds):
        if not isinstance(sched, dict):
            continue
        end = sched.get('end')
        # Only a scheduler counted in the loop's own unit.
        if bool(sched.get('by_epoch', True)) == by_iter or not isinstance(
                end, int) or end <= length or (i, end, length) in _SAID:
            continue
        _SAID.add((i, end, length))
        print_log(
            f'param_scheduler[{i}] ({sched.get("type")}) ends at {unit} '
            f'{end}, after train_cfg.{key}={length}: the run stops at '
            f'{length}/{end} of its schedule (e.g. the LR stays near its '
            f'start value). Set --cfg-options param_scheduler.{i}.end='
            f'{length} to fit the schedule to the run',
            logger='current',
            level=30)


def _say_warmup(cfg: Any, train_cfg: Any) -> None:
    """A distillation warm-up as long as the run (weights never full)."""
    model = cfg.get('model') or {}
    warmup = model.get('distill_warmup_iters')
    distill = model.get('distill')
    # A dict, or a recipe: a list of fragments (one of them may set it).
    fragments = [distill] if isinstance(distill, dict) else (
        list(distill) if isinstance(distill, (list, tuple)) else [])
    for fragment in fragments:
        if not warmup and isinstance(fragment, dict):
            warmup = fragment.get('distill_warmup_iters')
    max_iters = train_cfg.get('max_iters')
    if isinstance(warmup, int) and isinstance(max_iters, int) and \
            warmup >= max_iters and (warmup, max_iters) not in _SAID:
        _SAID.add((warmup, max_iters))  # tools/train.py, then the runner
        from mmengine.logging import print_log
        print_log(
            f'SingleTeacherDistiller: distill_warmup_iters={warmup} >= '
            f'train_cfg.max_iters={max_iters}: the distillation weights '
            'ramp up for the whole run and never reach their full value. '
            f'Set distill_warmup_iters < {max_iters} (e.g. '
            f'{max(max_iters // 10, 1)}) or 0 for no ramp',
            logger='current',
            level=30)
