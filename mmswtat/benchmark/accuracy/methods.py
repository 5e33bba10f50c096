"""The methods of the benchmark, each built from shipped config fragments.

A method is a recipe of :mod:`mmswtat.recipes` (the table the config
generator reads too): one component (``'swtat'``, ``'cwd'``, ...) or several
joined by ``+`` (``'swtat_head+cwd'``), or ``'none'`` (the undistilled
student). Every component takes its wiring (recorders, connectors, losses,
mappings) from its fragment in ``configs/_base_/distill``; only the channel
counts (and SW-TaT's window for the small map) are adapted to the
benchmark's networks, and the loss weights set. A recipe reaches the
distiller as a list of fragments (``distill=[...]``), merged by the
distiller as a user's config would be.

Weights. A single method's ``weight`` scales all its losses, keeping the
fragment's ratios between them (SW-TaT: d = z = weight). A recipe's
``weight`` is a factor on every component's published weight (``3`` on
``swtat_head+cwd``: SW-TaT 0.3, CWD 9).
"""
import copy
from typing import List, Optional, Sequence, Union

from mmengine.config import Config

from mmswtat import recipes
from mmswtat.benchmark.data.digit_scenes import DIGIT_SCENE_CLASSES
from mmswtat.recipes import (FRAGMENTS, Component, Wiring, components_for,
                             parse_recipe, sweep_variants, swtat_variant)
from .settings import BenchmarkSettings

#: The segmentation table's methods (:data:`mmswtat.recipes.DEFAULT_METHODS`).
DEFAULT_METHODS = recipes.DEFAULT_METHODS['seg']
#: Components the segmentation benchmark can build (those wired for it).
BENCH_COMPONENTS = components_for('seg')
#: Loss-weight factors around each method's published weight (SW-TaT's
#: 0.1 gives 0.03 / 0.1 / 0.3 / 1).
WEIGHT_FACTORS = (0.3, 1.0, 3.0, 10.0)
#: Knob variants per method, from the table.
METHOD_KNOBS = sweep_variants('seg', 'knobs')
#: The structure sweep's forms per method, from the table.
STRUCTURE_FORMS = sweep_variants('seg', 'forms')
#: Knobs that select a fragment variant instead of setting a loss option.
VARIANT_KNOBS = {'embed': '_embed', 'preact': '_preact'}
#: Knobs that weigh a recipe's components (:func:`component_weights`).
RECIPE_KNOBS = ('logit_factor', 'weights')
#: Knobs that change an SW-TaT fragment's passes
#: (:func:`mmswtat.recipes.swtat_variant`), applied after the adaptation.
STRUCTURE_KNOBS = ('global_pass', 'window_size')


def _fragment(file: str, key: str) -> dict:
    from mmswtat.utils.config_utils import resolve_config_path
    cfg = Config.fromfile(resolve_config_path(FRAGMENTS + file))
    out = copy.deepcopy(cfg[key].to_dict())
    if out.get('connectors') is None:
        out.pop('connectors', None)
    return out


def _channels(distill: dict, cs: int, ct: int) -> None:
    """Connectors ``cs -> ct``; feature losses see ``ct`` channels behind a
    shared connector, else ``(cs, ct)``."""
    shared = bool(distill.get('connectors'))
    for conn in (distill.get('connectors') or {}).values():
        conn.update(in_channels=cs, out_channels=ct)
    for cfg in distill['distill_losses'].values():
        for key, value in (('student_channels', ct if shared else cs),
                           ('teacher_channels', ct), ('channels', ct)):
            if key in cfg:
                cfg[key] = value


def drop_losses(distill: dict, names) -> None:
    """Remove the losses ``names`` and their mappings (in place)."""
    for name in names:
        distill['distill_losses'].pop(name)
        distill['loss_forward_mappings'].pop(name)


def _global_tat(distill: dict) -> None:
    """The fragment's SW-TaT loss becomes one global ``TaTLoss``
    (``loss_swtat`` -> ``loss_tat``, window keys dropped), in place."""
    loss = distill['distill_losses'].pop('loss_swtat')
    mapping = distill['loss_forward_mappings'].pop('loss_swtat')
    for key in ('window_size', 'shift_size'):
        loss.pop(key, None)
    loss['type'] = 'mmswtat.TaTLoss'
    distill['distill_losses']['loss_tat'] = loss
    distill['loss_forward_mappings']['loss_tat'] = mapping


def adapt(distill: dict, wiring: Wiring, s: BenchmarkSettings,
          knobs: dict) -> None:
    """A segmentation fragment on the benchmark's networks, in place: its
    dropped losses out, the channels of its placement (``layer4`` and
    ``head`` maps, the class count for logits), the benchmark's SW-TaT
    window, then the knobs on every loss."""
    drop_losses(distill, wiring.drop)
    if wiring.global_tat:
        _global_tat(distill)
    if wiring.placement == 'logits':
        for cfg in distill['distill_losses'].values():
            for key in ('channels', 'num_classes'):
                if key in cfg:
                    cfg[key] = len(DIGIT_SCENE_CLASSES)
    else:
        net = 'head_channels' if wiring.placement == 'head' else \
            'layer4_channels'
        _channels(distill, getattr(s.student, net), getattr(s.teacher, net))
    for cfg in distill['distill_losses'].values():
        if cfg['type'].endswith('SWTaTLoss'):
            cfg.update(window_size=s.window_size, shift_size=s.shift_size)
        cfg.update(knobs)


def check_methods(names: Sequence[str]) -> None:
    """Raise one clear error for an unknown method name or recipe."""
    for name in names:
        if name != 'none':
            parse_recipe(name, BENCH_COMPONENTS)


def is_recipe(name: str) -> bool:
    """Several components (the weight is a factor)."""
    return '+' in name


def published_weight(name: str) -> Optional[float]:
    """The sweep centre: a single method's published weight, a recipe's
    factor 1, None for ``'none'``."""
    if name == 'none':
        return None
    return 1.0 if is_recipe(name) else parse_recipe(name)[0].published


def component_weights(name: str,
                      weight: float,
                      knobs: Optional[dict] = None) -> List[float]:
    """The loss weight of each component of a recipe: ``weight`` times its
    published weight, times the knob ``logit_factor`` for logit components
    (decouples the feature and the logit weight); the knob ``weights``
    (one number per component, e.g. ``(0.3, 3)``: each at its own best)
    gives them as they are.

    Raises:
        ValueError: ``weights`` of another length than the recipe.
    """
    comps = parse_recipe(name)
    explicit = (knobs or {}).get('weights')
    if explicit is not None:
        if (not isinstance(explicit, (list, tuple))
                or len(explicit) != len(comps)):
            raise ValueError(
                f'knob weights={explicit!r}: recipe {name!r} has '
                f'{len(comps)} components; give one weight each, e.g. '
                f'weights={tuple(c.published for c in comps)}')
        return [float(w) for w in explicit]
    factor = float((knobs or {}).get('logit_factor', 1.0))
    return [
        c.published * weight * (factor if c.kind == 'logit' else 1.0)
        for c in parse_recipe(name)
    ]


def weight_label(name: str,
                 weight: Optional[float],
                 knobs: Optional[dict] = None) -> str:
    """``'0.1'``; a recipe's component weights ``'0.3 + 9'``."""
    if weight is None or name == 'none':
        return ''
    if not is_recipe(name):
        return f'{weight:g}'
    return ' + '.join(f'{w:g}' for w in component_weights(name, weight, knobs))


def _component(comp: Component, settings: BenchmarkSettings, weight: float,
               knobs: dict) -> dict:
    knobs = dict(knobs if comp.tat else {})
    file, key = comp.fragment
    for knob, suffix in VARIANT_KNOBS.items():
        if knobs.pop(knob, False):
            key += suffix
    structure = {k: knobs.pop(k) for k in STRUCTURE_KNOBS if k in knobs}
    distill = _fragment(file, key)
    adapt(distill, comp.tasks['seg'], settings, knobs)
    if structure:
        distill = swtat_variant(distill, **structure)
    losses = distill['distill_losses']
    top = max(float(c.get('loss_weight', 1.0)) for c in losses.values())
    for cfg in losses.values():
        cfg['loss_weight'] = weight * float(cfg.get('loss_weight', 1.0)) / top
    return distill


def distill_config(
        name: str,
        settings: BenchmarkSettings,
        weight: Optional[float] = None,
        knobs: Optional[dict] = None) -> Union[None, dict, List[dict]]:
    """The ``distill=`` of method ``name`` for the benchmark's networks.

    Args:
        name: ``'none'``, a component or a recipe (``'swtat_head+cwd'``).
        settings: Networks and SW-TaT window.
        weight: A single method's loss weight, a recipe's factor on its
            components' published weights (default: published / 1).
        knobs: Loss-config overrides for the TaT-family components (e.g.
            ``dict(query='student', scale='auto')``); ``embed=True`` and
            ``preact=True`` select the fragment's ``*_embed`` /
            ``*_preact`` variant; ``global_pass`` and ``window_size``
            change its passes (:func:`mmswtat.recipes.swtat_variant`);
            ``logit_factor`` scales a recipe's logit components
            (:func:`component_weights`).

    Returns:
        None for ``'none'``, a dict for one component, else a list of
        fragments (merged by the distiller).
    """
    check_methods([name])
    if name == 'none':
        return None
    weight = published_weight(name) if weight is None else weight
    comps = parse_recipe(name, BENCH_COMPONENTS)
    knobs = dict(knobs or {})
    if len(comps) == 1:
        recipe_only = [k for k in RECIPE_KNOBS if k in knobs]
        if recipe_only:
            raise ValueError(
                f'knob(s) {", ".join(recipe_only)} weigh the components of '
                f'a recipe; {name!r} is one method: set its weight instead')
        return _component(comps[0], settings, weight, knobs)
    weights = component_weights(name, weight, knobs)
    for knob in RECIPE_KNOBS:
        knobs.pop(knob, None)
    return [_component(c, settings, w, knobs) for c, w in zip(comps, weights)]
