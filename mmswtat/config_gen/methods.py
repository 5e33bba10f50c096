"""The distillation methods the generator can write, and logit KD.

Add a method by adding an entry to ``METHODS``: a function from the matched
maps (:class:`LossContext`) to ``{loss_name: loss config}`` plus a comment.
Every loss gets the same recorded (and, where channels differ, connected)
features; the generator writes the recorders, connector and mappings.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

#: Logit KD for classifiers (Hinton KD, tau^2 applied inside the loss).
KD_LOSS = dict(type='mmswtat.KLDivLoss', tau=1.0, loss_weight=1.0)


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
        return (round(self.weight / len(self.windows), 4)
                if self.multi else self.weight)

    def common(self) -> dict:
        cfg = dict(student_channels=self.channels,
                   teacher_channels=self.channels)
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
        cfg = dict(type=cfg.pop('type'),
                   student_channels=cfg.pop('student_channels'),
                   teacher_channels=cfg.pop('teacher_channels'),
                   window_size=cfg.pop('window_size'),
                   shift_size=cfg.pop('shift_size'), **cfg)
    return cfg


def _pm(ctx: LossContext) -> dict:
    cfg = dict(type='mmswtat.PatchMergeTaTLoss',
               student_channels=ctx.channels, teacher_channels=ctx.channels)
    if ctx.multi:
        cfg.update(num_merges='auto', max_tokens=1024, scale='auto')
    else:
        cfg.update(num_merges=1)
    cfg.update(embed=False, loss_weight=ctx.level_weight)
    return cfg


def swtat(ctx: LossContext, with_pm: bool = True) -> Dict[str, dict]:
    """SW-TaT (+ patch merging): the paper's L_SW + L_PM."""
    losses = dict(loss_swtat=_sw(ctx))
    if with_pm:
        losses['loss_pmtat'] = _pm(ctx)
    return losses


def tat(ctx: LossContext) -> Dict[str, dict]:
    """Global TaT (the original paper): every student position attends to
    every teacher position; memory grows with tokens^2."""
    cfg = dict(type='mmswtat.TaTLoss', **ctx.common())
    return dict(loss_tat=cfg)


@dataclass
class Method:
    """One ``--method`` choice."""
    losses: Callable[[LossContext], Dict[str, dict]]
    comment: str


METHODS: Dict[str, Method] = {
    'swtat':
    Method(
        swtat, 'SW-TaT: window passes (plain and shifted by half a window) '
        'plus a patch-merging pass (2x2 space-to-depth, then a global TaT '
        'on the coarse tokens), the paper\'s L_SW + L_PM.'),
    'sw':
    Method(
        lambda ctx: swtat(ctx, with_pm=False),
        'SW-TaT window passes only (no patch-merging term).'),
    'tat':
    Method(tat, 'Global TaT (one window covering each map).'),
}


def method_losses(name: str, ctx: LossContext, task: str) -> Dict[str, dict]:
    """The feature losses of method ``name``.

    Raises:
        ValueError: Unknown method, listing the known ones.
    """
    if name not in METHODS:
        raise ValueError(f'unknown method {name!r}; choose one of '
                         f'{", ".join(METHODS)}')
    if name == 'swtat' and task == 'cls':
        # No patch merging on small classification maps (the window passes
        # already reach most of a 7x7 map), as the shipped cls fragment.
        return swtat(ctx, with_pm=False)
    return METHODS[name].losses(ctx)
