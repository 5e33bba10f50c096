"""The methods of the benchmark, each built from a shipped config fragment.

Every distillation method takes its wiring (recorders, connectors, losses,
mappings) from a fragment in ``configs/_base_/distill``; only the channel
counts (and SW-TaT's window for the small map) are adapted to the
benchmark's networks, and the loss weights set. A method's ``weight``
scales all its losses, keeping the fragment's ratios between them.
"""
import copy
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from mmengine.config import Config

from mmswtat.datasets.digit_scenes import DIGIT_SCENE_CLASSES
from .settings import BenchmarkSettings

FRAGMENTS = 'mmswtat::_base_/distill/'


@dataclass(frozen=True)
class Method:
    """One row of the table.

    Attributes:
        name: CLI name.
        label: Table label.
        fragment: ``(file, variable)`` of the shipped fragment, or None.
        published: The weight its paper / official code uses (sweep centre).
        source: Where ``published`` comes from.
        adapt: ``adapt(distill, settings, knobs)`` sets channels (in place).
    """
    name: str
    label: str
    fragment: Optional[Tuple[str, str]]
    published: float
    source: str
    adapt: Optional[Callable[[dict, BenchmarkSettings, dict], None]] = None


def _fragment(file: str, key: str) -> dict:
    from mmswtat.utils.config_utils import resolve_config_path
    cfg = Config.fromfile(resolve_config_path(FRAGMENTS + file))
    return copy.deepcopy(cfg[key].to_dict())


def _tat_losses(distill: dict, s: BenchmarkSettings, knobs: dict) -> None:
    """Channels of the layer4 TaT fragments (shared connector or embed)."""
    cs, ct = s.student.layer4_channels, s.teacher.layer4_channels
    for conn in (distill.get('connectors') or {}).values():
        conn.update(in_channels=cs, out_channels=ct)
    shared = bool(distill.get('connectors'))
    for cfg in distill['distill_losses'].values():
        cfg.update(student_channels=ct if shared else cs, teacher_channels=ct)
        if cfg['type'].endswith('SWTaTLoss'):
            cfg.update(window_size=s.window_size, shift_size=s.shift_size)
        cfg.update(knobs)


def _global_tat(distill: dict, s: BenchmarkSettings, knobs: dict) -> None:
    """The SW-TaT fragment's wiring with one global TaT loss instead."""
    losses = distill['distill_losses']
    cfg = losses.pop('loss_swtat')
    for key in ('window_size', 'shift_size'):
        cfg.pop(key, None)
    cfg['type'] = 'mmswtat.TaTLoss'
    mapping = distill['loss_forward_mappings'].pop('loss_swtat')
    losses.pop('loss_pmtat')
    distill['loss_forward_mappings'].pop('loss_pmtat')
    losses['loss_tat'] = cfg
    distill['loss_forward_mappings']['loss_tat'] = mapping
    _tat_losses(distill, s, knobs)


def _logits(distill: dict, s: BenchmarkSettings, knobs: dict) -> None:
    """Logit methods: channels are the class count."""
    for cfg in distill['distill_losses'].values():
        for key in ('channels', 'num_classes'):
            if key in cfg:
                cfg[key] = len(DIGIT_SCENE_CLASSES)
        cfg.update(knobs)


def _feature(distill: dict, s: BenchmarkSettings, knobs: dict) -> None:
    """layer4 feature methods behind a connector (FitNet)."""
    cs, ct = s.student.layer4_channels, s.teacher.layer4_channels
    for conn in (distill.get('connectors') or {}).values():
        conn.update(in_channels=cs, out_channels=ct)
    for mapping in distill['loss_forward_mappings'].values():
        conn = mapping['student'].get('connector') if isinstance(
            mapping['student'], dict) else None
        if isinstance(conn, dict):
            conn.update(in_channels=cs, out_channels=ct)
    for cfg in distill['distill_losses'].values():
        for key, value in (('student_channels', ct), ('teacher_channels', ct),
                           ('channels', ct)):
            if key in cfg:
                cfg[key] = value
        cfg.update(knobs)


SWTAT_FILE = 'swtat_layer4_r101_to_r18.py'

METHODS: Dict[str, Method] = {
    m.name: m
    for m in (
        Method('none', 'no distillation', None, 0.0, 'baseline'),
        Method('swtat', 'SW-TaT + PM', (SWTAT_FILE, 'swtat_layer4'), 0.1,
               'official TaT-seg VOC alpha 0.1', _tat_losses),
        Method('tat', 'global TaT', (SWTAT_FILE, 'swtat_layer4'), 0.1,
               'official TaT-seg VOC alpha 0.1', _global_tat),
        Method('cwd', 'CWD', ('cwd_logits_r101_to_r18.py', 'cwd_logits'),
               3.0, 'CIRKD, this pair (tau 4)', _logits),
        Method('dist', 'DIST', ('dist_logits_r101_to_r18.py', 'dist_logits'),
               1.0, 'official DIST_KD segmentation code', _logits),
        Method('kd', 'KD', ('kd_logits_r101_to_r18.py', 'kd_logits'), 1.0,
               'CIRKD, this pair (tau 1)', _logits),
        Method('fitnet', 'FitNet', ('fitnet_layer4_r101_to_r18.py',
                                    'fitnet_layer4'), 1.0,
               'CIRKD FitNet, this pair', _feature),
    )
}


def check_methods(names) -> None:
    """Raise one clear error for an unknown method name."""
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise ValueError(f'unknown method(s) {unknown}; choose from '
                         f'{", ".join(METHODS)}')


def distill_config(name: str, settings: BenchmarkSettings,
                   weight: Optional[float] = None,
                   knobs: Optional[dict] = None) -> Optional[dict]:
    """The ``distill=`` dict of method ``name`` for the benchmark's networks.

    Args:
        name: A key of :data:`METHODS`.
        settings: Networks and SW-TaT window.
        weight: Loss weight (default: the method's published one); losses
            of one method keep their fragment's ratios.
        knobs: Loss-config overrides applied to every loss of the method
            (e.g. ``dict(query='student', scale='auto')``); ``embed=True``
            on a TaT method selects the fragment's ``*_embed`` variant.

    Returns:
        The dict, or None for ``'none'``.
    """
    check_methods([name])
    method = METHODS[name]
    if method.fragment is None:
        return None
    knobs = dict(knobs or {})
    file, key = method.fragment
    if knobs.pop('embed', False):
        key = key + '_embed'
    distill = _fragment(file, key)
    if distill.get('connectors') is None:
        distill.pop('connectors', None)
    method.adapt(distill, settings, knobs)
    weight = method.published if weight is None else weight
    losses = distill['distill_losses']
    top = max(float(c.get('loss_weight', 1.0)) for c in losses.values())
    for cfg in losses.values():
        cfg['loss_weight'] = weight * float(cfg.get('loss_weight', 1.0)) / top
    return distill
