"""Slow, loop-based reference of the mmswtat losses, written from the math.

This module is the executable documentation of the math the losses must
implement. It deliberately uses no mmswtat code, no
``F.scaled_dot_product_attention`` and no vectorised window partition: every
query position of every head of every sample is visited by a Python loop, its
allowed keys are listed explicitly, and the softmax is spelt out. Run it in
float64 on tiny tensors only.

Notation (all maps ``(B, C, H, W)``): ``S`` the student feature, resized to the
teacher's ``H x W`` (bilinear, ``align_corners=False``) when sizes differ;
``T`` the teacher feature, which is also the regression target.

- ``query='teacher'`` (the paper): ``Q = phi_q(T)``, ``K = phi_k(S)``,
  ``V = phi_v(S)``.
- ``query='student'`` (the official TaT code): ``Q = phi_q(S)``,
  ``K = phi_k(T)``, ``V = phi_v(S)``.
- Without embeddings every ``phi`` is the identity.
- Heads split the channels into ``num_heads`` contiguous equal groups.

One window pass with window ``(wh, ww)`` and shift ``(sh, sw)``:

1. clamp ``wh = min(wh, H)``, ``ww = min(ww, W)``; a side covered by one
   window has no shift;
2. zero-pad bottom/right to multiples of the window; padded positions are
   invalid;
3. roll by ``(-sh, -sw)`` (the content at rolled ``(y, x)`` comes from padded
   ``((y + sh) % Hp, (x + sw) % Wp)``); Swin region labels on the padded grid;
4. in each window, a valid query ``i`` attends to the valid keys ``j`` of its
   window with ``label(j) == label(i)``:
   ``R_i = sum_j softmax_j(scale * <Q_i, K_j>) V_j``;
5. the pass loss is the MSE ``sum (R - T)^2 / (B * C * H * W)`` over the real
   positions.
"""
import math
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

Pair = Union[int, Sequence[int]]
Embeds = Optional[Tuple[Callable, Callable, Callable]]


def _pair(value: Pair) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


# --------------------------------------------------------------- projection
def project(student: Tensor,
            teacher: Tensor,
            query: str = 'teacher',
            embeds: Embeds = None) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Return ``(Q, K, V, target)``; the target is always the raw teacher.

    Args:
        student: ``(B, C_s, H_s, W_s)``.
        teacher: ``(B, C_t, H, W)``.
        query: ``'teacher'`` or ``'student'``.
        embeds: ``(phi_q, phi_k, phi_v)`` callables, or ``None`` for identity.
    """
    teacher = teacher.detach()
    h, w = teacher.shape[-2:]
    if tuple(student.shape[-2:]) != (h, w):
        student = F.interpolate(
            student, size=(h, w), mode='bilinear', align_corners=False)
    if query == 'teacher':
        q_src, k_src = teacher, student
    elif query == 'student':
        q_src, k_src = student, teacher
    else:
        raise ValueError(query)
    if embeds is None:
        return q_src, k_src, student, teacher
    phi_q, phi_k, phi_v = embeds
    return phi_q(q_src), phi_k(k_src), phi_v(student), teacher


# ---------------------------------------------------------- one window pass
def _region_id(pos: int, size: int, window: int, shift: int) -> int:
    """Swin row (or column) id on the padded grid: 0, 1 or 2."""
    if shift == 0:
        return 0
    if pos < size - window:
        return 0
    if pos < size - shift:
        return 1
    return 2


def window_pass_error(q: Tensor,
                      k: Tensor,
                      v: Tensor,
                      t: Tensor,
                      window: Pair,
                      shift: Pair = 0,
                      num_heads: int = 1,
                      scale: Union[float, str] = 1.0,
                      region_mask: bool = True) -> Tensor:
    """Per-position squared error ``sum_c (R_c - T_c)^2`` of one window pass.

    Args:
        q, k: ``(B, Cq, H, W)``.
        v, t: ``(B, C, H, W)``.
        window: ``(wh, ww)`` or an int.
        shift: ``(sh, sw)`` or an int.
        num_heads: Contiguous channel groups.
        scale: Logit scale, or ``'auto'`` for ``1 / sqrt(head_dim)``.
        region_mask: ``False`` drops the Swin label condition (only for tests
            showing that the mask matters; not part of the contract).

    Returns:
        ``(B, H, W)`` error map on the original (unpadded, unshifted) grid.
    """
    b, c, h, w = t.shape
    cq = q.shape[1]
    dq, dv = cq // num_heads, c // num_heads
    if scale == 'auto':
        scale = 1.0 / math.sqrt(dq)

    # 1. clamp
    wh, ww = _pair(window)
    sh, sw = _pair(shift)
    wh, ww = min(wh, h), min(ww, w)
    if wh == h:
        sh = 0
    if ww == w:
        sw = 0

    # 2. padded size; a padded position (y >= H or x >= W) is invalid
    hp = math.ceil(h / wh) * wh
    wp = math.ceil(w / ww) * ww

    # 3. roll by (-sh, -sw): rolled (y, x) holds padded (y + sh, x + sw)
    def source(y: int, x: int) -> Tuple[int, int]:
        return (y + sh) % hp, (x + sw) % wp

    def valid(y: int, x: int) -> bool:
        ys, xs = source(y, x)
        return ys < h and xs < w

    def label(y: int, x: int) -> int:
        if not region_mask:
            return 0
        return 3 * _region_id(y, hp, wh, sh) + _region_id(x, wp, ww, sw)

    error = torch.zeros(b, h, w, dtype=t.dtype, device=t.device)
    for n in range(b):
        for head in range(num_heads):
            cq_sl = slice(head * dq, (head + 1) * dq)
            cv_sl = slice(head * dv, (head + 1) * dv)
            # 4. every (rolled) query position, attending inside its window
            for y in range(hp):
                for x in range(wp):
                    if not valid(y, x):
                        continue  # invalid queries do not count
                    y0, x0 = (y // wh) * wh, (x // ww) * ww  # window corner
                    region = label(y, x)
                    allowed = [(yk, xk) for yk in range(y0, y0 + wh)
                               for xk in range(x0, x0 + ww)
                               if valid(yk, xk) and label(yk, xk) == region]
                    keys = [source(yk, xk) for yk, xk in allowed]
                    yq, xq = source(y, x)
                    q_i = q[n, cq_sl, yq, xq]
                    logits = torch.stack([
                        scale * torch.dot(q_i, k[n, cq_sl, yk, xk])
                        for yk, xk in keys
                    ])
                    weights = torch.exp(logits - logits.max())
                    weights = weights / weights.sum()  # softmax over keys
                    recon = sum(a * v[n, cv_sl, yk, xk]
                                for a, (yk, xk) in zip(weights, keys))
                    diff = recon - t[n, cv_sl, yq, xq]
                    error[n, yq, xq] += (diff * diff).sum()
    return error


def pass_loss(error: Tensor, channels: int) -> Tensor:
    """5. MSE over the real elements: ``sum(error) / (B * C * H * W)``."""
    b, h, w = error.shape
    return error.sum() / (b * channels * h * w)


# ------------------------------------------------------------------ losses
def swtat_error_maps(student: Tensor,
                     teacher: Tensor,
                     window: Pair,
                     shift: Pair,
                     num_heads: int = 1,
                     scale: Union[float, str] = 1.0,
                     query: str = 'teacher',
                     embeds: Embeds = None) -> Dict[str, Tensor]:
    """``{'plain': ..., 'shifted': ...}``; no ``'shifted'`` if shift is 0."""
    q, k, v, t = project(student, teacher, query, embeds)
    maps = {
        'plain': window_pass_error(q, k, v, t, window, 0, num_heads, scale)
    }
    if any(_pair(shift)):
        maps['shifted'] = window_pass_error(q, k, v, t, window, shift,
                                            num_heads, scale)
    return maps


def swtat_loss(student: Tensor,
               teacher: Tensor,
               window: Pair,
               shift: Pair,
               num_heads: int = 1,
               scale: Union[float, str] = 1.0,
               query: str = 'teacher',
               embeds: Embeds = None,
               loss_weight: float = 1.0) -> Tensor:
    """Mean of the plain and shifted passes (plain only if shift is 0)."""
    maps = swtat_error_maps(student, teacher, window, shift, num_heads, scale,
                            query, embeds)
    c = teacher.shape[1]
    losses = [pass_loss(err, c) for err in maps.values()]
    return loss_weight * sum(losses) / len(losses)


def tat_error_map(student: Tensor,
                  teacher: Tensor,
                  num_heads: int = 1,
                  scale: Union[float, str] = 1.0,
                  query: str = 'teacher',
                  embeds: Embeds = None) -> Tensor:
    """Global TaT: one window covering the whole map, no shift."""
    q, k, v, t = project(student, teacher, query, embeds)
    h, w = t.shape[-2:]
    return window_pass_error(q, k, v, t, (h, w), 0, num_heads, scale)


def tat_loss(student: Tensor,
             teacher: Tensor,
             num_heads: int = 1,
             scale: Union[float, str] = 1.0,
             query: str = 'teacher',
             embeds: Embeds = None,
             loss_weight: float = 1.0) -> Tensor:
    err = tat_error_map(student, teacher, num_heads, scale, query, embeds)
    return loss_weight * pass_loss(err, teacher.shape[1])


def merge_once(x: Tensor) -> Tensor:
    """Zero-pad H and W to even, then 2x2 space-to-depth (C -> 4C)."""
    h, w = x.shape[-2:]
    x = F.pad(x, (0, w % 2, 0, h % 2))
    return F.pixel_unshuffle(x, 2)


def patch_merge_error_map(student: Tensor,
                          teacher: Tensor,
                          num_merges: Union[int, str] = 1,
                          max_tokens: int = 1024,
                          num_heads: int = 1,
                          scale: Union[float, str] = 1.0,
                          query: str = 'teacher',
                          embeds: Embeds = None) -> Tuple[Tensor, int]:
    """Error map on the merged grid and the merged channel count.

    Embeddings act first at full resolution; then Q, K, V and the raw target
    are merged ``num_merges`` times (``'auto'``: until ``H * W <=
    max_tokens``); then one global pass, all merged positions valid.
    """
    q, k, v, t = project(student, teacher, query, embeds)
    if num_merges == 'auto':
        while t.shape[-2] * t.shape[-1] > max_tokens:
            q, k, v, t = (merge_once(x) for x in (q, k, v, t))
    else:
        for _ in range(num_merges):
            q, k, v, t = (merge_once(x) for x in (q, k, v, t))
    h, w = t.shape[-2:]
    return window_pass_error(q, k, v, t, (h, w), 0, num_heads,
                             scale), t.shape[1]


def patch_merge_loss(student: Tensor,
                     teacher: Tensor,
                     num_merges: Union[int, str] = 1,
                     max_tokens: int = 1024,
                     num_heads: int = 1,
                     scale: Union[float, str] = 1.0,
                     query: str = 'teacher',
                     embeds: Embeds = None,
                     loss_weight: float = 1.0) -> Tensor:
    err, c = patch_merge_error_map(student, teacher, num_merges, max_tokens,
                                   num_heads, scale, query, embeds)
    return loss_weight * pass_loss(err, c)


def anchor_pool(x: Tensor, kernel: Tuple[int, int]) -> Tensor:
    """Mean of each ``kh x kw`` block (stride = kernel), by loops; the
    remainder rows and columns (``H % kh``, ``W % kw``) are dropped."""
    kh, kw = kernel
    b, c, h, w = x.shape
    out = torch.zeros(b, c, h // kh, w // kw, dtype=x.dtype, device=x.device)
    for y in range(h // kh):
        for xx in range(w // kw):
            block = x[:, :, y * kh:(y + 1) * kh, xx * kw:(xx + 1) * kw]
            out[:, :, y, xx] = block.sum((-2, -1)) / (kh * kw)
    return out


def anchor_error_map(student: Tensor,
                     teacher: Tensor,
                     pool: Pair,
                     num_heads: int = 1,
                     scale: Union[float, str] = 1.0,
                     query: str = 'teacher',
                     embeds: Embeds = None) -> Tensor:
    """The official anchor pass: embeddings at full resolution, then Q, K,
    V and the raw target average-pooled (:func:`anchor_pool`), then one
    global pass over every anchor."""
    q, k, v, t = (
        anchor_pool(x, _pair(pool))
        for x in project(student, teacher, query, embeds))
    h, w = t.shape[-2:]
    return window_pass_error(q, k, v, t, (h, w), 0, num_heads, scale)


def anchor_loss(student: Tensor,
                teacher: Tensor,
                pool: Pair,
                num_heads: int = 1,
                scale: Union[float, str] = 1.0,
                query: str = 'teacher',
                embeds: Embeds = None,
                loss_weight: float = 1.0) -> Tensor:
    err = anchor_error_map(student, teacher, pool, num_heads, scale, query,
                           embeds)
    return loss_weight * pass_loss(err, teacher.shape[1])


# ---------------------------------------------------------------------- KL
def kl_div(student: Tensor,
           teacher: Tensor,
           tau: float = 1.0,
           valid_mask: Optional[Tensor] = None,
           loss_weight: float = 1.0) -> Tensor:
    """``tau^2 * sum_k p_t (log p_t - log p_s)`` averaged over samples/pixels.

    Args:
        student, teacher: ``(B, K)`` or ``(B, K, H, W)`` logits (a dense
            student is resized to the teacher's size).
        valid_mask: Dense only, ``(B, H, W)``; only True pixels are averaged.
    """
    if student.dim() == 2:
        student, teacher = student[:, :, None, None], teacher[:, :, None, None]
    elif tuple(student.shape[-2:]) != tuple(teacher.shape[-2:]):
        student = F.interpolate(
            student,
            size=teacher.shape[-2:],
            mode='bilinear',
            align_corners=False)
    b, _, h, w = teacher.shape
    total, count = 0.0, 0
    for n in range(b):
        for y in range(h):
            for x in range(w):
                if valid_mask is not None and not bool(valid_mask[n, y, x]):
                    continue
                zt = teacher[n, :, y, x] / tau
                zs = student[n, :, y, x] / tau
                log_pt = zt - torch.logsumexp(zt, 0)
                log_ps = zs - torch.logsumexp(zs, 0)
                total = total + (log_pt.exp() * (log_pt - log_ps)).sum()
                count += 1
    return loss_weight * tau**2 * total / max(count, 1)
