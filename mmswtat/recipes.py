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
from dataclasses import dataclass, field
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

#: Former component names, still accepted on the command lines and in
#: reports (the table had two names for one thing).
FORMER_NAMES = dict(sw='swtat_nopm')


@dataclass(frozen=True)
class Wiring:
    """How a component is wired for one task of the accuracy benchmark.

    Attributes:
        fragment: ``(file, variable)`` of the shipped fragment
            (``configs/_base_/distill``).
        placement: What it distils there, as the labels name it
            (``'layer4'``, ``'head'``, ``'logits'``, ``'FPN'``).
        drop: Losses of the fragment left out (``'loss_pmtat'``: the window
            passes only).
        global_tat: The fragment's SW-TaT loss becomes one global
            ``TaTLoss`` (window keys dropped).
        knobs: The sweep's knob variants, each at the published weight.
        forms: ``--structure-sweep``'s forms, each at every weight factor.
    """
    fragment: Tuple[str, str]
    placement: str
    drop: Tuple[str, ...] = ()
    global_tat: bool = False
    knobs: Tuple[dict, ...] = ()
    forms: Tuple[dict, ...] = ()


@dataclass(frozen=True)
class Component:
    """One distillation method, and where each task applies it.

    Attributes:
        name: Its name in recipes and on every command line (one per
            method, the same in every task).
        method: The method's label without its placement (``'CWD'``);
            :meth:`label` adds the task's.
        kind: ``'feature'`` (a feature map, behind a connector where the
            channels differ) or ``'logit'`` (the classifier's output).
        placement: What the config generator distils: ``'layer4'`` (the
            maps it matches by stride), ``'head'`` (the decode head's last
            feature, before the classifier) or ``'logits'``.
        published: Its published loss weight (the segmentation sweep's
            centre; detection sweeps centre on the fragment's own weight).
        source: Where :attr:`published` comes from.
        comment: One sentence for the generated config.
        shipped: The weight its fragment ships and the config generator
            writes for segmentation, where the accuracy benchmark chose
            another than :attr:`published` (None: the published one).
        tat: A TaT-family loss (takes the TaT knobs).
        tasks: The accuracy benchmark's wiring per task (``'seg'``,
            ``'det'``).
        generator: The tasks the config generator writes it for
            (``'seg'``, ``'det'``, ``'cls'``).
        builder: The generator's feature-loss builder
            (:data:`mmswtat.config_gen.methods.LOSS_BUILDERS`); None for
            logit components (their fragment as it is).
    """
    name: str
    method: str
    kind: str
    placement: str
    published: float
    source: str
    comment: str = ''
    shipped: Optional[float] = None
    tat: bool = False
    tasks: Dict[str, Wiring] = field(default_factory=dict)
    generator: Tuple[str, ...] = ()
    builder: Optional[str] = None

    @property
    def weight(self) -> float:
        """The weight written into configs: :attr:`shipped`, else
        :attr:`published`."""
        return self.published if self.shipped is None else self.shipped

    @property
    def fragment(self) -> Optional[Tuple[str, str]]:
        """The segmentation fragment ``(file, variable)``, or None."""
        seg = self.tasks.get('seg')
        return None if seg is None else seg.fragment

    def label(self, task: str = 'seg', knobs: Optional[dict] = None) -> str:
        """Table label in ``task``: ``'CWD (logits)'``; a ``global_pass``
        knob of a TaT component names the pass it leaves
        (``'SW-TaT, no PM (FPN)'``)."""
        method = self.method
        passes = (knobs or {}).get('global_pass') if self.tat else None
        if passes is not None:
            method = GLOBAL_PASS_LABELS[passes]
        wiring = self.tasks.get(task)
        placement = wiring.placement if wiring else self.placement
        return f'{method} ({placement})'


#: The SW-TaT label by its global pass (``global_pass`` knob).
GLOBAL_PASS_LABELS = dict(
    pm='SW-TaT + PM', anchor='SW-TaT + anchor', none='SW-TaT, no PM')

# ---------------------------------------------------------------- knobs
#: Segmentation SW-TaT knob variants, each tried at the published weight.
SWTAT_KNOBS = (dict(query='student'), dict(embed=True), dict(scale='auto'),
               dict(normalize='channel'), dict(normalize='teacher_rms'))
#: Segmentation SW-TaT's structure (``--structure-sweep``): the global pass
#: x the window (shift half of it), each crossed with every weight. The
#: fragment's own structure (patch merging, the benchmark's window 4) is
#: the knob-free row.
SWTAT_STRUCTURE = tuple(
    dict(global_pass=g, window_size=w) for g in ('pm', 'anchor', 'none')
    for w in (1, 2, 4) if (g, w) != ('pm', 4))
#: FPN windows that act on more levels at 128 px (P3..P7: 16, 8, 4, 2, 1
#: tokens a side): two or more windows a side on P3, P4 and P5 (the stock
#: fragment's 8x8 windows cover P4 whole, so only P3 has real windows).
SMALL_WINDOWS = dict(
    per_level=dict(window_size=[4, 4, 2, 1, 1], shift_size=[2, 2, 1, 0, 0]))
#: The FPN SW-TaT maps standardised per channel with the teacher's
#: statistics (``normalize='channel'``) on P3-P6 (P7 is 1x1 at 128 px: no
#: channel variance, refused).
CHANNEL_NORMALIZED = dict(
    per_level=dict(
        normalize=['channel', 'channel', 'channel', 'channel', 'none']))
#: The FPN SW-TaT knob variants of the sweep, each at the published weight:
#: the small windows, the paper's plain inner product (``scale=1.0``)
#: instead of the fragment's ``'auto'``, the channel-standardised maps and
#: learned query/key/value embeddings per level (``embed=True``; FitNet's
#: learned regressor helped here).
FPN_SWTAT_KNOBS = (dict(SMALL_WINDOWS), dict(scale=1.0),
                   dict(CHANNEL_NORMALIZED), dict(embed=True))
#: The FPN SW-TaT forms of the structure sweep, each crossed with every
#: weight factor: what every working FPN peer has (PKD's
#: self-standardisation, FitNet's learned connector), windows that stay
#: windows on every level (``'auto'``), and the global pass per level
#: (``'pm'``; at 128 px ``'anchor'``'s automatic pooling is 1 on every
#: level, the same full-resolution global TaT as PM merging nothing, so it
#: is not a separate form here); window 1 without a global pass is the
#: FitNet end of the window continuum.
FPN_SWTAT_FORMS = (
    dict(normalize='self', window_size='auto', global_pass='none'),
    dict(normalize='self', window_size='auto', global_pass='pm'),
    dict(
        normalize='self',
        window_size='auto',
        global_pass='none',
        connector=True),
    dict(window_size='auto', global_pass='none', connector=True),
    dict(normalize='self', window_size=1, global_pass='none'),
)

# ---------------------------------------------------------------- table
#: The detection fragments: the paper's raw form (``swtat_fpn_paper``; the
#: shipped ``swtat_fpn`` is it with normalize='self', window_size='auto',
#: global_pass='none', as the reports name it) and the peers.
SWTAT_FPN = ('swtat_fpn.py', 'swtat_fpn_paper')
ALL_TASKS = ('seg', 'det', 'cls')

COMPONENTS: Dict[str, Component] = {
    c.name: c
    for c in (
        Component(
            'swtat',
            'SW-TaT + PM',
            'feature',
            'layer4',
            0.1,
            OLD_WEIGHT,
            'SW-TaT: window passes (plain and shifted by half a window) '
            'plus a patch-merging pass (2x2 space-to-depth, then a global '
            "TaT on the coarse tokens), the paper's L_SW + L_PM.",
            tat=True,
            tasks=dict(
                seg=Wiring(
                    SWTAT_LAYER4,
                    'layer4',
                    knobs=SWTAT_KNOBS,
                    forms=SWTAT_STRUCTURE),
                det=Wiring(
                    SWTAT_FPN,
                    'FPN',
                    knobs=FPN_SWTAT_KNOBS,
                    forms=FPN_SWTAT_FORMS)),
            generator=ALL_TASKS,
            builder='swtat'),
        Component(
            'swtat_head',
            'SW-TaT + PM',
            'feature',
            'head',
            1.0,
            OFFICIAL_WEIGHT,
            "SW-TaT + PM on the decode head's last feature (before the "
            'classifier), where the official TaT-seg code distils.',
            shipped=0.1,
            tat=True,
            tasks=dict(
                seg=Wiring(
                    SWTAT_HEAD,
                    'head',
                    knobs=(dict(preact=True), ),
                    forms=SWTAT_STRUCTURE)),
            generator=('seg', ),
            builder='swtat'),
        Component(
            'swtat_nopm',
            'SW-TaT, no PM',
            'feature',
            'layer4',
            0.1,
            OLD_WEIGHT,
            'SW-TaT window passes only (no patch-merging term).',
            tat=True,
            tasks=dict(
                seg=Wiring(SWTAT_LAYER4, 'layer4', drop=('loss_pmtat', )),
                det=Wiring(
                    SWTAT_FPN,
                    'FPN',
                    drop=('loss_pmtat', ),
                    knobs=(dict(SMALL_WINDOWS), ))),
            generator=ALL_TASKS,
            builder='swtat_nopm'),
        Component(
            'tat',
            'global TaT',
            'feature',
            'layer4',
            0.1,
            OLD_WEIGHT,
            'Global TaT (one window covering each map).',
            tat=True,
            tasks=dict(
                seg=Wiring(
                    SWTAT_LAYER4,
                    'layer4',
                    drop=('loss_pmtat', ),
                    global_tat=True)),
            generator=ALL_TASKS,
            builder='tat'),
        Component(
            'fitnet',
            'FitNet',
            'feature',
            'layer4',
            1.0,
            'CIRKD FitNet, this pair',
            'FitNet: MSE between the connected student map and the '
            'teacher map.',
            tasks=dict(
                seg=Wiring(('fitnet_layer4_r101_to_r18.py',
                            'fitnet_layer4'), 'layer4'),
                det=Wiring(('fitnet_fpn.py', 'fitnet_fpn'), 'FPN')),
            generator=ALL_TASKS,
            builder='fitnet'),
        Component(
            'fitnet_head',
            'FitNet',
            'feature',
            'head',
            1.0,
            'CIRKD FitNet, this pair',
            "FitNet on the decode head's last feature, through the same "
            'connector as swtat_head (SW-TaT with the attention removed).',
            shipped=3.0,
            tasks=dict(
                seg=Wiring(('fitnet_head_r101_to_r18.py',
                            'fitnet_head'), 'head')),
            generator=('seg', ),
            builder='fitnet'),
        Component(
            'pkd',
            'PKD',
            'feature',
            'FPN',
            6.0,
            'MMRazor PKD, Faster R-CNN R101 -> R50',
            'PKD: MSE between the maps each standardised per channel with '
            'its own statistics.',
            tasks=dict(det=Wiring(('pkd_fpn.py', 'pkd_fpn'), 'FPN'))),
        Component(
            'cwd',
            'CWD',
            'logit',
            'logits',
            3.0,
            'CIRKD, this pair (tau 4)',
            'Channel-wise distillation of the logits (Shu et al.): each '
            'class map a distribution over pixels, tau 4.',
            tasks=dict(
                seg=Wiring(('cwd_logits_r101_to_r18.py',
                            'cwd_logits'), 'logits'),
                det=Wiring(('cwd_fpn.py', 'cwd_fpn'), 'FPN')),
            generator=('seg', )),
        Component(
            'dist',
            'DIST',
            'logit',
            'logits',
            1.0,
            'official DIST_KD segmentation code',
            'DIST: inter- and intra-class Pearson correlation of the '
            'logits.',
            tasks=dict(
                seg=Wiring(('dist_logits_r101_to_r18.py',
                            'dist_logits'), 'logits')),
            generator=('seg', )),
        Component(
            'kd',
            'KD',
            'logit',
            'logits',
            1.0,
            'CIRKD, this pair (tau 1)',
            'Hinton KD on the logits (per pixel for dense heads).',
            tasks=dict(
                seg=Wiring(('kd_logits_r101_to_r18.py',
                            'kd_logits'), 'logits')),
            generator=('seg', 'cls')),
    )
}

#: The accuracy benchmark's default table per task: single methods, then
#: recipes.
DEFAULT_METHODS = dict(
    seg=('none', 'swtat', 'swtat_head', 'swtat_head+cwd', 'swtat+cwd',
         'swtat+kd', 'cwd', 'dist', 'kd', 'fitnet', 'fitnet+cwd'),
    det=('none', 'swtat', 'swtat_nopm', 'pkd', 'cwd', 'fitnet'))


def components_for(task: str, use: str = 'bench') -> Tuple[str, ...]:
    """The component names wired for ``task``.

    Args:
        task: ``'seg'``, ``'det'`` or ``'cls'``.
        use: ``'bench'`` (the accuracy benchmark: :attr:`Component.tasks`)
            or ``'generator'`` (:attr:`Component.generator`).
    """
    if use == 'generator':
        return tuple(n for n, c in COMPONENTS.items() if task in c.generator)
    return tuple(n for n, c in COMPONENTS.items() if task in c.tasks)


def sweep_variants(task: str, kind: str) -> Dict[str, Tuple[dict, ...]]:
    """``{component: variants}`` of the components wired for ``task`` that
    have some: ``kind='knobs'`` (the sweep's knob variants) or ``'forms'``
    (``--structure-sweep``'s forms)."""
    wirings = {n: COMPONENTS[n].tasks[task] for n in components_for(task)}
    return {
        n: getattr(w, kind)
        for n, w in wirings.items() if getattr(w, kind)
    }


def canonical_name(name: str) -> str:
    """A component or recipe with its former names replaced
    (``'sw+cwd'`` -> ``'swtat_nopm+cwd'``)."""
    return '+'.join(FORMER_NAMES.get(n, n) for n in str(name).split('+'))


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
    names = canonical_name(recipe).split('+')
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


def recipe_label(recipe: str,
                 task: str = 'seg',
                 knobs: Optional[dict] = None) -> str:
    """Table label of a recipe in ``task`` (``'SW-TaT + PM (head) + CWD
    (logits)'``; :meth:`Component.label`)."""
    if recipe == 'none':
        return 'no distillation'
    return ' + '.join(c.label(task, knobs) for c in parse_recipe(recipe))


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
