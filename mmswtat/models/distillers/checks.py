"""Checks of the distiller's settings that need no model (build time).

Containers given in the wrong form, entries without ``type`` (the usual
``--cfg-options`` typo), indices, shared-connector names, the warnings
for recorders and shared connectors no loss reads, the ``valid_mask``
setting, and the checks of the built losses and connectors against the
settings (a mask given to a loss that takes none, a trainable teacher
connector, a connector's width against the loss's). ``named`` (the one way
to prefix an error with the loss or connector it belongs to) lives in
:mod:`mmswtat.utils.value_checks` and is re-exported here.
"""
import difflib
import warnings
from typing import Any, Callable, Dict, Iterable, Union

import torch
import torch.nn as nn
from mmengine.logging import MessageHub

from mmswtat.utils.value_checks import (ConfigTypeError, check_bool, is_int,
                                        named)

__all__ = [
    'ROLES', 'MAPPING_KEYS', 'named', 'check_dict_arg', 'check_module_cfgs',
    'check_index', 'check_shared', 'warn_unused', 'check_mapping_keys',
    'parse_valid_mask', 'check_masked', 'check_teacher_connector',
    'check_connector_widths', 'check_flags', 'check_connector_input',
    'assert_finite'
]

#: The two sides of every distillation loss.
ROLES = ('student', 'teacher')


def check_dict_arg(key: str, value: Any, example: str) -> Dict[str, Any]:
    """``value`` as a dict (``None`` -> ``{}``), or a clear error.

    Raises:
        ConfigTypeError: Not a dict, e.g. recorders given as a list.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigTypeError(
            f'{key} must be a dict {{name: ...}}, got a '
            f'{type(value).__name__} {value!r}; write e.g. {key}={example}')
    return dict(value)


def check_module_cfgs(key: str, cfgs: Dict[str, Any],
                      example: str) -> Dict[str, dict]:
    """Every entry of ``distill_losses``/``connectors`` is a config dict with
    a ``type``; one without is usually a ``--cfg-options`` typo.

    Args:
        key: ``'distill_losses'`` or ``'connectors'``.
        cfgs: Its entries.
        example: A registered type for the messages.

    Raises:
        ConfigTypeError: An entry that is not a dict.
        ValueError: An entry without ``type``, naming it and the nearest
            existing name.
    """
    out = {}
    for name, cfg in cfgs.items():
        if not isinstance(cfg, dict):
            raise ConfigTypeError(
                f'{key}[{name!r}] must be a registered module config dict '
                f"with a 'type', e.g. dict(type={example!r}, ...), got "
                f'{cfg!r}')
        if 'type' not in cfg:
            typed = [
                n for n, c in cfgs.items()
                if isinstance(c, dict) and 'type' in c
            ]
            close = difflib.get_close_matches(
                str(name), typed, n=1, cutoff=0.5)
            keys = ', '.join(f'{k}={v!r}' for k, v in cfg.items())
            option = next(iter(cfg), 'option')
            if close:
                hint = (f'Did you mean {close[0]!r}? A --cfg-options key '
                        f'with a typo (...{key}.{name}.{option}=...) creates '
                        f'a new entry; write ...{key}.{close[0]}.{option}=...')
            else:
                hint = (f'The entries with a type are {typed}; give this one '
                        f'a type (e.g. type={example!r}) or fix its name.')
            raise ValueError(f"{key}[{name!r}] has no 'type' (it holds only "
                             f'{keys or "nothing"}). {hint}')
        out[name] = dict(cfg)
    return out


def check_index(where: str, index: Any) -> Any:
    """``None``, an int, or a list/tuple of ints (one per level).

    Raises:
        ConfigTypeError: Anything else (e.g. ``'0'`` or ``1.0``).
    """
    if index is None or is_int(index) or (isinstance(index,
                                                     (list, tuple)) and index
                                          and all(is_int(i) for i in index)):
        return tuple(index) if isinstance(index, list) else index
    raise ConfigTypeError(
        f'{where}: index must be an int (a level of a tuple output) or a '
        f'non-empty list of ints (one per level), got {index!r}')


def check_shared(cfgs: Dict[str, dict], reserved: Dict[str, tuple]) -> None:
    """Names and configs of the shared connectors.

    Args:
        cfgs: ``{name: config}`` of the shared connectors.
        reserved: ``{per-loss connector key: (loss, role)}``.
    """
    for name, cfg in cfgs.items():
        if not isinstance(name, str) or not name or '.' in name:
            raise ValueError(
                f'connectors: name {name!r} is not a valid module name; '
                "use a non-empty string without '.' (e.g. 's4')")
        if hasattr(nn.ModuleDict(), name):
            raise ValueError(
                f'connectors: name {name!r} is an attribute of '
                'nn.ModuleDict and cannot be a key; rename it (e.g. '
                f"'{name}_proj')")
        if name in reserved:
            loss, role = reserved[name]
            raise ValueError(
                f'connectors: shared connector name {name!r} collides '
                f'with the per-loss connector key {name!r} of distill '
                f'loss {loss!r} ({role} side); rename the shared '
                'connector')
        if 'per_level' in cfg:
            raise ValueError(
                f'connectors[{name!r}]: per_level is not supported, a shared '
                'connector is one module applied to every level; define one '
                'shared connector per level, or give the config in the '
                'loss_forward_mappings entry (one connector per level)')


def warn_unused(recorders: Dict[str, Dict[str, Any]], shared: Dict[str, dict],
                routes: Dict[str, Any]) -> None:
    """One warning for recorders and one for shared connectors no loss reads.

    Args:
        recorders: ``{role: {name: RecorderRef}}``.
        shared: ``{name: config}`` of the shared connectors.
        routes: ``{loss: LossRoute}``.
    """
    sides = [r.side(role) for r in routes.values() for role in ROLES]
    read = {ref.recorder.name for ref in sides}
    idle = [
        f'{role}_recorders[{name!r}]' for role in ROLES
        for name in recorders[role] if name not in read
    ]
    if routes and idle:
        warnings.warn(
            f'SingleTeacherDistiller: {", ".join(idle)} feed no '
            'distillation loss; they are recorded and never used '
            '(remove them, or map them in loss_forward_mappings)',
            UserWarning,
            stacklevel=4)
    unused = sorted(
        set(shared) - {ref.connector
                       for ref in sides if ref.shared})
    if unused:
        warnings.warn(
            f'SingleTeacherDistiller: shared connectors {unused} are '
            'not referenced by any loss_forward_mappings entry; they '
            'are never run or trained (remove them, or reference '
            "them with connector='NAME')",
            UserWarning,
            stacklevel=4)


#: The keys of a ``loss_forward_mappings`` entry.
MAPPING_KEYS = ('student', 'teacher', 'valid_mask')


def check_mapping_keys(name: str, mapping: Dict[str, Any]) -> None:
    """A mapping entry has only ``student``, ``teacher`` and ``valid_mask``.
    """
    extra = sorted(set(mapping) - set(MAPPING_KEYS))
    if extra:
        raise ValueError(
            f'loss_forward_mappings[{name!r}]: unknown keys {extra} (allowed:'
            f' {", ".join(MAPPING_KEYS)}); a recorder index or connector '
            "goes inside the side, e.g. student=dict(recorder='feat', "
            'index=0)')


def parse_valid_mask(name: str, value: Any) -> Union[None, bool, int]:
    """``valid_mask`` of a mapping entry -> ``None``, ``True`` or an int.

    Args:
        name: The loss.
        value: ``None``/``False`` (no mask), ``True`` (the student's
            ``decode_head.ignore_index``) or ``dict(ignore_index=int)``.

    Raises:
        ValueError: Any other value, naming the accepted forms.
    """
    if value is None or value is False:
        return None
    if value is True:
        return True
    if isinstance(value, dict) and set(value) == {'ignore_index'}:
        index = value['ignore_index']
        if is_int(index):
            return index
    raise ValueError(
        f"loss_forward_mappings[{name!r}]['valid_mask'] must be True "
        "(ignore the student decode head's ignore_index), "
        f'dict(ignore_index=255) or None (no mask), got {value!r}')


def check_masked(name: str, module: nn.Module) -> None:
    """A loss given a ``valid_mask`` must accept one (``masked = True``)."""
    if getattr(module, 'masked', False) is True:
        return
    from mmswtat.registry import MODELS
    takers = sorted(n for n, c in MODELS.module_dict.items()
                    if getattr(c, 'masked', False) is True)
    raise ValueError(
        f'distill loss {name!r} ({type(module).__name__}) takes no '
        f'valid_mask; remove valid_mask from loss_forward_mappings[{name!r}]'
        f' (losses that take one: {", ".join(takers)})')


def check_teacher_connector(module: nn.Module, what: str) -> None:
    """Reject a teacher-side connector with trainable parameters."""
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    if trainable:
        raise ValueError(
            f'{what} ({type(module).__name__}) on the teacher side has '
            f'trainable parameters ({", ".join(trainable[:4])}'
            f'{", ..." if len(trainable) > 4 else ""}): it would make '
            'the regression target learnable (the loss can collapse to '
            'zero), while the target must be the raw teacher map. Put '
            'the projection on the student side (student=dict('
            "recorder=..., connector=...)); parameter-free teacher "
            "connectors such as mmswtat.ResizeConnector are allowed")


def check_connector_widths(routes: Dict[str, Any], losses: Dict[str,
                                                                nn.Module],
                           connector: Callable[[str, str], nn.Module]) -> None:
    """A connector's output width must be the loss's declared input width.

    Checked wherever both are known (connectors with an
    ``out_channels`` attribute, losses with ``student_channels`` /
    ``teacher_channels``), so that e.g. forgetting to set
    ``student_channels=2048`` after adding a 512 -> 2048 connector stops
    here rather than at the first training step.

    Args:
        routes: ``{loss: LossRoute}``.
        losses: ``{loss: module}`` (an ``nn.ModuleList`` per level for a
            multi-level loss).
        connector: ``(loss, role) -> `` the connector module (or
            ``ModuleList``) of that side.
    """
    for name, route in routes.items():
        levels = losses[name]
        levels = list(levels) if route.multi else [levels]
        for role in ROLES:
            ref = route.side(role)
            if ref.connector is None:
                continue
            module = connector(name, role)
            per_level = (
                list(module) if isinstance(module, nn.ModuleList) else
                [module] * len(levels))
            for level, (loss, conn) in enumerate(zip(levels, per_level)):
                out = getattr(conn, 'out_channels', None)
                want = getattr(loss, f'{role}_channels', None)
                if out is None or want is None or out == want:
                    continue
                what = (f'shared connector {ref.connector!r}'
                        if ref.shared else f'its {role} connector')
                at = f' (level {level})' if route.multi else ''
                raise ValueError(
                    f'distill loss {name!r}{at} declares '
                    f'{role}_channels={want}, but {what} outputs {out} '
                    f'channels; set {role}_channels={out} (the loss sees '
                    'the map after the connector)')


def check_flags(**flags: Any) -> None:
    """Each keyword is a distiller flag that must be ``True`` or ``False``.

    Raises:
        ConfigTypeError: e.g. ``check_finite='no'`` (a non-empty string
            would count as on).
    """
    for key, value in flags.items():
        check_bool('SingleTeacherDistiller', key, value)


def check_connector_input(module: nn.Module, feat: Any, what: str) -> None:
    """A connector's ``in_channels`` must match the feature it gets.

    Args:
        module: The connector (checked if it has ``in_channels``).
        feat: Its input, ``(B, C, H, W)``.
        what: Names the connector, the loss and the feature (messages).

    Raises:
        ValueError: Naming the connector and both shapes.
    """
    want = getattr(module, 'in_channels', None)
    shape = tuple(getattr(feat, 'shape', ()))
    if want is None or len(shape) < 2 or shape[1] == want:
        return
    raise ValueError(
        f'{what} ({type(module).__name__}) expects in_channels={want} '
        f'(input (B, {want}, H, W)) but gets a feature of shape {shape}; set '
        f'its in_channels={shape[1]} or record another layer')


def _tensors(value: Any) -> list:
    """The tensors of a loss entry (a tensor or a list of them)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, torch.Tensor)]
    return []


def assert_finite(losses: Dict[str, Any], distill: Iterable[str]) -> None:
    """Raise when a loss (task or distillation) is NaN/Inf (one sync).

    Args:
        losses: Every entry of ``loss()``; those named ``*loss*`` are
            checked (what mmengine sums).
        distill: The names of the distillation losses among them.

    Raises:
        FloatingPointError: Naming the non-finite losses, the iteration and
            the likely cause (at iteration 0: inputs and weights first).
    """
    checked = {n: _tensors(v) for n, v in losses.items() if 'loss' in n}
    flat = [t.detach().float().sum() for ts in checked.values() for t in ts]
    if not flat or bool(torch.isfinite(torch.stack(flat)).all()):
        return
    distill = set(distill)
    bad = [
        n for n, ts in checked.items()
        if not all(bool(torch.isfinite(t).all()) for t in ts)
    ]
    bad_d = [n for n in bad if n in distill]
    bad_t = [n for n in bad if n not in distill]
    it = MessageHub.get_current_instance().get_info('iter', 0)
    what = ' and '.join(f'{kind} losses {names}'
                        for kind, names in (('distillation', bad_d),
                                            ('task', bad_t)) if names)
    if it == 0:
        fix = ('At iteration 0 no update has happened yet, so the cause is '
               'the data or the weights, not the learning rate: check the '
               'batch (NaN/Inf pixels, normalisation), the teacher weights '
               '(model.teacher_ckpt) and the student\'s (student_ckpt, '
               'pretrained init)')
    elif bad_d:
        fix = ('Lower the learning rate or the loss_weight of '
               f"{bad_d}, use scale='auto', or check the inputs")
    else:
        fix = ('The student\'s own training diverged: lower the learning '
               'rate, clip gradients (optim_wrapper.clip_grad) or check the '
               'inputs')
    raise FloatingPointError(
        f'{what} not finite at iteration {it}. {fix} (set '
        'model.check_finite=False to let it through).')
