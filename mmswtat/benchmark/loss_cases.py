"""Loss micro-benchmark: forward + backward of one distillation loss.

Cases are plain JSON-able dicts (``kind='loss'``): :func:`plan_loss_cases`
makes them, with cost estimates and skip reasons, :func:`run_loss_case`
times one.
"""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch

from .memory import MiB, available_bytes
from .naive_tat import NaiveWindowTaTLoss
from .timing import calibrate_gflops, time_phase

#: Loss names of the micro-benchmark (see :func:`build_loss`).
LOSSES = ('tat', 'swtat', 'swtat_plain', 'pmtat', 'naive_window')
#: ``'paper'``: ``embed=False`` (Q = T, K = V = S); ``'module'``: with the
#: 1x1 conv+BN embeddings.
MODES = ('paper', 'module')


def build_loss(name: str,
               cs: int,
               ct: int,
               window: int,
               shift: int,
               max_tokens: int,
               embed: bool = True,
               num_merges: Any = 1) -> torch.nn.Module:
    """One loss module of the micro-benchmark.

    Args:
        name: One of :data:`LOSSES`: ``tat`` (global), ``swtat`` (plain +
            shifted windows), ``swtat_plain`` (``shift_size=0``), ``pmtat``
            (patch merging) or ``naive_window`` (the official code's
            unfold + einsum windows, :class:`NaiveWindowTaTLoss`).
        cs: Student channels.
        ct: Teacher channels.
        window: Window side.
        shift: Shift of the second SW-TaT pass.
        max_tokens: ``PatchMergeTaTLoss`` token budget.
        embed: With the 1x1 conv+BN embeddings.
        num_merges: ``PatchMergeTaTLoss`` merges (int or ``'auto'``).

    Returns:
        The loss module.

    Raises:
        ValueError: Unknown ``name``.
    """
    from mmswtat.models import PatchMergeTaTLoss, SWTaTLoss, TaTLoss
    if name == 'tat':
        return TaTLoss(cs, ct, embed=embed)
    if name == 'swtat':
        return SWTaTLoss(
            cs, ct, window_size=window, shift_size=shift, embed=embed)
    if name == 'swtat_plain':
        return SWTaTLoss(cs, ct, window_size=window, shift_size=0, embed=embed)
    if name == 'pmtat':
        return PatchMergeTaTLoss(
            cs, ct, num_merges=num_merges, max_tokens=max_tokens, embed=embed)
    if name == 'naive_window':
        return NaiveWindowTaTLoss(cs, ct, window_size=window, embed=embed)
    raise ValueError(f'unknown loss {name!r}; choose from {LOSSES}')


def loss_cost(spec: Dict[str, Any]) -> Tuple[float, float]:
    """Estimated (FLOPs, bytes) of one forward + backward of a loss case.

    A coarse model (fp32, backward = 2x forward, attention matrices stored
    for backward) used only to skip cases that cannot fit or finish.

    Args:
        spec: A loss case (see :func:`plan_loss_cases`).

    Returns:
        ``(flops, nbytes)``.
    """
    from mmswtat.models.ops import resolve_num_merges, window_geometry
    b, cs, ct, size = spec['batch'], spec['cs'], spec['ct'], spec['size']
    n = size * size
    flops = 0.0
    if spec['mode'] == 'module':
        flops += 2.0 * b * n * (ct * ct + 2 * cs * ct) * 3
    nbytes = 4.0 * b * n * (3 * cs + 14 * ct)
    name = spec['loss']
    if name == 'tat':
        att = [(n, n, ct)]
    elif name == 'pmtat':
        k = resolve_num_merges(size, size, spec.get('num_merges', 1),
                               spec['max_tokens'])
        m = math.ceil(size / 2**k)**2
        att = [(m, m, ct * 4**k)]
    else:
        g = window_geometry(size, size, spec['window'])
        nw, area = g.num_windows, g.window_area
        att = [(nw * area, area, ct)] * (2 if name == 'swtat' else 1)
    for queries, keys, ch in att:
        flops += 4.0 * b * queries * keys * ch * 3
        nbytes += 3 * 4.0 * b * queries * keys
    return flops, nbytes


def run_loss_case(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Forward + backward of one loss; see :func:`build_loss`.

    ``module`` mode: the loss with its embeddings on a ``C_s`` student map.
    ``paper`` mode: ``embed=False`` on a student map at ``C_t`` channels.

    Args:
        spec: A loss case (see :func:`plan_loss_cases`).

    Returns:
        The :func:`~mmswtat.benchmark.timing.time_phase` result.
    """
    device = torch.device(spec['device'])
    torch.manual_seed(spec.get('seed', 0))
    b, cs, ct, size = spec['batch'], spec['cs'], spec['ct'], spec['size']
    paper = spec['mode'] == 'paper'
    module = build_loss(spec['loss'], ct if paper else cs, ct, spec['window'],
                        spec['shift'], spec['max_tokens'], not paper,
                        spec.get('num_merges', 1)).to(device).train()
    if hasattr(module, 'attn_impl'):  # the TaT losses; not naive_window
        module.attn_impl = spec.get('attn_impl', 'auto')
    teacher = torch.randn(b, ct, size, size, device=device)
    student = torch.randn(
        b, ct if paper else cs, size, size, device=device, requires_grad=True)
    leaves = [student]

    def forward() -> torch.Tensor:
        return module(student, teacher)

    def step() -> None:
        for x in leaves:
            x.grad = None
        module.zero_grad(set_to_none=True)
        forward().backward()

    return time_phase(step, device, spec['warmup'], spec['repeats'])


def plan_loss_cases(device: torch.device,
                    *,
                    losses: Sequence[str] = LOSSES,
                    modes: Sequence[str] = MODES,
                    channels: Sequence[Tuple[int,
                                             int]] = ((512, 2048), (512, 512)),
                    sizes: Sequence[int] = (32, 64, 128),
                    batch: int = 2,
                    window: int = 8,
                    shift: int = 4,
                    max_tokens: int = 1024,
                    num_merges: Union[int, str] = 1,
                    warmup: int = 2,
                    repeats: int = 5,
                    threads: Optional[int] = None,
                    seed: int = 0,
                    attn_impl: str = 'auto',
                    case_budget: float = 300,
                    memory_fraction: float = 0.6) -> List[Dict[str, Any]]:
    """Every loss case of the grid, with its cost estimate or skip reason.

    Args:
        device: Where the cases will run (its throughput and free memory
            are measured here for the estimates).
        losses: Loss names, see :data:`LOSSES`.
        modes: See :data:`MODES`.
        channels: ``(C_s, C_t)`` pairs.
        sizes: Square map sides.
        batch: Batch size.
        window: SW-TaT window side.
        shift: SW-TaT shift of the second pass.
        max_tokens: ``PatchMergeTaTLoss`` budget of ``num_merges='auto'``.
        num_merges: ``PatchMergeTaTLoss`` merges (int or ``'auto'``).
        warmup: Untimed iterations per case.
        repeats: Timed iterations per case.
        threads: torch intra-op threads of the case (default: current).
        seed: Seed of the random inputs.
        attn_impl: The TaT losses' ``attn_impl`` (``'auto'``, ``'sdpa'``
            or ``'matmul'``).
        case_budget: Skip a case estimated to take longer (seconds).
        memory_fraction: Skip a case estimated to need more than this
            fraction of the available memory.

    Returns:
        One dict per case (channels, then sizes, modes, losses), in the
        report's format; skipped ones carry ``skip``.
    """
    if threads is None:
        threads = torch.get_num_threads()
    gflops = calibrate_gflops(device)
    mem_limit = memory_fraction * available_bytes(device)
    cases = []
    for cs, ct in channels:
        for size in sizes:
            for mode in modes:
                for name in losses:
                    spec = dict(
                        kind='loss',
                        loss=name,
                        mode=mode,
                        cs=cs,
                        ct=ct,
                        size=size,
                        batch=batch,
                        window=window,
                        shift=shift,
                        max_tokens=max_tokens,
                        num_merges=num_merges,
                        device=str(device),
                        warmup=warmup,
                        repeats=repeats,
                        threads=threads,
                        seed=seed,
                        attn_impl=attn_impl)
                    flops, nbytes = loss_cost(spec)
                    est_s = flops / (gflops * 1e9 * 0.5)
                    spec.update(
                        est_gflop=flops / 1e9,
                        est_mib=nbytes / MiB,
                        est_s_per_iter=est_s)
                    if name == 'naive_window' and size % window:
                        spec['skip'] = (f'map {size} not divisible by window '
                                        f'{window} (no padding in the '
                                        'official code)')
                    elif nbytes > mem_limit:
                        spec['skip'] = (
                            f'would not fit: ~{nbytes / 2**30:.1f} GiB '
                            f'estimated > {mem_limit / 2**30:.1f} GiB '
                            'allowed')
                    elif est_s * (warmup + repeats) > case_budget:
                        spec['skip'] = (
                            f'too slow here: ~{est_s:.0f} s/iter estimated '
                            f'({flops / 1e12:.1f} TFLOP at '
                            f'{gflops:.0f} GFLOP/s measured) > budget '
                            f'{case_budget:.0f} s per case')
                    cases.append(spec)
    return cases
