"""The distillation methods, and recipes that combine them: one table.

A *component* is one distillation method on one placement (SW-TaT on
``layer4``, SW-TaT on the decode head's last feature, CWD on the logits,
...), with the shipped config fragment that wires it, its published weight
and where that weight comes from. A *recipe* is one component or several
joined by ``+`` (``'swtat_head+cwd'``): their fragments are given to the
distiller as a list (``distill=[...]``) and merged name by name
(:func:`mmswtat.models.distillers.distill_spec.merge_fragments`).

The config generator (``tools/make_distill_config.py --method``) and the
accuracy benchmark (``tools/analysis/accuracy_benchmark.py --methods``)
both read this table, so a name means the same in both.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

#: Where the shipped fragments live (``mmswtat::`` configs).
FRAGMENTS = 'mmswtat::_base_/distill/'
SWTAT_LAYER4 = ('swtat_layer4_r101_to_r18.py', 'swtat_layer4')
SWTAT_HEAD = ('swtat_head_r101_to_r18.py', 'swtat_head')


@dataclass(frozen=True)
class Component:
    """One distillation method on one placement.

    Attributes:
        name: Its name in recipes and on the command lines.
        label: Table label.
        kind: ``'feature'`` (a feature map, behind a connector where the
            channels differ) or ``'logit'`` (the classifier's output).
        placement: What it distils: ``'layer4'`` (the deepest backbone
            stage), ``'head'`` (the decode head's last feature, before the
            classifier), ``'matched'`` (the maps the generator matches by
            stride) or ``'logits'``.
        fragment: ``(file, variable)`` of the shipped segmentation
            fragment (``configs/_base_/distill``), or None.
        published: Its published loss weight (the sweep's centre).
        source: Where :attr:`published` comes from.
        comment: One sentence for the generated config.
    """
    name: str
    label: str
    kind: str
    placement: str
    fragment: Optional[Tuple[str, str]]
    published: float
    source: str
    comment: str = ''

    @property
    def tat(self) -> bool:
        """A TaT-family loss (takes the TaT knobs)."""
        return self.name in ('swtat', 'swtat_head', 'sw', 'tat')


COMPONENTS: Dict[str, Component] = {
    c.name: c
    for c in (
        Component(
            'swtat', 'SW-TaT + PM (layer4)', 'feature', 'layer4', SWTAT_LAYER4,
            0.1, 'official TaT-seg VOC alpha 0.1',
            'SW-TaT: window passes (plain and shifted by half a window) '
            'plus a patch-merging pass (2x2 space-to-depth, then a global '
            "TaT on the coarse tokens), the paper's L_SW + L_PM."),
        Component(
            'swtat_head', 'SW-TaT + PM (head)', 'feature', 'head', SWTAT_HEAD,
            0.1, 'official TaT-seg VOC alpha 0.1',
            "SW-TaT + PM on the decode head's last feature (before the "
            'classifier), where the official TaT-seg code distils.'),
        Component('sw', 'SW-TaT, no PM', 'feature', 'layer4', SWTAT_LAYER4,
                  0.1, 'official TaT-seg VOC alpha 0.1',
                  'SW-TaT window passes only (no patch-merging term).'),
        Component('tat', 'global TaT', 'feature', 'layer4', SWTAT_LAYER4, 0.1,
                  'official TaT-seg VOC alpha 0.1',
                  'Global TaT (one window covering each map).'),
        Component(
            'cwd', 'CWD (logits)', 'logit', 'logits', (
                'cwd_logits_r101_to_r18.py',
                'cwd_logits'), 3.0, 'CIRKD, this pair (tau 4)',
            'Channel-wise distillation of the logits (Shu et al.): each '
            'class map a distribution over pixels, tau 4.'),
        Component(
            'dist', 'DIST (logits)', 'logit', 'logits', (
                'dist_logits_r101_to_r18.py',
                'dist_logits'), 1.0, 'official DIST_KD segmentation code',
            'DIST: inter- and intra-class Pearson correlation of the '
            'logits.'),
        Component('kd', 'KD (logits)', 'logit', 'logits', (
            'kd_logits_r101_to_r18.py',
            'kd_logits'), 1.0, 'CIRKD, this pair (tau 1)',
                  'Hinton KD on the logits (per pixel for dense heads).'),
        Component(
            'fitnet', 'FitNet (layer4)', 'feature', 'layer4', (
                'fitnet_layer4_r101_to_r18.py',
                'fitnet_layer4'), 1.0, 'CIRKD FitNet, this pair',
            'FitNet: MSE between the connected student map and the '
            'teacher map.'),
    )
}


def parse_recipe(
        recipe: str,
        allowed: Optional[Sequence[str]] = None) -> Tuple[Component, ...]:
    """``'swtat_head+cwd'`` -> its components, or one clear error.

    Args:
        recipe: Component names joined by ``+``.
        allowed: The component names the caller supports (default all).

    Raises:
        ValueError: An unknown or unsupported name (listing the choices),
            an empty part or a component named twice.
    """
    allowed = list(COMPONENTS) if allowed is None else list(allowed)
    names = str(recipe).split('+')
    unknown = [n for n in names if n not in COMPONENTS]
    unsupported = [n for n in names if n in COMPONENTS and n not in allowed]
    choices = (f'choose from {", ".join(allowed)}, or combine them with + '
               "(e.g. 'swtat_head+cwd')")
    if unknown or not recipe:
        raise ValueError(f'unknown method {recipe!r}' + (
            f' (unknown part(s) {unknown})' if '+' in str(recipe) else '') +
                         f'; {choices}')
    if unsupported:
        raise ValueError(f'method {recipe!r}: {unsupported} cannot be used '
                         f'here; {choices}')
    if len(set(names)) != len(names):
        raise ValueError(f'method {recipe!r} names a component twice')
    return tuple(COMPONENTS[n] for n in names)


def recipe_label(recipe: str) -> str:
    """Table label of a recipe (``'SW-TaT + PM (head) + CWD (logits)'``)."""
    if recipe == 'none':
        return 'no distillation'
    return ' + '.join(c.label for c in parse_recipe(recipe))
