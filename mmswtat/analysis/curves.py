"""Loss and metric curves of training runs (one figure, three panels)."""
from typing import Optional, Sequence, Tuple

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .figures import new_figure
from .scalars import RunLog, select_metrics

CURVE_PANEL = (440, 360)  # px per panel (width, height)


def curves_size() -> Tuple[int, int]:
    """``(width, height)`` in pixels of :func:`draw_curves`."""
    return 3 * CURVE_PANEL[0], CURVE_PANEL[1]


def draw_curves(runs: Sequence[RunLog],
                metrics: Optional[Sequence[str]] = None,
                title: str = '') -> Figure:
    """Task losses, distillation losses and validation metrics over steps.

    Args:
        runs: One or more work dirs (e.g. the distilled and the baseline
            student); with several, legends are prefixed by the run label.
        metrics: Validation metrics to plot (default: the primary metric of
            the codebase first, at most four).
        title: Figure title.

    Returns:
        A figure of :func:`curves_size` pixels.
    """
    fig = new_figure(*curves_size())
    ax_task, ax_distill, ax_val = fig.subplots(
        1,
        3,
        sharex=True,
        gridspec_kw=dict(
            left=0.05,
            right=0.99,
            bottom=0.14,
            top=0.86 if title else 0.9,
            wspace=0.22))
    prefix = len(runs) > 1

    def name(run: RunLog, key: str) -> str:
        return f'{run.label}: {key}' if prefix else key

    def plot(ax, series, label, **kwargs) -> None:
        xs, ys = series
        if len(xs) < 20:  # few points: show them
            kwargs.setdefault('marker', 'o')
            kwargs.setdefault('markersize', 3)
        ax.plot(xs, ys, label=label, **kwargs)

    for run in runs:
        if 'loss' in run.train:
            plot(
                ax_task,
                run.train['loss'],
                name(run, 'loss (total)'),
                linewidth=2)
        for key in run.task_keys:
            plot(ax_task, run.train[key], name(run, key))
        for key in run.distill_keys:
            plot(ax_distill, run.train[key], name(run, key))
        available = list(run.val)
        wanted = [m for m in metrics if m in available] if metrics else None
        for key in select_metrics(available, wanted) if available else []:
            plot(ax_val, run.val[key], name(run, key), marker='o')

    panels = ((ax_task, 'task losses (and the total)', 'no losses logged'),
              (ax_distill, 'distillation losses',
               'no distillation losses\n(not a distillation run, or pass '
               '--distill-keys)'), (ax_val, 'validation', 'no validation yet'))
    for ax, heading, empty in panels:
        ax.set_title(heading, fontsize=10)
        ax.set_xlabel('iteration', fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
        else:
            ax.text(
                0.5,
                0.5,
                empty,
                ha='center',
                va='center',
                transform=ax.transAxes,
                fontsize=9,
                color='gray')
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
