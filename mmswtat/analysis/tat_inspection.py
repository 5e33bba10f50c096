"""What a TaT-type loss computes, position by position.

:func:`inspect_tat_loss` runs a loss on one pair of feature maps and returns,
for every pass, the per-position error map (``loss.error_maps``), the
student's reconstruction of the teacher map, and the pass loss.
:func:`query_attention` gives the attention weights of one query over the
keys of its window, with the attention mask. Both use the loss's own
``project`` (embeddings), its own pass description (``loss.pass_layouts``)
and the window gather and attention that training runs, so they show exactly
what the loss trains.
"""
from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np
import torch
from torch import Tensor

from mmswtat.models.losses import BaseTaTLoss
from mmswtat.models.ops import (PassLayout, channel_first_attention,
                                resolve_scale, window_attention_mask)
from .passes import from_windows, locate, to_windows, window_positions


@dataclass
class PassInspection:
    """One pass of a loss on one batch.

    Attributes:
        layout: The pass geometry.
        error_map: ``(B, H', W')`` squared error per position, from
            ``loss.error_maps`` (``H' x W'`` is the merged grid for the
            patch-merging pass, else the teacher map).
        channels: Channels the error sums over (``C * 4**merges``).
        loss: ``sum(error_map) / (B * channels * H' * W')``, the pass loss
            before ``loss_weight``.
        tokens: ``(B, channels, H', W')`` the attention output (the
            student's reconstruction of the teacher map) on the pass grid;
            ``error_map`` is ``sum_c (tokens - merged target)^2``.
        reconstruction: ``tokens`` back on the ``(B, C_t, H, W)`` teacher
            grid (merged tokens split into their cells).
    """
    layout: PassLayout
    error_map: Tensor
    channels: int
    loss: float
    tokens: Tensor
    reconstruction: Tensor


@dataclass
class TaTInspection:
    """A loss on one batch: projected maps and every pass.

    Attributes:
        query, key, value, target: ``(B, C_t, H, W)`` from ``loss.project``.
        passes: ``{pass name: PassInspection}`` in the loss's order.
        total: The loss as ``loss(student, teacher)`` returns it: the mean
            of the pass losses times ``loss_weight``.
    """
    query: Tensor
    key: Tensor
    value: Tensor
    target: Tensor
    passes: Dict[str, PassInspection] = field(default_factory=dict)
    total: float = 0.0


@dataclass
class QueryAttention:
    """Attention of one query over the keys of its window.

    Attributes:
        layout: The pass.
        query_yx: The query on the teacher map.
        query_cell: The query's token on the pass grid, ``(row, col)``.
        weights: ``(heads, wh, ww)`` softmax weights (0 on masked keys).
        allowed: ``(wh, ww)`` bool, False where the mask hides the key.
        real: ``(wh, ww)`` bool, False on padding.
        rows, cols: ``(wh, ww)`` grid coordinates of the keys on the pass
            grid (unshifted; a wrapped window shows keys from both edges).
        logits: ``(heads, wh, ww)`` scaled logits before masking.
    """
    layout: PassLayout
    query_yx: Tuple[int, int]
    query_cell: Tuple[int, int]
    weights: np.ndarray
    allowed: np.ndarray
    real: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    logits: np.ndarray


def _attend(loss: BaseTaTLoss, layout: PassLayout, q: Tensor, k: Tensor,
            v: Tensor) -> Tensor:
    """Attention output in windows, ``(B * heads, nW, d, L)``."""
    qw, kw, vw = (to_windows(x, layout, loss.num_heads) for x in (q, k, v))
    return channel_first_attention(qw, kw, vw, layout.geom, loss.scale,
                                   loss.attn_impl)


@torch.no_grad()
def inspect_tat_loss(loss: BaseTaTLoss, student: Tensor,
                     teacher: Tensor) -> TaTInspection:
    """Run ``loss`` on one pair of maps and keep everything per position.

    Args:
        loss: A TaT-type loss (its current train/eval mode is used; put it in
            ``eval()`` to use the embeddings' running statistics).
        student: ``(B, C_s, H_s, W_s)``.
        teacher: ``(B, C_t, H, W)``.

    Returns:
        A :class:`TaTInspection`.
    """
    with torch.autocast(student.device.type, enabled=False):
        q, k, v, t = loss.project(student, teacher)
        maps = {name: err for name, err, _ in loss.passes(q, k, v, t, 'map')}
        layouts = loss.pass_layouts(*t.shape[-2:])
        if [lay.name for lay in layouts] != list(maps):
            raise RuntimeError(
                f'{type(loss).__name__}.passes returned passes {list(maps)} '
                f'but its pass_layouts describe '
                f'{[lay.name for lay in layouts]}; make pass_layouts '
                'describe the passes the loss runs')
        out = TaTInspection(q, k, v, t)
        # what the passes attend over (AnchorTaTLoss: the pooled anchors)
        pq, pk, pv, _ = loss.pass_inputs(q, k, v, t)
        for layout in layouts:
            err = maps[layout.name].detach()
            channels = t.shape[1] * layout.cell**2
            windows = _attend(loss, layout, pq, pk, pv)
            batch = t.shape[0]
            out.passes[layout.name] = PassInspection(
                layout=layout,
                error_map=err,
                channels=channels,
                loss=float(err.sum() / (err.numel() * channels)),
                tokens=from_windows(windows, layout, batch, unmerge=False),
                reconstruction=from_windows(windows, layout, batch))
        losses = [p.loss for p in out.passes.values()]
        out.total = float(loss.loss_weight) * sum(losses) / len(losses)
    return out


@torch.no_grad()
def query_attention(loss: BaseTaTLoss,
                    inspection: TaTInspection,
                    pass_name: str,
                    y: int,
                    x: int,
                    batch_index: int = 0) -> QueryAttention:
    """Attention weights of the query at teacher-map position ``(y, x)``.

    Args:
        loss: The loss that made ``inspection`` (for heads and scale).
        inspection: From :func:`inspect_tat_loss`.
        pass_name: One of ``inspection.passes``.
        y: Query row on the teacher map.
        x: Query column on it.
        batch_index: Sample of the batch.

    Returns:
        A :class:`QueryAttention`; the weights reproduce the pass's
        reconstruction at ``(y, x)`` (``weights @ values``).
    """
    if pass_name not in inspection.passes:
        raise KeyError(f'no pass {pass_name!r}; the loss has '
                       f'{list(inspection.passes)}')
    layout = inspection.passes[pass_name].layout
    window, token = locate(layout, y, x)
    heads = loss.num_heads
    rows = slice(batch_index * heads, (batch_index + 1) * heads)
    qw = to_windows(inspection.query, layout, heads)[rows, window, :, token]
    kw = to_windows(inspection.key, layout, heads)[rows, window]
    # qw (heads, d), kw (heads, d, L)
    scale = resolve_scale(loss.scale)
    if scale is None:
        scale = qw.shape[-1]**-0.5
    logits = torch.einsum('hd,hdl->hl', qw, kw) * scale
    mask = window_attention_mask(layout.geom, qw.device)
    allowed = (
        torch.ones(logits.shape[-1], dtype=torch.bool, device=qw.device)
        if mask is None else mask[window, 0, token])
    weights = logits.masked_fill(~allowed, float('-inf')).softmax(-1)
    geom = layout.geom
    shape = (heads, geom.wh, geom.ww)
    key_rows, key_cols, real = window_positions(layout, window)
    return QueryAttention(
        layout=layout,
        query_yx=(y, x),
        query_cell=(y >> layout.merges, x >> layout.merges),
        weights=weights.reshape(shape).cpu().numpy(),
        allowed=allowed.reshape(shape[1:]).cpu().numpy(),
        real=real,
        rows=key_rows,
        cols=key_cols,
        logits=logits.reshape(shape).cpu().numpy())
