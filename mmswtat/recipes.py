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
import copy
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

#: Where the shipped fragments live (``mmswtat::`` configs).
FRAGMENTS = 'mmswtat::_base_/distill/'
SWTAT_LAYER4 = ('swtat_layer4_r101_to_r18.py', 'swtat_layer4')
SWTAT_HEAD = ('swtat_head_r101_to_r18.py', 'swtat_head')
#: Weight sources. The official TaT-seg code divides its cross-entropy by
#: the batch size twice (utils/loss.py), so its VOC alpha 0.1 times beta 1
#: / gamma 0.4 is, relative to a cross-entropy of weight 1, 16 * 0.1 = 1.6
#: on the patch-group loss and 0.64 on the anchor loss (9.6 on COCO-Stuff).
OFFICIAL_WEIGHT = ('official TaT-seg VOC, relative to the CE: 1.6 '
                   '(patch-group) and 0.64 (anchor); the sweep centre 1')
OLD_WEIGHT = ("the fragment's weight (the seed paper gives none; the "
              'official TaT-seg VOC weights relative to the CE are 1.6 / '
              '0.64)')


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
        shipped: The weight its fragment ships and the config generator
            writes for segmentation, where the accuracy benchmark chose
            another than :attr:`published` (None: the published one).
    """
    name: str
    label: str
    kind: str
    placement: str
    fragment: Optional[Tuple[str, str]]
    published: float
    source: str
    comment: str = ''
    shipped: Optional[float] = None

    @property
    def weight(self) -> float:
        """The weight written into configs: :attr:`shipped`, else
        :attr:`published`."""
        return self.published if self.shipped is None else self.shipped

    @property
    def tat(self) -> bool:
        """A TaT-family loss (takes the TaT knobs)."""
        return self.name in ('swtat', 'swtat_head', 'sw', 'tat')


COMPONENTS: Dict[str, Component] = {
    c.name: c
    for c in (
        Component(
            'swtat', 'SW-TaT + PM (layer4)', 'feature', 'layer4', SWTAT_LAYER4,
            0.1, OLD_WEIGHT,
            'SW-TaT: window passes (plain and shifted by half a window) '
            'plus a patch-merging pass (2x2 space-to-depth, then a global '
            "TaT on the coarse tokens), the paper's L_SW + L_PM."),
        Component(
            'swtat_head',
            'SW-TaT + PM (head)',
            'feature',
            'head',
            SWTAT_HEAD,
            1.0,
            OFFICIAL_WEIGHT,
            "SW-TaT + PM on the decode head's last feature (before the "
            'classifier), where the official TaT-seg code distils.',
            shipped=0.1),
        Component('sw', 'SW-TaT, no PM', 'feature', 'layer4', SWTAT_LAYER4,
                  0.1, OLD_WEIGHT,
                  'SW-TaT window passes only (no patch-merging term).'),
        Component('tat', 'global TaT', 'feature', 'layer4', SWTAT_LAYER4, 0.1,
                  OLD_WEIGHT, 'Global TaT (one window covering each map).'),
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
        Component(
            'fitnet_head',
            'FitNet (head)',
            'feature',
            'head', ('fitnet_head_r101_to_r18.py', 'fitnet_head'),
            1.0,
            'CIRKD FitNet, this pair',
            "FitNet on the decode head's last feature, through the same "
            'connector as swtat_head (SW-TaT with the attention removed).',
            shipped=3.0),
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


#: ``global_pass=`` choices of an SW-TaT fragment: the seed paper's
#: patch-merging pass, the official TaT's average-pooled anchor pass, or
#: none (window passes only).
GLOBAL_PASSES = dict(
    pm='mmswtat.PatchMergeTaTLoss', anchor='mmswtat.AnchorTaTLoss', none=None)
_GLOBAL_NAMES = dict(pm='pmtat', anchor='anchortat')


def swtat_variant(distill: dict,
                  global_pass: Optional[str] = None,
                  window_size: Union[None, int, str] = None,
                  connector: Optional[bool] = None) -> dict:
    """An SW-TaT fragment with another global pass or window (a copy).

    The benchmark's ``--knob global_pass=...`` / ``--knob window_size=N``
    and a user's variant of a shipped fragment are this one function.

    Args:
        distill: A fragment with one ``SWTaTLoss`` (e.g. ``swtat_head``),
            with or without a global-pass loss.
        global_pass: ``'pm'`` (``PatchMergeTaTLoss``, one 2x2 merge unless
            the fragment sets another), ``'anchor'`` (``AnchorTaTLoss``,
            ``pool_size='auto'``) or ``'none'``; None keeps the fragment's.
            A new global-pass loss takes the SW-TaT loss's options, weight
            and mapping (the weights 1:1) and is named after it
            (``loss_swtat_head`` -> ``loss_anchortat_head``).
        window_size: The SW-TaT window ``N`` (shift ``N // 2``: 0 at 1,
            where the window pass is a plain regression), or ``'auto'``
            (sized per map, shift ``'auto'``: see
            :func:`mmswtat.models.losses.swtat_loss.auto_window`); None
            keeps it. Either replaces the fragment's per-level windows.
        connector: True puts one shared learned 1x1 conv + BN
            (``mmswtat.ConvBNConnector``, named ``'sc'``) on the student
            side of every TaT loss of the fragment, as FitNet's regressor
            (its BN absorbs the student's scale); the losses then see the
            teacher's channels. None or False keeps the fragment's.

    Returns:
        The changed copy.

    Raises:
        ValueError: An unknown ``global_pass`` (listing the choices), a
            ``window_size`` that is not an int >= 1 or ``'auto'``, a
            ``connector`` that is not a bool, or a fragment without exactly
            one ``SWTaTLoss``.
    """
    from mmswtat.utils.value_checks import is_int
    if global_pass is not None and global_pass not in GLOBAL_PASSES:
        raise ValueError(f'unknown global_pass {global_pass!r}; choose from '
                         f'{", ".join(GLOBAL_PASSES)}')
    if isinstance(window_size, float) and window_size.is_integer():
        window_size = int(window_size)  # a command line's 2 -> 2.0
    if window_size is not None and window_size != 'auto' and not (
            is_int(window_size) and window_size >= 1):
        raise ValueError(f"window_size must be an int >= 1 or 'auto', got "
                         f'{window_size!r}')
    if connector is not None and not isinstance(connector, bool):
        raise ValueError(f'connector must be True or False, got {connector!r}')
    out = copy.deepcopy(distill)
    losses = out['distill_losses']
    mappings = out['loss_forward_mappings']
    sw = [n for n, c in losses.items() if c['type'].endswith('SWTaTLoss')]
    if len(sw) != 1:
        raise ValueError('swtat_variant needs a fragment with one '
                         f'SWTaTLoss, got {sorted(losses)}')
    sw_name = sw[0]
    if window_size is not None:
        shift = 'auto' if window_size == 'auto' else int(window_size) // 2
        losses[sw_name].update(window_size=window_size, shift_size=shift)
        per_level = losses[sw_name].get('per_level') or {}
        for key in ('window_size', 'shift_size'):
            per_level.pop(key, None)
        if 'per_level' in losses[sw_name] and not per_level:
            losses[sw_name].pop('per_level')
    if connector:
        _student_connector(out)
    if global_pass is None:
        return out
    kinds = {t: k for k, t in GLOBAL_PASSES.items() if t}
    old = [
        n for n, c in losses.items()
        if kinds.get(c['type'], kinds.get('mmswtat.' + c['type']))
    ]
    kept = {}
    for name in old:
        cfg = losses.pop(name)
        mappings.pop(name)
        if cfg['type'].endswith(GLOBAL_PASSES[global_pass] or '-'):
            kept[name] = cfg
    if GLOBAL_PASSES[global_pass] is None:
        return out
    if kept:  # the fragment's own pass of that kind, as it was
        name, cfg = next(iter(kept.items()))
    else:
        cfg = {
            k: v
            for k, v in copy.deepcopy(losses[sw_name]).items()
            if k not in ('window_size', 'shift_size')
        }
        per_level = {
            k: v
            for k, v in (cfg.pop('per_level', None) or {}).items()
            if k not in ('window_size', 'shift_size')
        }
        if per_level:
            cfg['per_level'] = per_level
        cfg['type'] = GLOBAL_PASSES[global_pass]
        if global_pass == 'pm':
            cfg['num_merges'] = 1
        name = sw_name.replace('swtat', _GLOBAL_NAMES[global_pass])
        if name == sw_name:
            name = f'{sw_name}_{_GLOBAL_NAMES[global_pass]}'
    losses[name] = cfg
    mappings[name] = copy.deepcopy(mappings[sw_name])
    return out


def _student_connector(distill: dict) -> None:
    """One shared ``ConvBNConnector`` ``'sc'`` (student -> teacher
    channels) on the student side of every TaT loss of ``distill``, in
    place (see :func:`swtat_variant`)."""
    losses = distill['distill_losses']
    tat = [
        n for n, c in losses.items()
        if str(c['type']).split('.')[-1] in _TAT_TYPES
    ]
    channels = {(losses[n]['student_channels'], losses[n]['teacher_channels'])
                for n in tat}
    if len(channels) != 1:
        raise ValueError('connector=True needs TaT losses of one channel '
                         f'pair, got {sorted(channels)}')
    (cs, ct), = channels
    connectors = distill['connectors'] = distill.get('connectors') or {}
    connectors['sc'] = dict(
        type='mmswtat.ConvBNConnector', in_channels=cs, out_channels=ct)
    for name in tat:
        losses[name]['student_channels'] = ct
        student = distill['loss_forward_mappings'][name]['student']
        if isinstance(student, str):
            student = dict(recorder=student)
        if student.get('connector') is not None:
            raise ValueError(
                f'connector=True: {name} already has a student connector '
                f'({student["connector"]!r})')
        distill['loss_forward_mappings'][name]['student'] = dict(
            student, connector='sc')


_TAT_TYPES = ('SWTaTLoss', 'PatchMergeTaTLoss', 'AnchorTaTLoss', 'TaTLoss')

#: The recipe the shipped VOC / COCO-Stuff configs use, the config
#: generator writes for segmentation pairs and ``make demo`` distils with:
#: the accuracy benchmark's best (docs/accuracy.md, 6 December 2026: CWD on
#: the logits, SW-TaT(head) + CWD and FitNet(head) + CWD within 0.1 mIoU of
#: each other over 5 seeds, at the same cost per step; CWD alone is the
#: simplest: one loss, no connector to train). The configs keep the
#: fragments' weights (CWD 3: CIRKD, measured on the real R101 -> R18 VOC
#: pair); ``benchmark_weights`` (one per component) are the benchmark's
#: best at its 300-iteration schedule, what the demo uses.
SHIPPED_RECIPE = dict(recipe='cwd', benchmark_weights=(9.0, ), knobs={})
