"""Forward-hook recorders of named intermediate features."""
import difflib
from typing import Any, Dict, List, Optional, Union

import torch.nn as nn
from torch.utils.hooks import RemovableHandle

RecorderSpec = Union[str, dict]


class StopForward(Exception):
    """Raised by a recorder hook once every feature it needs is recorded."""


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
        raise ValueError(
            f'{role} recorder: no module {path!r} in the {role} model. '
            f'Nearest module names: {hint}') from None


class FeatureRecorder:
    """Record module outputs by forward hooks while active.

    Args:
        model: The model whose modules are hooked.
        specs: ``{name: 'module.path'}`` or ``{name: dict(module='path',
            index=i)}``; ``index`` picks one element of a tuple/list output
            (e.g. one FPN level); without it the whole output is recorded.
        role: ``'student'`` or ``'teacher'`` (for messages).
        stop_when_done: Raise :class:`StopForward` as soon as every feature
            is recorded (the teacher's early exit).
    """

    def __init__(self,
                 model: nn.Module,
                 specs: Dict[str, RecorderSpec],
                 role: str,
                 stop_when_done: bool = False) -> None:
        self.role = role
        self.stop_when_done = stop_when_done
        self.active = False
        self.records: Dict[str, Any] = {}
        self.paths: Dict[str, str] = {}
        self._handles: List[RemovableHandle] = []
        for name, spec in specs.items():
            path, index = self._parse(name, spec)
            module = resolve_module(model, path, role)
            self.paths[name] = path
            self._handles.append(
                module.register_forward_hook(self._hook(name, path, index)))

    def _parse(self, name: str, spec: RecorderSpec):
        if isinstance(spec, str):
            return spec, None
        if isinstance(spec, dict) and 'module' in spec and set(spec) <= {
                'module', 'index'
        }:
            return spec['module'], spec.get('index')
        raise ValueError(
            f'{self.role} recorder {name!r}: expected a module path string '
            f"or dict(module='path', index=i), got {spec!r}")

    def _hook(self, name: str, path: str, index: Optional[int]):

        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if not self.active:
                return
            output = pick_level(output, index,
                                f'{self.role} recorder {name!r} ({path!r})')
            self.records[name] = output
            if self.stop_when_done and len(self.records) == len(self.paths):
                raise StopForward

        return hook

    @property
    def names(self) -> List[str]:
        return list(self.paths)

    def missing(self) -> List[str]:
        """Names not recorded since the last :meth:`clear`."""
        return [n for n in self.paths if n not in self.records]

    def clear(self) -> None:
        """Release every recorded tensor."""
        self.records.clear()

    def remove(self) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
