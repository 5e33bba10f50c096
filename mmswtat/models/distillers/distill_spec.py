"""The distillation settings, read and checked once (every error here).

:meth:`DistillSpec.from_config` turns the distiller's keyword arguments (or
``distill=``) into frozen records: the recorded modules
(:class:`RecorderRef`), what every loss reads (:class:`LossRoute` of two
:class:`FeatureRef`) and the configs that ``loss_bank.py`` builds.

The grammar of recorders, connectors, losses and mappings is written once,
in ``docs/distill_config.md`` ("The grammar").
"""
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from mmswtat.utils.value_checks import check_number, is_int
from .checks import (ROLES, check_dict_arg, check_index, check_mapping_keys,
                     check_module_cfgs, check_shared, parse_valid_mask,
                     warn_unused)
from .valid_mask import ValidMask

DISTILL_KEYS = ('student_recorders', 'teacher_recorders', 'connectors',
                'distill_losses', 'loss_forward_mappings',
                'distill_warmup_iters')
TEACHER_FORWARDS = ('auto', 'extract_feat', 'tensor')
Index = Union[None, int, Tuple[int, ...]]


def connector_key(loss: str, role: str) -> str:
    """Key of the connector a loss owns on one side (``'<loss>_<role>'``).

    The distiller's ``connectors`` holds these next to the shared ones, so a
    checkpoint stores them as ``connectors.<loss>_<role>.*``.
    """
    return f'{loss}_{role}'


@dataclass(frozen=True)
class RecorderRef:
    """One ``student_recorders``/``teacher_recorders`` entry.

    Attributes:
        name: The recorder's name, used by ``loss_forward_mappings``.
        module: Dotted path of the hooked module, e.g. ``'neck'``.
        index: Element of the module's tuple output this name stands for
            (``dict(module='neck', index=i)``); ``None``: the whole output.
        clone: Copy the output when recorded (``dict(module=...,
            clone=True)``), for a module whose output an in-place op
            changes later, e.g. the BN of an mmcv ``ConvModule``: its
            output is the pre-activation feature only until the module's
            ``ReLU(inplace=True)`` runs.
        call: Which call to record of a module that runs several times in
            one forward (``dict(module=..., call=-1)``: the last, ``0``
            the first, a list index); ``None``: it must run once
            (:class:`~.recorder.FeatureRecorder` checks).
    """
    name: str
    module: str
    index: Optional[int] = None
    clone: bool = False
    call: Optional[int] = None

    @classmethod
    def parse(cls, name: str, spec: Union[str, dict],
              role: str) -> 'RecorderRef':
        """``'path'`` or ``dict(module='path', index=i)`` -> RecorderRef."""
        if isinstance(spec, str):
            return cls(name, spec)
        if isinstance(spec, dict) and isinstance(spec.get('module'), str) \
                and set(spec) <= {'module', 'index', 'clone', 'call'}:
            index = spec.get('index')
            if index is not None and not is_int(index):
                raise ValueError(
                    f'{role} recorder {name!r}: index must be an int (one '
                    f'element of the tuple output), got {index!r}; to feed '
                    'several levels, record the whole output and give '
                    'index=[...] in loss_forward_mappings')
            clone = spec.get('clone', False)
            if not isinstance(clone, bool):
                raise ValueError(f'{role} recorder {name!r}: clone must be '
                                 f'True or False, got {clone!r}')
            call = spec.get('call')
            if call is not None and not is_int(call):
                raise ValueError(
                    f'{role} recorder {name!r}: call must be an int (which '
                    'call of a module that runs several times: 0 the '
                    f'first, -1 the last), got {call!r}')
            return cls(name, spec['module'], index, clone, call)
        raise ValueError(
            f'{role} recorder {name!r}: expected a module path string '
            f"or dict(module='path', index=i, clone=False, call=None), got "
            f'{spec!r}')


@dataclass(frozen=True)
class FeatureRef:
    """One side of a mapping entry (``'feat'`` or ``dict(recorder=...)``).

    Attributes:
        recorder: The recorder it reads.
        index: ``None``, an element of a tuple record, or a tuple (one
            element per level).
        connector: ``None``, a shared connector's name, or the config of
            one owned by this loss and side (under :func:`connector_key`).
    """
    recorder: RecorderRef
    index: Index = None
    connector: Union[None, str, dict] = None

    @property
    def shared(self) -> bool:
        """Whether :attr:`connector` names a shared connector."""
        return isinstance(self.connector, str)


@dataclass(frozen=True)
class LossRoute:
    """Where one distillation loss takes its inputs: the normalised mapping.

    Attributes:
        name: The loss's key in ``distill_losses`` (starts with ``loss_``).
        student: Its student input.
        teacher: Its teacher input.
        levels: ``((student index, teacher index), ...)``: one pair per
            level, one pair (maybe ``None``) unless :attr:`multi`.
        multi: List indices: one loss module (and per-loss connector) per
            level, summed into one logged loss.
        valid_mask: The entry's ``valid_mask``: ``None`` (no mask),
            ``True`` (the student's ``decode_head.ignore_index``, resolved
            to an int when the distiller is built) or the ignore index
            (``valid_mask.py``).
    """
    name: str
    student: FeatureRef
    teacher: FeatureRef
    levels: Tuple[Tuple[Optional[int], Optional[int]], ...]
    multi: bool
    valid_mask: ValidMask = None

    def side(self, role: str) -> FeatureRef:
        """:attr:`student` or :attr:`teacher`."""
        return self.student if role == 'student' else self.teacher

    def level_ids(self) -> List[Optional[int]]:
        """``[0, 1, ...]`` for a multi-level loss, else ``[None]``."""
        return list(range(len(self.levels))) if self.multi else [None]


#: The ``distill=`` keys whose entries are named (merged name by name).
NAMED_KEYS = DISTILL_KEYS[:-1]


def _fragment_label(i: int, fragment: dict) -> str:
    """``"distill[i] (losses loss_a, loss_b)"``: names a fragment."""
    losses = fragment.get('distill_losses')
    names = ', '.join(losses) if isinstance(losses, dict) and losses else ''
    return f'distill[{i}]' + (f' (losses {names})' if names else '')


def merge_fragments(fragments: Union[list, tuple]) -> dict:
    """One ``distill=`` dict from a list of fragments (a recipe).

    ``distill=[{{_base_.swtat_head}}, {{_base_.cwd_logits}}]`` combines a
    feature loss and a logit loss without hand-merging: recorders,
    connectors, losses and mappings are merged name by name. A name defined
    in several fragments with the same definition is one shared entry (e.g.
    the ``feat`` recorder and ``s4`` connector of ``swtat_layer4`` and
    ``fitnet_layer4``); with different definitions it is an error.

    Args:
        fragments: ``distill=`` dicts (``None`` entries and ``connectors=None``
            are empty).

    Returns:
        The merged dict.

    Raises:
        ValueError: A name defined differently by two fragments, naming both
            fragments, the key and the two definitions; an unknown key.
        ConfigTypeError: A fragment that is not a dict.
    """
    merged: Dict[str, Any] = {}
    owner: Dict[Tuple[str, Any], int] = {}
    labels: List[str] = []
    for i, fragment in enumerate(fragments):
        fragment = check_dict_arg(f'distill[{i}]', fragment,
                                  '{{_base_.swtat_layer4}}')
        labels.append(_fragment_label(i, fragment))
        for key, value in fragment.items():
            if key not in DISTILL_KEYS:
                raise ValueError(f'distill[{i}]: unknown key {key!r} '
                                 f'(allowed: {", ".join(DISTILL_KEYS)})')
            if value is None:
                continue
            if key not in NAMED_KEYS:  # distill_warmup_iters
                if key in merged and merged[key] != value:
                    raise ValueError(
                        f'{labels[owner[(key, None)]]} and {labels[i]} set '
                        f'{key} to {merged[key]!r} and {value!r}; give one '
                        'value (set it in one fragment, or on the distiller)')
                merged[key], owner[(key, None)] = value, i
                continue
            entries = check_dict_arg(f'distill[{i}].{key}', value, '{...}')
            into = merged.setdefault(key, {})
            for name, entry in entries.items():
                if name in into and into[name] != entry:
                    raise ValueError(
                        f'{labels[owner[(key, name)]]} and {labels[i]} both '
                        f'define {key}[{name!r}], differently: '
                        f'{into[name]!r} vs {entry!r}. Rename it in one of '
                        'them (and in that fragment\'s loss_forward_mappings)'
                        ', or make the two definitions identical to share it')
                if name not in into:
                    into[name], owner[(key, name)] = entry, i
    return merged


def _merge_distill(kwargs: Dict[str, Any],
                   distill: Union[None, dict, list, tuple]) -> Dict[str, Any]:
    """The keyword arguments with the ``distill=`` dict (or the merge of a
    list of fragments, :func:`merge_fragments`) merged in."""
    given = dict(kwargs)
    if given.get('distill_warmup_iters') == 0:  # the default: not given
        given['distill_warmup_iters'] = None
    if isinstance(distill, (list, tuple)):
        distill = merge_fragments(distill)
    for key, value in check_dict_arg('distill', distill,
                                     'dict(distill_losses=...)').items():
        if key not in DISTILL_KEYS:
            raise ValueError(f'distill: unknown key {key!r} '
                             f'(allowed: {", ".join(DISTILL_KEYS)})')
        if given.get(key) is not None:
            raise ValueError(f'{key} is given both directly and in '
                             'distill; keep one')
        given[key] = value
    return given


def check_teacher_forward(mode: str) -> str:
    """Validate ``teacher_forward``."""
    if mode not in TEACHER_FORWARDS:
        raise ValueError("teacher_forward must be 'auto', 'extract_feat' "
                         f"or 'tensor', got {mode!r}")
    return mode


def _feature_ref(name: str, role: str, spec: Union[str, dict],
                 recorders: Dict[str, RecorderRef],
                 shared: Dict[str, dict]) -> FeatureRef:
    """One side of a mapping entry -> FeatureRef (or a clear error)."""
    if not isinstance(spec, (str, dict)):
        raise ValueError(
            f'loss_forward_mappings[{name!r}][{role!r}] must be a recorder '
            "name or dict(recorder='name', index=..., connector=...), got "
            f'{spec!r}')
    spec = dict(recorder=spec) if isinstance(spec, str) else dict(spec)
    if spec.get('recorder') not in recorders:
        raise ValueError(
            f'distill loss {name!r} takes {role} feature '
            f"{spec.get('recorder')!r}, but the {role} recorders "
            f'are {list(recorders)}; define it in {role}_recorders')
    extra = set(spec) - {'recorder', 'index', 'connector'}
    where = f'loss_forward_mappings[{name!r}][{role!r}]'
    if extra:
        raise ValueError(
            f'{where}: unknown keys {sorted(extra)} (allowed: recorder, '
            'index, connector)')
    connector = spec.get('connector')
    if isinstance(connector, str):
        if connector not in shared:
            raise ValueError(
                f'{where}: connector {connector!r} is not a shared connector'
                f' (defined: {sorted(shared)}); define it with connectors='
                f'dict({connector}=dict(type=...)), or give a connector '
                'config dict here')
    elif connector is not None and not isinstance(connector, dict):
        raise ValueError(
            f'{where}: connector must be a module config dict or the name '
            f'of a shared connector, got {connector!r}')
    index = check_index(where, spec.get('index'))
    return FeatureRef(
        recorders[spec['recorder']], index,
        dict(connector) if isinstance(connector, dict) else connector)


def per_level_configs(name: str, cfg: dict, route: LossRoute) -> List[dict]:
    """A loss or per-loss connector config, one per level of ``route``.

    ``per_level=dict(key=[v0, v1, ...])`` sets ``key`` level by level.

    Returns:
        ``[cfg]`` for a single-level route, else one config per level.
    """
    cfg = dict(cfg)
    per_level = dict(cfg.pop('per_level', None) or {})
    if per_level and not route.multi:
        raise ValueError(f'{name}: per_level needs a list index in its '
                         'loss_forward_mappings entry (one value per level)')
    num_levels = len(route.levels)
    for key, values in per_level.items():
        if not isinstance(values, (list, tuple)) or \
                len(values) != num_levels:
            got = (f'{len(values)} values {values!r}' if isinstance(
                values, (list, tuple)) else repr(values))
            raise ValueError(
                f'{name}: per_level[{key!r}] must list one value for '
                f'each of the {num_levels} levels of its index, got {got}')
    if not route.multi:
        return [cfg]
    return [
        dict(cfg, **{
            k: v[i]
            for k, v in per_level.items()
        }) for i in range(num_levels)
    ]


def _route(name: str, mapping: Optional[dict],
           recorders: Dict[str, Dict[str, RecorderRef]],
           shared: Dict[str, dict]) -> LossRoute:
    """One ``loss_forward_mappings`` entry -> LossRoute."""
    if mapping is None:
        if all(len(recorders[role]) == 1 for role in ROLES):
            mapping = {role: next(iter(recorders[role])) for role in ROLES}
        else:
            raise ValueError(f'distill loss {name!r} has no entry in '
                             'loss_forward_mappings; add e.g. '
                             f"{name}=dict(student='feat', teacher='feat')")
    mapping = check_dict_arg(f'loss_forward_mappings[{name!r}]', mapping,
                             "dict(student='feat', teacher='feat')")
    check_mapping_keys(name, mapping)
    refs = {}
    for role in ROLES:
        if role not in mapping:
            raise ValueError(f'loss_forward_mappings[{name!r}] needs '
                             f'a {role!r} entry')
        refs[role] = _feature_ref(name, role, mapping[role], recorders[role],
                                  shared)
    s_idx, t_idx = refs['student'].index, refs['teacher'].index
    multi = isinstance(s_idx, tuple) or isinstance(t_idx, tuple)
    if multi:
        shown = [
            list(i) if isinstance(i, tuple) else i for i in (s_idx, t_idx)
        ]
        if not (isinstance(s_idx, tuple) and isinstance(t_idx, tuple)
                and len(s_idx) == len(t_idx)):
            raise ValueError(
                f'distill loss {name!r}: a list index applies the '
                'loss to several levels and needs lists of equal '
                f'length on both sides, got student {shown[0]!r}, '
                f'teacher {shown[1]!r}')
        levels = tuple(zip(s_idx, t_idx))
    else:
        levels = ((s_idx, t_idx), )
    return LossRoute(name, refs['student'], refs['teacher'], levels, multi,
                     parse_valid_mask(name, mapping.get('valid_mask')))


@dataclass(frozen=True)
class DistillSpec:
    """Everything the distiller builds from its distillation settings.

    Attributes:
        student_recorders: ``{name: RecorderRef}`` of the student.
        teacher_recorders: Same for the teacher.
        connectors: ``{name: config}`` of the shared connectors.
        losses: ``{name: config}`` of the distillation losses.
        routes: ``{name: LossRoute}``, in ``losses`` order.
        warmup_iters: ``distill_warmup_iters``.
    """
    student_recorders: Dict[str, RecorderRef]
    teacher_recorders: Dict[str, RecorderRef]
    connectors: Dict[str, dict]
    losses: Dict[str, dict]
    routes: Dict[str, LossRoute]
    warmup_iters: int = 0

    @classmethod
    def from_config(cls,
                    distill: Union[None, dict, list, tuple] = None,
                    **kwargs: Any) -> 'DistillSpec':
        """Read and check the settings.

        Args:
            distill: The ``distill=`` dict of the distiller, a list of
                fragments (:func:`merge_fragments`), or ``None``.
            **kwargs: The distiller's keyword arguments named in
                :data:`DISTILL_KEYS` (``None`` when not given).

        Raises:
            ValueError: Any invalid setting, naming the fix.
        """
        given = _merge_distill(kwargs, distill)
        recorders = {
            role: {
                name: RecorderRef.parse(name, spec, role)
                for name, spec in check_dict_arg(
                    f'{role}_recorders', given.get(f'{role}_recorders'),
                    "dict(feat='backbone.layer4')").items()
            }
            for role in ROLES
        }
        losses = check_module_cfgs(
            'distill_losses',
            check_dict_arg(
                'distill_losses', given.get('distill_losses'),
                "dict(loss_swtat=dict(type='mmswtat.SWTaTLoss', ...))"),
            'mmswtat.SWTaTLoss')
        shared = check_module_cfgs(
            'connectors',
            check_dict_arg(
                'connectors', given.get('connectors'),
                "dict(s4=dict(type='mmswtat.ConvBNConnector', ...))"),
            'mmswtat.ConvBNConnector')
        mappings = check_dict_arg(
            'loss_forward_mappings', given.get('loss_forward_mappings'),
            "dict(loss_swtat=dict(student='feat', teacher='feat'))")
        if not losses:
            warnings.warn(
                'SingleTeacherDistiller: no distill_losses configured, the '
                'student trains on its task losses alone (nothing is '
                'distilled). Add e.g. the configs/_base_/distill fragment.',
                UserWarning,
                stacklevel=3)
        check_shared(
            shared, {
                connector_key(loss, role): (loss, role)
                for loss in losses
                for role in ROLES
            })
        for name in losses:
            if not name.startswith('loss_'):
                raise ValueError(
                    f'distill_losses key {name!r} must start with "loss_" so '
                    f"that mmengine adds it to the total; rename it to 'loss_"
                    f"{name}'")
        for name in mappings:
            if name not in losses:
                raise ValueError(
                    f'loss_forward_mappings names {name!r}, which is not in '
                    f'distill_losses ({sorted(losses)})')
        routes = {
            name: _route(name, mappings.get(name), recorders, shared)
            for name in losses
        }
        warn_unused(recorders, shared, routes)
        warmup = given.get('distill_warmup_iters')
        warmup = 0 if warmup is None else check_number(
            'SingleTeacherDistiller',
            'distill_warmup_iters',
            warmup,
            minimum=0,
            integer=True)
        return cls(recorders['student'], recorders['teacher'], shared, losses,
                   routes, warmup)
