"""The pictures and arrays of one distillation loss on one image.

The library side of ``tools/analysis/visualize_distill.py``:
:func:`write_loss_report` inspects a TaT-type loss on the features it
receives (:func:`~.tat_inspection.inspect_tat_loss`) and writes, into one
folder, ``windows.png``, ``features.png``, ``loss_maps.png``,
``attention_<pass>.png`` and ``maps.npz``.
"""
import os
import os.path as osp
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from mmswtat.models.losses import BaseTaTLoss
from mmswtat.models.ops import patch_merge
from .features import channel_norm, pca_rgb
from .figures import (draw_features, draw_loss_maps, draw_query_attention,
                      draw_window_overlay, save_figure)
from .tat_inspection import inspect_tat_loss, query_attention

Pair = Tuple[int, int]


def query_cell(feat_hw: Pair,
               input_hw: Pair,
               folder: str,
               query: Optional[Pair] = None,
               query_px: Optional[Pair] = None) -> Pair:
    """The teacher feature-map cell to show the attention of.

    Args:
        feat_hw: Teacher map ``(h, w)``.
        input_hw: Model input ``(H_in, W_in)``.
        folder: The loss (for messages).
        query: A cell ``(y, x)`` on the teacher map.
        query_px: An input pixel ``(y, x)``, mapped to its cell.

    Returns:
        ``(y, x)`` on the teacher map; the centre when neither is given.

    Raises:
        ValueError: The query lies outside the map or the input.
    """
    h, w = feat_hw
    if query_px is not None:
        py, px = query_px
        if not (0 <= py < input_hw[0] and 0 <= px < input_hw[1]):
            raise ValueError(f'--query-px {query_px} is outside the '
                             f'{input_hw[0]}x{input_hw[1]} model input')
        return py * h // input_hw[0], px * w // input_hw[1]
    if query is not None:
        y, x = query
        if not (0 <= y < h and 0 <= x < w):
            raise ValueError(
                f'--query {query} is outside the {h}x{w} teacher map of '
                f'{folder}; use 0 <= Y < {h}, 0 <= X < {w} (or --query-px '
                'in input pixels)')
        return y, x
    return h // 2, w // 2


def write_loss_report(loss: BaseTaTLoss,
                      student: Tensor,
                      teacher: Tensor,
                      picture: np.ndarray,
                      out_dir: str,
                      folder: str,
                      query: Optional[Pair] = None,
                      query_px: Optional[Pair] = None,
                      head: Optional[int] = None,
                      log: Callable[[str], None] = print) -> Dict[str, str]:
    """Write the pictures and ``maps.npz`` of one loss into ``out_dir``.

    Args:
        loss: A TaT-type loss, in the train/eval mode to show.
        student: ``(1, C_s, H_s, W_s)`` the features it receives.
        teacher: ``(1, C_t, H, W)``.
        picture: ``(H_in, W_in, 3)`` uint8 RGB, the model input.
        out_dir: Output folder (created).
        folder: Name of the loss (titles, messages).
        query, query_px: See :func:`query_cell`.
        head: Attention head to show (default: the mean).
        log: Where the summary line goes.

    Returns:
        ``{kind: path}`` of the written files.

    Raises:
        ValueError: ``head`` or the query is out of range.
    """
    if head is not None and not 0 <= head < loss.num_heads:
        raise ValueError(f'--head {head}: {folder} has {loss.num_heads} '
                         'head(s)')
    os.makedirs(out_dir, exist_ok=True)
    ins = inspect_tat_loss(loss, student, teacher)
    with torch.no_grad():  # the loss's own forward, as a cross-check
        forward = float(loss(student, teacher))
    h, w = ins.target.shape[-2:]
    y, x = query_cell((h, w), picture.shape[:2], folder, query, query_px)
    stride = picture.shape[0] / h
    summary = ', '.join(f'{k} {p.loss:.4g}' for k, p in ins.passes.items())
    log(f'{folder}: {type(loss).__name__} on the {h}x{w} teacher map '
        f'(stride ~{stride:g}); pass losses {summary} -> {ins.total:.4g} '
        f'(loss_weight {loss.loss_weight}; the loss itself gives '
        f'{forward:.4g})')
    layouts = {k: p.layout for k, p in ins.passes.items()}
    written = {}
    written['windows'] = save_figure(
        draw_window_overlay(
            picture,
            list(layouts.values()),
            query=(y, x),
            title=f'{folder}: {h}x{w} teacher map, stride ~{stride:g}'),
        osp.join(out_dir, 'windows.png'))

    target = ins.target[0]
    recon = {k: p.reconstruction[0] for k, p in ins.passes.items()}
    rgbs = pca_rgb([target] + list(recon.values()))
    written['features'] = save_figure(
        draw_features(
            rgbs[0],
            dict(zip(recon, rgbs[1:])),
            channel_norm(target), {
                k: channel_norm(v)
                for k, v in recon.items()
            },
            title=f'{folder}: teacher vs student reconstruction'),
        osp.join(out_dir, 'features.png'))

    maps = {k: p.error_map[0].cpu().numpy() for k, p in ins.passes.items()}
    written['loss_maps'] = save_figure(
        draw_loss_maps(
            maps, {
                k: p.loss
                for k, p in ins.passes.items()
            },
            layouts,
            title=f'{folder}: per-position squared error '
            f'(loss = sum / (B*C*H*W))'), osp.join(out_dir, 'loss_maps.png'))

    arrays = dict(
        total=np.float64(ins.total),
        forward=np.float64(forward),
        loss_weight=np.float64(loss.loss_weight),
        query=np.array([y, x]))
    for pass_name, p in ins.passes.items():
        att = query_attention(loss, ins, pass_name, y, x)
        grid = patch_merge(ins.target, p.layout.merges)[0]
        written[f'attention_{pass_name}'] = save_figure(
            draw_query_attention(att, channel_norm(grid), head, title=folder),
            osp.join(out_dir, f'attention_{pass_name}.png'))
        arrays[f'{pass_name}_error'] = p.error_map.cpu().numpy()
        arrays[f'{pass_name}_loss'] = np.float64(p.loss)
        arrays[f'{pass_name}_channels'] = np.int64(p.channels)
        arrays[f'{pass_name}_weights'] = att.weights
        arrays[f'{pass_name}_allowed'] = att.allowed
    np.savez(osp.join(out_dir, 'maps.npz'), **arrays)
    written['maps'] = osp.join(out_dir, 'maps.npz')
    return written
