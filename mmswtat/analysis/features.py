"""Feature maps as pictures: PCA to RGB and channel norm."""
from typing import List, Sequence

import numpy as np
import torch
from torch import Tensor

_EXACT_SVD_MAX = 512  # larger maps: randomised SVD (same top components)


def pca_rgb(maps: Sequence[Tensor],
            fit_on: int = 0,
            clip_percentile: float = 1.0) -> List[np.ndarray]:
    """Colour several ``(C, H, W)`` maps with one PCA basis.

    The first three principal components of ``maps[fit_on]`` (positions as
    samples, channels as features) become R, G, B; every map is centred
    with that map's mean and projected on the same components, then scaled
    with the fitted map's ``[p, 100 - p]`` percentiles, so equal colours
    mean equal features across the pictures (a teacher map and its
    reconstruction).

    Args:
        maps: ``(C, H_i, W_i)`` tensors with the same ``C``.
        fit_on: Index of the map the basis is fitted on.
        clip_percentile: ``p`` above.

    Returns:
        ``(H_i, W_i, 3)`` float arrays in ``[0, 1]``.
    """
    channels = {m.shape[0] for m in maps}
    if len(channels) != 1:
        raise ValueError(f'pca_rgb needs maps with the same channel count, '
                         f'got {sorted(channels)}')
    flat = [m.detach().double().flatten(1).T.cpu() for m in maps]  # (N, C)
    ref = flat[fit_on]
    mean = ref.mean(0, keepdim=True)
    centred = ref - mean
    k = min(3, *centred.shape)
    # Right singular vectors = principal directions; deterministic signs.
    if min(centred.shape) > _EXACT_SVD_MAX:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            _, _, v = torch.svd_lowrank(centred, q=k + 5, niter=4)
        comps = v[:, :k]  # (C, k)
    else:
        _, _, vh = torch.linalg.svd(centred, full_matrices=False)
        comps = vh[:k].T  # (C, k)
    signs = torch.sign(comps[comps.abs().argmax(0), torch.arange(k)])
    comps = comps * torch.where(signs == 0, torch.ones_like(signs), signs)
    proj_ref = (centred @ comps).numpy()
    lo = np.percentile(proj_ref, clip_percentile, axis=0)
    hi = np.percentile(proj_ref, 100 - clip_percentile, axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    out = []
    for m, f in zip(maps, flat):
        proj = ((f - mean) @ comps).numpy()
        rgb = np.zeros((proj.shape[0], 3))
        rgb[:, :k] = np.clip((proj - lo) / span, 0, 1)
        out.append(rgb.reshape(m.shape[1], m.shape[2], 3))
    return out


def channel_norm(x: Tensor) -> np.ndarray:
    """``||x[:, i, j]||_2`` of a ``(C, H, W)`` map, as an ``(H, W)`` array."""
    return x.detach().double().norm(dim=0).cpu().numpy()
