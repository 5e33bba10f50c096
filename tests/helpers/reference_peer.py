"""Slow loop references of the peer losses, written from the published
equations (not from the vectorised ops). Float64 throughout.

- KD (Hinton et al., 2015): ``T^2 * KL(softmax(z_t/T) || softmax(z_s/T))``
  per sample or pixel, averaged over samples / valid pixels.
- CWD (Shu et al., ICCV 2021): per channel, a distribution over the H*W
  positions, ``phi(y_c) = exp(y_c,i / T) / sum_i exp(y_c,i / T)``;
  ``T^2 / (N C) * sum_{n,c} sum_i phi(t)_i log(phi(t)_i / phi(s)_i)``.
- DIST (Huang et al., NeurIPS 2022): Pearson correlation
  ``rho(u, v) = cov(u, v) / (std(u) std(v))`` (eps 1e-8 added to the norm
  product as in the official code); inter = ``1 - 1/B sum_i rho(Y_s[i,:],
  Y_t[i,:])``, intra = ``1 - 1/C sum_j rho(Y_s[:,j], Y_t[:,j])``, loss =
  ``T^2 (beta inter + gamma intra)``; dense: one row per pixel.
- FitNet (Romero et al., ICLR 2015): ``1/(N C H W) sum (s - t)^2``.
- PKD (Cao et al., NeurIPS 2022): each channel standardised over its
  ``M = N H W`` values, ``x' = (x - mu) / (sigma + 1e-6)`` with the sample
  deviation ``sigma = sqrt(sum (x - mu)^2 / (M - 1))`` (the published code's
  ``torch.std``); ``1/(N C H W) sum (s' - t')^2 / 2``.

Every quantity is a list of 0-d tensors combined one scalar at a time, so
autograd through the loops gives the reference gradients.
"""
from typing import List, Optional

import torch
from torch import Tensor

Scalars = List[Tensor]


def _scalars(x: Tensor) -> Scalars:
    return list(x.flatten().unbind())


def _softmax(values: Scalars, tau: float) -> Scalars:
    top = max(float(v.detach()) for v in values)
    exps = [torch.exp((v - top) / tau) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def _kl(p: Scalars, q: Scalars) -> Tensor:
    return sum(pi * (torch.log(pi) - torch.log(qi)) for pi, qi in zip(p, q))


def _class_vectors(student: Tensor, teacher: Tensor,
                   valid_mask: Optional[Tensor]):
    """[(student scores, teacher scores)] over classes: one pair per sample
    of (N, C) logits, or per (valid) pixel of (N, C, H, W) logits."""
    if student.dim() == 2:
        return [(_scalars(student[i]), _scalars(teacher[i]))
                for i in range(student.shape[0])]
    n, _, h, w = student.shape
    return [(_scalars(student[a, :, y, x]), _scalars(teacher[a, :, y, x]))
            for a in range(n) for y in range(h) for x in range(w)
            if valid_mask is None or bool(valid_mask[a, y, x])]


def kd(student: Tensor,
       teacher: Tensor,
       tau: float = 1.0,
       valid_mask: Optional[Tensor] = None) -> Tensor:
    """Hinton KD; inputs (N, C) or same-size (N, C, H, W)."""
    rows = _class_vectors(student, teacher, valid_mask)
    if not rows:
        return student.sum() * 0
    total = sum(_kl(_softmax(t, tau), _softmax(s, tau)) for s, t in rows)
    return tau**2 * total / len(rows)


def cwd(student: Tensor, teacher: Tensor, tau: float = 1.0) -> Tensor:
    """Channel-wise divergence on same-size (N, C, H, W) maps."""
    n, c = student.shape[:2]
    total = 0.0
    for i in range(n):
        for j in range(c):
            p_t = _softmax(_scalars(teacher[i, j]), tau)
            p_s = _softmax(_scalars(student[i, j]), tau)
            total += _kl(p_t, p_s)
    return tau**2 * total / (n * c)


def pearson(u: Scalars, v: Scalars, eps: float = 1e-8) -> Tensor:
    mu, mv = sum(u) / len(u), sum(v) / len(v)
    du, dv = [a - mu for a in u], [b - mv for b in v]
    cov = sum(a * b for a, b in zip(du, dv))
    su = torch.sqrt(sum(a * a for a in du))
    sv = torch.sqrt(sum(b * b for b in dv))
    return cov / (su * sv + eps)


def dist(student: Tensor,
         teacher: Tensor,
         tau: float = 1.0,
         beta: float = 1.0,
         gamma: float = 1.0,
         valid_mask: Optional[Tensor] = None) -> Tensor:
    """DIST; inputs (N, C) or same-size (N, C, H, W) logits."""
    pairs = _class_vectors(student, teacher, valid_mask)
    y_s = [_softmax(s, tau) for s, _ in pairs]
    y_t = [_softmax(t, tau) for _, t in pairs]
    rows, classes = len(y_s), len(y_s[0])
    inter = 1 - sum(pearson(y_s[r], y_t[r]) for r in range(rows)) / rows
    intra = 1 - sum(
        pearson([y_s[r][k]
                 for r in range(rows)], [y_t[r][k] for r in range(rows)])
        for k in range(classes)) / classes
    return tau**2 * (beta * inter + gamma * intra)


def feature_mse(student: Tensor, teacher: Tensor) -> Tensor:
    """FitNet hint loss: mean squared difference over all elements."""
    s, t = _scalars(student), _scalars(teacher)
    return sum((a - b)**2 for a, b in zip(s, t)) / len(s)


def _standardised(feat: Tensor, eps: float = 1e-6) -> List[List[Tensor]]:
    """Per channel, its N*H*W values standardised (PKD): a list per
    channel, values in (n, h, w) order."""
    n, c, h, w = feat.shape
    out = []
    for j in range(c):
        vals = [
            feat[a, j, y, x] for a in range(n) for y in range(h)
            for x in range(w)
        ]
        m = len(vals)
        mu = sum(vals) / m
        var = sum((v - mu)**2 for v in vals) / max(m - 1, 1)
        sigma = torch.sqrt(var) if float(var.detach()) > 0 else var * 0
        out.append([(v - mu) / (sigma + eps) for v in vals])
    return out


def pkd(student: Tensor, teacher: Tensor) -> Tensor:
    """PKD on same-size (N, C, H, W) maps."""
    s, t = _standardised(student), _standardised(teacher)
    total = sum((a - b)**2 for cs, ct in zip(s, t) for a, b in zip(cs, ct))
    return total / (2 * student.numel())
