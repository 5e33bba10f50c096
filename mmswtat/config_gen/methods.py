"""The feature losses the generator writes for each feature component.

The methods themselves (names, labels, published weights, comments) are the
table of :mod:`mmswtat.recipes`, shared with the accuracy benchmark; here a
feature component gets a function from the matched maps
(:class:`LossContext`) to ``{loss_name: loss config}``. Every loss gets the
same recorded (and, where channels differ, connected) features; the
generator writes the recorders, connector and mappings. Logit components
(CWD, DIST, KD on dense heads) are their shipped fragments as they are.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

from mmswtat.recipes import (COMPONENTS, FRAGMENTS, canonical_name,
                             components_for)

#: Logit KD for classifiers (Hinton KD, tau^2 applied inside the loss).
KD_LOSS = dict(type='mmswtat.KDLoss', tau=1.0, loss_weight=1.0)


@dataclass
class LossContext:
    """The maps a method's losses are applied to.

    Attributes:
        channels: Channels both sides have when the losses see them (the
            teacher's; a connector lifts the student where they differ).
        windows: ``(window, shift)`` per level.
        multi: Several levels (a neck): one loss module per level.
        weight: Total weight of one map's loss (split over the levels of a
            neck). Dense single maps (segmentation) take the shipped
            fragment's 0.1, chosen by the accuracy benchmark
            (docs/accuracy.md); necks and classifier maps 1.0, as their
            shipped fragments (unmeasured).
    """
    channels: int
    windows: List[Tuple[int, int]]
    multi: bool
    weight: float = 1.0

    @property
    def level_weight(self) -> float:
        """Per-level weight: the levels sum to the weight of one map."""
        return (round(self.weight /
                      len(self.windows), 4) if self.multi else self.weight)

    def common(self) -> dict:
        cfg = dict(
            student_channels=self.channels, teacher_channels=self.channels)
        if self.multi:
            cfg['scale'] = 'auto'
        cfg.update(embed=False, loss_weight=self.level_weight)
        return cfg


def _sw(ctx: LossContext) -> dict:
    cfg = dict(type='mmswtat.SWTaTLoss', **ctx.common())
    if ctx.multi:
        cfg['per_level'] = dict(
            window_size=[w for w, _ in ctx.windows],
            shift_size=[s for _, s in ctx.windows])
    else:
        cfg['window_size'], cfg['shift_size'] = ctx.windows[0]
        # keep the keys in the order of the shipped fragments
        cfg = dict(
            type=cfg.pop('type'),
            student_channels=cfg.pop('student_channels'),
            teacher_channels=cfg.pop('teacher_channels'),
            window_size=cfg.pop('window_size'),
            shift_size=cfg.pop('shift_size'),
            **cfg)
    return cfg


def _pm(ctx: LossContext) -> dict:
    cfg = dict(
        type='mmswtat.PatchMergeTaTLoss',
        student_channels=ctx.channels,
        teacher_channels=ctx.channels)
    if ctx.multi:
        cfg.update(num_merges='auto', max_tokens=1024, scale='auto')
    else:
        cfg.update(num_merges=1)
    cfg.update(embed=False, loss_weight=ctx.level_weight)
    return cfg


def fpn_swtat_loss(channels: int) -> dict:
    """The shipped FPN fragment's SW-TaT loss (``swtat_fpn``: the form
    measured on the FPN, ``normalize='self'``, ``window_size='auto'``, no
    global pass) at ``channels``, read from the fragment file itself."""
    from mmengine.config import Config

    from mmswtat.utils.config_utils import resolve_config_path
    frag = Config.fromfile(resolve_config_path(FRAGMENTS + 'swtat_fpn.py'))
    cfg = frag.swtat_fpn.to_dict()['distill_losses']['loss_swtat']
    cfg.update(student_channels=channels, teacher_channels=channels)
    return cfg


def swtat(ctx: LossContext, with_pm: bool = True) -> Dict[str, dict]:
    """SW-TaT (+ patch merging): the paper's L_SW + L_PM; on a neck, the
    shipped FPN form (:func:`fpn_swtat_loss`, no global pass)."""
    if ctx.multi:
        return dict(loss_swtat=fpn_swtat_loss(ctx.channels))
    losses = dict(loss_swtat=_sw(ctx))
    if with_pm:
        losses['loss_pmtat'] = _pm(ctx)
    return losses


def tat(ctx: LossContext) -> Dict[str, dict]:
    """Global TaT (the original paper): every student position attends to
    every teacher position; memory grows with tokens^2."""
    cfg = dict(type='mmswtat.TaTLoss', **ctx.common())
    return dict(loss_tat=cfg)


def fitnet(ctx: LossContext) -> Dict[str, dict]:
    """FitNet: the mean squared error to the teacher map (behind the same
    connector)."""
    return dict(
        loss_fitnet=dict(
            type='mmswtat.FeatureMSELoss', loss_weight=ctx.level_weight))


#: The generator's feature-loss builders, by the name a component of
#: :data:`mmswtat.recipes.COMPONENTS` gives as its ``builder``.
LOSS_BUILDERS: Dict[str, Callable[[LossContext], Dict[str, dict]]] = dict(
    swtat=swtat,
    swtat_nopm=lambda ctx: swtat(ctx, with_pm=False),
    tat=tat,
    fitnet=fitnet)
#: Components the generator writes, by task (from the method table).
GENERATOR_COMPONENTS = {
    task: components_for(task, 'generator')
    for task in ('seg', 'det', 'cls')
}
#: Every name the generator takes (``--method`` help).
METHODS = tuple(
    dict.fromkeys(n for names in GENERATOR_COMPONENTS.values() for n in names))


def method_losses(name: str, ctx: LossContext, task: str) -> Dict[str, dict]:
    """The feature losses of feature component ``name``.

    Raises:
        ValueError: Not a feature component of the generator.
    """
    comp = COMPONENTS.get(canonical_name(name))
    if comp is None or comp.builder is None:
        raise ValueError(f'unknown feature method {name!r}; choose one of '
                         f'{", ".join(feature_methods())}')
    if comp.builder == 'swtat' and task == 'cls':
        # No patch merging on small classification maps (the window passes
        # already reach most of a 7x7 map), as the shipped cls fragment.
        return swtat(ctx, with_pm=False)
    return LOSS_BUILDERS[comp.builder](ctx)


def feature_methods() -> Tuple[str, ...]:
    """The components the generator builds feature losses for."""
    return tuple(n for n, c in COMPONENTS.items() if c.builder is not None)
