"""Matplotlib figures of what a TaT-type loss does (Agg canvas, no pyplot).

Every figure has a fixed pixel size (see the ``*_SIZE`` helpers) so that
pictures of different runs line up; each ``draw_*`` returns a
:class:`~matplotlib.figure.Figure` to be written with :func:`save_figure`.
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from mmswtat.models.ops import PassLayout
from .passes import boundaries
from .tat_inspection import QueryAttention

DPI = 100
PANEL = 300  # px, one square picture panel
TITLE = 40  # px, room for a figure title
OVERLAY_MIN_SIDE = 512  # px, small inputs are upscaled (nearest) to this

_PASS_STYLE = {
    'plain': dict(color='deepskyblue', linestyle='-', linewidth=1.6),
    'shifted': dict(color='orange', linestyle='--', linewidth=1.6),
    'merged': dict(color='lime', linestyle=':', linewidth=1.0),
    'global': dict(color='deepskyblue', linestyle='-', linewidth=1.6),
}


def new_figure(width: int, height: int) -> Figure:
    """A figure of exactly ``width x height`` pixels on an Agg canvas."""
    fig = Figure(
        figsize=((width + 1e-3) / DPI, (height + 1e-3) / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str) -> str:
    """Write ``fig`` as a PNG (creating the folder); return ``path``."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=DPI, format='png')
    return path


def _style(layout: PassLayout) -> dict:
    return dict(_PASS_STYLE.get(layout.name, _PASS_STYLE['plain']))


def _describe(layout: PassLayout) -> str:
    g = layout.geom
    h, w = layout.grid
    if layout.name == 'merged' and layout.merges:
        return (f'{h}x{w} merged tokens ({layout.merges} merge(s) of 2x2), '
                'global attention')
    if not layout.windowed:
        return f'global attention over all {h}x{w} tokens'
    text = f'{layout.name} {g.wh}x{g.ww} windows'
    if g.shifted:
        text += f', shift ({g.sh},{g.sw})'
    return text


# ---------------------------------------------------------------- overlay
def overlay_size(image_hw: Tuple[int, int]) -> Tuple[int, int]:
    """``(width, height)`` in pixels of :func:`draw_window_overlay`."""
    h, w = image_hw
    s = max(1, OVERLAY_MIN_SIDE // max(h, w))
    return w * s, h * s


def draw_window_overlay(image: np.ndarray,
                        layouts: Sequence[PassLayout],
                        title: str = '',
                        query: Optional[Tuple[int, int]] = None) -> Figure:
    """The model input with the window grid of every pass drawn on it.

    Args:
        image: ``(H_in, W_in, 3)`` uint8 RGB, the (padded) input the model
            saw; the feature map is assumed to cover it evenly (stride
            ``H_in / H``).
        layouts: The passes of one loss on its ``H x W`` teacher map.
        title: Text at the top.
        query: Optional ``(y, x)`` feature cell to mark with a star.

    Returns:
        A figure of :func:`overlay_size` pixels (the image, upscaled by an
        integer factor when small).
    """
    h_in, w_in = image.shape[:2]
    fig = new_figure(*overlay_size((h_in, w_in)))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(image, extent=(0, w_in, h_in, 0), interpolation='nearest')
    ax.set_xlim(0, w_in)
    ax.set_ylim(h_in, 0)
    ax.set_axis_off()
    handles = []
    for layout in layouts:
        height, width = layout.sizes[0]
        sy, sx = h_in / height, w_in / width
        rows, cols = boundaries(layout)
        style = _style(layout)
        for r in rows:
            ax.plot([0, width * sx], [r * sy, r * sy], **style)
        for c in cols:
            ax.plot([c * sx, c * sx], [0, height * sy], **style)
        handles.append(Line2D([], [], label=_describe(layout), **style))
    if query is not None and layouts:
        height, width = layouts[0].sizes[0]
        sy, sx = h_in / height, w_in / width
        ax.plot([(query[1] + 0.5) * sx], [(query[0] + 0.5) * sy],
                marker='*',
                markersize=14,
                color='red',
                markeredgecolor='white',
                linestyle='none')
        handles.append(
            Line2D([], [],
                   marker='*',
                   color='red',
                   linestyle='none',
                   label=f'query {query}'))
    if handles:
        ax.legend(
            handles=handles, loc='lower right', fontsize=8, framealpha=0.7)
    if title:
        ax.text(
            0.01,
            0.99,
            title,
            transform=ax.transAxes,
            va='top',
            fontsize=9,
            color='black',
            bbox=dict(facecolor='white', alpha=0.75, linewidth=0))
    return fig


# --------------------------------------------------------------- features
def features_size(num_passes: int) -> Tuple[int, int]:
    """``(width, height)`` in pixels of :func:`draw_features`."""
    return (1 + num_passes) * PANEL, 2 * PANEL + TITLE


def draw_features(teacher_rgb: np.ndarray,
                  recon_rgb: Dict[str, np.ndarray],
                  teacher_norm: np.ndarray,
                  recon_norm: Dict[str, np.ndarray],
                  title: str = '') -> Figure:
    """Teacher map beside the student's reconstruction of it, per pass.

    Top row: PCA colours (one basis, fitted on the teacher); bottom row:
    channel norm on one colour scale.

    Args:
        teacher_rgb: ``(H, W, 3)`` in ``[0, 1]``.
        recon_rgb: ``{pass: (H, W, 3)}``.
        teacher_norm: ``(H, W)``.
        recon_norm: ``{pass: (H, W)}``.
        title: Figure title.
    """
    n = len(recon_rgb)
    fig = new_figure(*features_size(n))
    top = 1 - TITLE / features_size(n)[1]
    axes = fig.subplots(
        2,
        1 + n,
        squeeze=False,
        gridspec_kw=dict(
            left=0.02,
            right=0.98,
            bottom=0.03,
            top=top - 0.04,
            wspace=0.08,
            hspace=0.12))
    vmax = max([float(teacher_norm.max())] +
               [float(v.max()) for v in recon_norm.values()]) or 1.0
    names = ['teacher'] + [f'reconstruction ({k})' for k in recon_rgb]
    rgbs = [teacher_rgb] + list(recon_rgb.values())
    norms = [teacher_norm] + list(recon_norm.values())
    for j, (name, rgb, norm) in enumerate(zip(names, rgbs, norms)):
        axes[0, j].imshow(rgb, interpolation='nearest')
        axes[0, j].set_title(f'{name}\nPCA to RGB', fontsize=9)
        axes[1, j].imshow(
            norm, cmap='magma', vmin=0, vmax=vmax, interpolation='nearest')
        axes[1, j].set_title('channel L2 norm', fontsize=9)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# -------------------------------------------------------------- loss maps
def loss_maps_size(num_passes: int) -> Tuple[int, int]:
    """``(width, height)`` in pixels of :func:`draw_loss_maps`."""
    return num_passes * (PANEL + 90), PANEL + TITLE + 20


def draw_loss_maps(maps: Dict[str, np.ndarray],
                   losses: Dict[str, float],
                   layouts: Dict[str, PassLayout],
                   title: str = '') -> Figure:
    """Heat map of the per-position squared error of each pass.

    Args:
        maps: ``{pass: (H', W')}``, one sample's error map.
        losses: ``{pass: loss}`` shown in the panel titles.
        layouts: ``{pass: layout}``; window borders are drawn on top.
        title: Figure title.
    """
    n = len(maps)
    width, height = loss_maps_size(n)
    fig = new_figure(width, height)
    axes = fig.subplots(
        1,
        n,
        squeeze=False,
        gridspec_kw=dict(
            left=0.03,
            right=0.9,
            bottom=0.04,
            top=1 - (TITLE + 20) / height,
            wspace=0.3))[0]
    # One colour scale for passes on the same grid, so they compare.
    by_shape: Dict[tuple, float] = {}
    for m in maps.values():
        by_shape[m.shape] = max(by_shape.get(m.shape, 0.0), float(m.max()))
    for ax, (name, m) in zip(axes, maps.items()):
        im = ax.imshow(
            m,
            cmap='inferno',
            vmin=0,
            vmax=by_shape[m.shape] or 1.0,
            interpolation='nearest')
        layout = layouts.get(name)
        if layout is not None and layout.merges == 0:
            rows, cols = boundaries(layout)
            style = _style(layout)
            for r in rows:
                ax.axhline(r - 0.5, **style)
            for c in cols:
                ax.axvline(c - 0.5, **style)
        ax.set_title(
            f'{name}: loss {losses.get(name, float("nan")):.4g}\n'
            f'{m.shape[0]}x{m.shape[1]} positions',
            fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# -------------------------------------------------------------- attention
def attention_size() -> Tuple[int, int]:
    """``(width, height)`` in pixels of :func:`draw_query_attention`."""
    return 2 * PANEL + 160, PANEL + TITLE + 40


def draw_query_attention(att: QueryAttention,
                         background: Optional[np.ndarray] = None,
                         head: Optional[int] = None,
                         title: str = '') -> Figure:
    """One query's attention over its window, with the mask visible.

    Left: the window as the pass sees it (after the shift), keys coloured by
    weight; masked keys grey with a red cross, padding hatched; tick labels
    give each key's row/column on the map (a wrapped shifted window jumps
    from the last rows to the first). Right: the same weights where the keys
    lie on the map, over a grey picture of the teacher (channel norm).

    Args:
        att: From :func:`~mmswtat.analysis.query_attention`.
        background: ``(H_m, W_m)`` map on the pass grid, or None.
        head: Head to show; None averages the heads.
        title: Figure title.
    """
    weights = att.weights.mean(0) if head is None else att.weights[head]
    heads = att.weights.shape[0]
    width, height = attention_size()
    fig = new_figure(width, height)
    axes = fig.subplots(
        1,
        2,
        gridspec_kw=dict(
            left=0.05,
            right=0.84,
            bottom=0.15,
            top=1 - (TITLE + 40) / height,
            wspace=0.2))
    vmax = float(weights.max()) or 1.0
    hidden = ~att.allowed & att.real
    qy, qx = att.query_cell

    # Window view.
    ax = axes[0]
    shown = np.ma.masked_where(~att.allowed | ~att.real, weights)
    cmap = _cmap_with_bad('viridis', 'lightgray')
    im = ax.imshow(
        shown, cmap=cmap, vmin=0, vmax=vmax, interpolation='nearest')
    ys, xs = np.nonzero(hidden)
    ax.scatter(xs, ys, marker='x', color='red', s=_marker(att.rows.shape))
    for y, x in zip(*np.nonzero(~att.real)):
        ax.add_patch(
            Rectangle((x - 0.5, y - 0.5),
                      1,
                      1,
                      fill=False,
                      hatch='///',
                      edgecolor='dimgray',
                      linewidth=0))
    wy, wx = np.nonzero((att.rows == qy) & (att.cols == qx))
    ax.scatter(
        wx,
        wy,
        marker='*',
        color='white',
        edgecolor='black',
        s=2 * _marker(att.rows.shape))
    if att.rows.shape[0] <= 16:
        ax.set_yticks(range(att.rows.shape[0]))
        ax.set_yticklabels(att.rows[:, 0], fontsize=7)
    else:
        ax.set_yticks([])
    if att.cols.shape[1] <= 16:
        ax.set_xticks(range(att.cols.shape[1]))
        ax.set_xticklabels(att.cols[0], fontsize=7)
    else:
        ax.set_xticks([])
    ax.set_title('window (as attended)\nticks: map row / column', fontsize=9)

    # Map view.
    ax = axes[1]
    grid_h, grid_w = att.layout.grid
    if background is not None:
        ax.imshow(background, cmap='gray', interpolation='nearest')
    else:
        ax.imshow(np.zeros((grid_h, grid_w)), cmap='gray', vmin=0, vmax=1)
    canvas = np.full((grid_h, grid_w), np.nan)
    keep = att.allowed & att.real
    canvas[att.rows[keep], att.cols[keep]] = weights[keep]
    ax.imshow(
        np.ma.masked_invalid(canvas),
        cmap='viridis',
        vmin=0,
        vmax=vmax,
        interpolation='nearest',
        alpha=0.9)
    ax.scatter(
        att.cols[hidden],
        att.rows[hidden],
        marker='x',
        color='red',
        s=_marker((grid_h, grid_w)))
    ax.scatter([qx], [qy],
               marker='*',
               color='white',
               edgecolor='black',
               s=2 * _marker((grid_h, grid_w)))
    ax.set_xlim(-0.5, grid_w - 0.5)
    ax.set_ylim(grid_h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f'on the {grid_h}x{grid_w} map', fontsize=9)
    cax = fig.add_axes([0.86, 0.15, 0.02, 0.64])
    fig.colorbar(im, cax=cax, label='attention weight')
    fig.legend(
        handles=[
            (Patch(facecolor='lightgray'),
             Line2D([], [], marker='x', color='red', linestyle='none')),
            Patch(facecolor='white', hatch='///', edgecolor='dimgray'),
            Line2D([], [],
                   marker='*',
                   color='white',
                   markeredgecolor='black',
                   linestyle='none'),
        ],
        labels=['masked key', 'padding', 'query'],
        loc='lower center',
        ncol=3,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.45, 0.0))
    which = f'head {head}' if head is not None else (
        f'mean of {heads} heads' if heads > 1 else '1 head')
    n_keys = int(att.real.sum())
    fig.suptitle(
        (title + '\n' if title else '') +
        f'{att.layout.name} pass, query {att.query_yx}: {n_keys} keys, '
        f'{int(hidden.sum())} masked, {which}',
        fontsize=10)
    return fig


def _cmap_with_bad(name: str, bad: str):
    from matplotlib import colormaps
    return colormaps[name].with_extremes(bad=bad)


def _marker(shape: Tuple[int, int]) -> float:
    """Marker area (pt^2) that fits one cell of a grid in a panel."""
    cell_pt = 0.8 * PANEL * 72 / DPI / max(shape)
    return float(np.clip(0.4 * cell_pt**2, 4, 200))
