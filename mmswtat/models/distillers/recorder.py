"""Forward-hook recorders of named intermediate features."""
import collections
import difflib
from typing import Any, Deque, Dict, Iterable, List, Optional, Tuple

import torch.nn as nn
from torch.utils.hooks import RemovableHandle


class StopForward(Exception):
    """Raised by a recorder hook once every feature it needs is recorded."""


class RecordModifiedError(RuntimeError):
    """A recorded output was changed in place after it was recorded."""


class RecorderCallError(RuntimeError):
    """A recorded module ran several times in one forward and the config
    does not say which call to record (or it ran fewer times than that)."""


def pick_level(output: Any, index: Optional[int], what: str) -> Any:
    """``output[index]`` of a tuple/list output, with clear errors.

    Args:
        output: A module output (tensor, tuple or list).
        index: Element to take; ``None`` returns ``output`` as is.
        what: Names the output in messages, e.g. ``"student recorder 'f'"``.

    Raises:
        ValueError: ``index`` given for a single tensor.
        IndexError: ``index`` out of range.
    """
    if index is None:
        return output
    if not isinstance(output, (tuple, list)):
        raise ValueError(f'{what} is a single {type(output).__name__}, not '
                         'a tuple of levels; drop index')
    if not -len(output) <= index < len(output):
        raise IndexError(
            f'{what}: index {index} out of range, it has {len(output)} '
            f'outputs (valid 0..{len(output) - 1})')
    return output[index]


def resolve_module(model: nn.Module, path: str, role: str) -> nn.Module:
    """``model.get_submodule(path)`` with an error listing the nearest names.

    Raises:
        ValueError: If ``path`` names no submodule.
    """
    try:
        return model.get_submodule(path)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        close = difflib.get_close_matches(path, names, n=6, cutoff=0.4)
        if not close:
            prefix = path.rsplit('.', 1)[0]
            close = [n for n in names if n.startswith(prefix)][:6]
        hint = ', '.join(repr(c) for c in close) or ', '.join(
            repr(n) for n in names[:6])
        parent = _deepest_parent(model, path)
        if parent is not None:  # e.g. 'decode_head.bottleneck' in an FCNHead
            where, module = parent
            children = [n for n, _ in module.named_children()]
            hint += (f'. {where!r} is a {type(module).__name__} with the '
                     f'modules {children}')
        raise ValueError(
            f'{role} recorder: no module {path!r} in the {role} model. '
            f'Nearest module names: {hint}') from None


def _deepest_parent(model: nn.Module,
                    path: str) -> Optional[Tuple[str, nn.Module]]:
    """``(prefix, module)`` of the longest existing proper prefix of ``path``
    that has children (None: only the model itself exists)."""
    parts = path.split('.')
    for end in range(len(parts) - 1, 0, -1):
        prefix = '.'.join(parts[:end])
        try:
            module = model.get_submodule(prefix)
        except AttributeError:
            continue
        return (prefix,
                module) if any(True for _ in module.named_children()) else None
    return None


def _versions(output: Any) -> Any:
    """The autograd version counters of a (tuple/list of) tensor(s)."""
    if isinstance(output, (tuple, list)):
        return tuple(_versions(o) for o in output)
    return getattr(output, '_version', None)


def _clone(output: Any) -> Any:
    if isinstance(output, (tuple, list)):
        return type(output)(_clone(o) for o in output)
    return output.clone() if hasattr(output, 'clone') else output


class FeatureRecorder:
    """Record module outputs by forward hooks inside ``with recorder:``.

    The hooks stay registered; they record only while the recorder is
    entered. Entering clears old records; leaving (also on errors) stops
    recording and releases every recorded tensor, so read
    :attr:`records` (or :meth:`collect`) inside the block::

        with recorder:
            model(inputs)
            feats = recorder.collect('the forward')   # {name: output}

    Each name records the module's whole output (a tuple stays a tuple);
    picking a level of it happens where a loss reads it
    (:meth:`LossBank.select_feature`).

    Args:
        model: The model whose modules are hooked.
        paths: ``{name: 'module.path'}``.
        role: ``'student'`` or ``'teacher'`` (for messages).
        stop_when_done: Raise :class:`StopForward` as soon as every name is
            recorded (the teacher's early exit).
        clone: Names whose output is copied when recorded: the output of a
            module that an in-place op modifies later (a BN before mmcv's
            ``ReLU(inplace=True)``: the pre-activation feature). An output
            modified in place after it was recorded, and not cloned, is an
            error at :meth:`collect`, never a silently different feature.
        calls: ``{name: k}``: which call of a module that runs several
            times per forward to record (``0`` the first, ``-1`` the last,
            as a list index). Without it, a module that ran more than once
            is an error at :meth:`collect` (ResNet blocks reuse one
            ``relu``: an early-stopping teacher would keep the first call,
            the student the last).
    """

    def __init__(self,
                 model: nn.Module,
                 paths: Dict[str, str],
                 role: str,
                 stop_when_done: bool = False,
                 clone: Iterable[str] = (),
                 calls: Optional[Dict[str, int]] = None) -> None:
        self.role = role
        self.stop_when_done = stop_when_done
        self.clone = frozenset(clone)
        self.calls: Dict[str, int] = dict(calls or {})
        self.active = False
        self.records: Dict[str, Any] = {}
        self.counts: Dict[str, int] = {}
        self._versions: Dict[str, Any] = {}
        self._history: Dict[str, Deque[Tuple[Any, Any]]] = {}
        self.paths: Dict[str, str] = dict(paths)
        self._handles: List[RemovableHandle] = []
        for name, path in self.paths.items():
            module = resolve_module(model, path, role)
            self._handles.append(
                module.register_forward_hook(self._hook(name)))

    def _hook(self, name: str):

        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if not self.active:
                return
            k = self.counts.get(name, 0)
            self.counts[name] = k + 1
            want = self.calls.get(name)
            if want is not None and want >= 0 and want != k:
                return
            if name in self.clone:
                output = _clone(output)
            self.records[name] = output
            self._versions[name] = _versions(output)
            if want is not None and want < 0:
                self._history.setdefault(
                    name, collections.deque(maxlen=-want)).append(
                        (output, self._versions[name]))
            if self.stop_when_done and self._done():
                raise StopForward

        return hook

    def _done(self) -> bool:
        """Every name recorded for good: a name counted from the end
        (``calls`` < 0) is known only when the forward ends."""
        return len(self.records) == len(
            self.paths) and not any(k < 0 for k in self.calls.values())

    def __enter__(self) -> 'FeatureRecorder':
        if self.active:
            raise RuntimeError(f'the {self.role} recorder is already '
                               'recording; do not nest `with recorder:`')
        self.records.clear()
        self._versions.clear()
        self.counts.clear()
        self._history.clear()
        self.active = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.active = False
        self.records.clear()
        self._versions.clear()
        self.counts.clear()
        self._history.clear()

    @property
    def names(self) -> List[str]:
        return list(self.paths)

    def missing(self) -> List[str]:
        """Names not recorded since entering."""
        return [n for n in self.paths if n not in self.records]

    def collect(self, fix: str) -> Dict[str, Any]:
        """The records so far, as a new dict; an error if any is missing.

        Args:
            fix: The end of the error message (what ran, what to do).

        Raises:
            RuntimeError: ``'<role> recorders [...] were not reached by ' +
                fix``.
        """
        self._check_calls()
        missing = self.missing()
        if missing:
            raise RuntimeError(f'{self.role} recorders {missing} were not '
                               f'reached by {fix}')
        for name, output in self.records.items():
            if _versions(output) != self._versions[name]:
                raise RecordModifiedError(
                    f'{self.role} recorder {name!r}: the output of '
                    f'{self.paths[name]!r} was modified in place after it '
                    'was recorded (e.g. by a following ReLU(inplace=True)), '
                    'so the loss would see another feature. Record it with '
                    f"dict(module={self.paths[name]!r}, clone=True), or "
                    'record the module that applies the in-place op')
        return dict(self.records)

    def _check_calls(self) -> None:
        """One call per forward, or the configured call (see ``calls``).

        Raises:
            RecorderCallError: Naming the recorder, the module, the count
                and the fix.
        """
        for name, count in self.counts.items():
            want = self.calls.get(name)
            path = self.paths[name]
            if want is None and count > 1:
                raise RecorderCallError(
                    f'{self.role} recorder {name!r}: the module {path!r} ran '
                    f'{count} times in one forward (e.g. a ResNet block '
                    'calls its one relu module several times), so which '
                    'output it records is ambiguous (a teacher that stops '
                    'early keeps the first, the student the last). Record a '
                    f'module that runs once (e.g. {path.rsplit(".", 1)[0]!r}'
                    f" for the block's output), or say which call: "
                    f"dict(module={path!r}, call=-1) (the last) or call=0 "
                    '(the first)')
            if want is not None and not -count <= want < count:
                raise RecorderCallError(
                    f'{self.role} recorder {name!r}: call={want} but the '
                    f'module {path!r} ran {count} time(s) in one forward; '
                    f'use a call from {-count} to {count - 1}')
            if want is not None and want < 0:
                output, versions = self._history[name][want]
                self.records[name] = output
                self._versions[name] = versions

    def clear(self) -> None:
        """Release every recorded tensor."""
        self.records.clear()

    def remove(self) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
