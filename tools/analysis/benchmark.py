"""Benchmark the distillation losses and the distillation training step.

Two parts, CPU or GPU, each case timed as the median of repeated runs after
warm-up, each case (by default) in a fresh subprocess so that its memory
high-water mark is its own:

* ``loss``: forward + backward of ``TaTLoss`` (global), ``SWTaTLoss``
  (plain + shifted windows), ``SWTaTLoss`` with ``shift_size=0`` (plain
  only), ``PatchMergeTaTLoss`` and the naive unfold + einsum windowed TaT of
  the official CVPR code (:mod:`mmswtat.benchmark`), at ``B=2``, ``C_s ->
  C_t`` in ``512 -> 2048`` and ``512 -> 512``, maps 32/64/128. Two modes:
  ``paper`` (``embed=False``, the paper's equations: ``Q = T``, ``K = V =
  S``; for ``C_s != C_t`` the student map is given at ``C_t`` channels, as a
  shared connector delivers it) and ``module`` (``embed=True``: three 1x1
  conv+BN embeddings per loss included). Cases estimated to exceed the memory or time budget
  are skipped and listed with the reason.
* ``step``: on a distillation config (default the VOC one), the median
  seconds per iteration of (a) the student's own training step, (b) the
  teacher's no-grad forward as the distiller runs it (early exit after the
  last recorded module), (c) the full distillation training step, plus, for
  attribution, the teacher's full forward (backbone + heads) and the
  distillation losses alone (forward + backward). Prints ``overhead = c /
  (a + b)``.

Memory: on CPU the resident-set high-water mark of the process (``VmHWM``,
reset through ``/proc/self/clear_refs`` right before the phase), reported as
the absolute peak and as the growth over the resident set at the start of
the phase. By default (``--cpu-memory exact``) it comes from a second,
one-iteration run of the case in which glibc returns every freed block of
128 KiB or more to the OS, so that the resident set follows the live
tensors (the timing run keeps the default allocator, whose retained heap
inflates the high-water mark). On GPU ``torch.cuda.max_memory_allocated``.

Usage::

    python tools/analysis/benchmark.py                    # both parts
    python tools/analysis/benchmark.py --part loss --sizes 32 64
    python tools/analysis/benchmark.py --part step --crop 256 --step-batch 2
    python tools/analysis/benchmark.py --quick            # tiny smoke run

The JSON (``--out``, default ``work_dirs/benchmark/benchmark_<device>.json``)
holds every case with its settings, timings, memory and skip reasons.
"""
import argparse
import json
import math
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

DEFAULT_CONFIG = 'configs/swtat/deeplabv3_r101_to_r18_voc.py'
LOSSES = ('tat', 'swtat', 'swtat_plain', 'pmtat', 'naive_window')
RESULT_TAG = 'BENCHMARK_RESULT '
MiB = 1024.0**2

# ------------------------------------------------------------------ memory


class PeakMemory:
    """Peak memory of one phase.

    CPU: ``VmHWM`` after a reset through ``/proc/self/clear_refs`` (Linux);
    without it, ``ru_maxrss`` (the process' lifetime high-water mark: run
    each case in its own process). GPU: ``torch.cuda`` peak statistics.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.method = ''
        self.start = 0.0

    @staticmethod
    def _status(field: str) -> Optional[float]:
        try:
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith(field + ':'):
                        return float(line.split()[1]) * 1024  # kB -> bytes
        except OSError:
            pass
        return None

    def reset(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = float(torch.cuda.memory_allocated(self.device))
            self.method = 'torch.cuda.max_memory_allocated'
            return
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # reset the peak resident set size
            self.method = 'VmHWM (reset per phase)'
        except OSError:
            self.method = 'ru_maxrss (process lifetime)'
        rss = self._status('VmRSS')
        self.start = rss if rss is not None else 0.0

    def read(self) -> Dict[str, float]:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            peak = float(torch.cuda.max_memory_allocated(self.device))
        else:
            peak = self._status('VmHWM')
            if peak is None or self.method.startswith('ru_maxrss'):
                import resource
                peak = resource.getrusage(
                    resource.RUSAGE_SELF).ru_maxrss * 1024.0
        return dict(
            peak_mib=peak / MiB,
            peak_delta_mib=max(0.0, peak - self.start) / MiB,
            memory_method=self.method)


def time_phase(fn: Callable[[], Any], device: torch.device, warmup: int,
               repeats: int) -> Dict[str, Any]:
    """Median wall (and CPU) seconds of ``fn`` after ``warmup`` calls."""
    mem = PeakMemory(device)
    mem.reset()

    def sync() -> None:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    out = dict(
        median_s=statistics.median(walls),
        min_s=min(walls),
        max_s=max(walls),
        times_s=walls,
        median_cpu_s=statistics.median(cpus),
        warmup=warmup,
        repeats=repeats)
    out.update(mem.read())
    return out


# ------------------------------------------------------------ loss cases


def build_loss(name: str,
               cs: int,
               ct: int,
               window: int,
               shift: int,
               max_tokens: int,
               embed: bool = True,
               num_merges: Any = 1) -> torch.nn.Module:
    """One loss module of the micro-benchmark."""
    from mmswtat.benchmark import NaiveWindowTaTLoss
    from mmswtat.models import PatchMergeTaTLoss, SWTaTLoss, TaTLoss
    if name == 'tat':
        return TaTLoss(cs, ct, embed=embed)
    if name == 'swtat':
        return SWTaTLoss(
            cs, ct, window_size=window, shift_size=shift, embed=embed)
    if name == 'swtat_plain':
        return SWTaTLoss(
            cs, ct, window_size=window, shift_size=0, embed=embed)
    if name == 'pmtat':
        return PatchMergeTaTLoss(
            cs,
            ct,
            num_merges=num_merges,
            max_tokens=max_tokens,
            embed=embed)
    if name == 'naive_window':
        return NaiveWindowTaTLoss(cs, ct, window_size=window, embed=embed)
    raise ValueError(f'unknown loss {name!r}; choose from {LOSSES}')


def loss_cost(spec: Dict[str, Any]) -> Tuple[float, float]:
    """Estimated (FLOPs, bytes) of one forward + backward of a loss case.

    A coarse model (fp32, backward = 2x forward, attention matrices stored
    for backward) used only to skip cases that cannot fit or finish.
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
    """
    device = torch.device(spec['device'])
    torch.manual_seed(spec.get('seed', 0))
    b, cs, ct, size = spec['batch'], spec['cs'], spec['ct'], spec['size']
    paper = spec['mode'] == 'paper'
    module = build_loss(spec['loss'], ct if paper else cs, ct, spec['window'],
                        spec['shift'], spec['max_tokens'], not paper,
                        spec.get('num_merges', 1)).to(device).train()
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


# ------------------------------------------------------------ step cases


def step_options(crop: int) -> Dict[str, Any]:
    """Overrides that make a distillation config buildable offline."""
    size = (crop, crop)
    return {
        'model.teacher_ckpt': None,
        'model.student.pretrained': None,
        'model.student.data_preprocessor.size': size,
        'data_preprocessor.size': size,
    }


def build_distiller(config: str, crop: int, device: torch.device,
                    lr: Optional[float]):
    """The distiller of ``config`` and its optimizer wrapper (runner-like)."""
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, init_default_scope

    import mmswtat  # noqa: F401
    from mmswtat.utils import is_distiller_config, load_tool_config
    cfg = load_tool_config(config, step_options(crop))
    if not is_distiller_config(cfg):
        raise ValueError(f'{config} is not a distillation config (model.type '
                         f'{cfg.model.get("type")!r}); the step benchmark '
                         'needs a SingleTeacherDistiller config')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        # As mmengine's Runner does: the top-level preprocessor is the model's.
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    # A quiet current logger: init_weights() logs every parameter at INFO.
    MMLogger.get_instance(f'benchmark_{id(model_cfg)}', log_level='WARNING')
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.to(device).train()
    optim_cfg = cfg.optim_wrapper.copy()
    if lr is not None:
        optim_cfg.optimizer.lr = lr
    return cfg, model, optim_cfg, build_optim_wrapper


_BUILT: Dict[tuple, tuple] = {}


def modules_run(model: torch.nn.Module, fn: Callable[[], Any]) -> List[str]:
    """Paths (depth <= 2, e.g. ``backbone.layer4``) of the submodules of
    ``model`` entered during one ``fn()``.

    Depth 2 catches heads whose own ``forward`` is called directly (mmseg's
    ``decode_head.forward(x)`` bypasses the hooks of ``decode_head``).
    """
    entered = set()
    handles = [
        module.register_forward_pre_hook(
            lambda *_, name=name: entered.add(name))
        for name, module in model.named_modules()
        if name and name.count('.') <= 1
    ]
    try:
        fn()
    finally:
        for h in handles:
            h.remove()
    return sorted(entered)


def run_step_case(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One phase of the step benchmark (see the module docstring).

    In one process the distiller is built once and shared by the phases.
    """
    device = torch.device(spec['device'])
    torch.manual_seed(spec.get('seed', 0))
    key = (spec['config'], spec['crop'], spec['device'], spec.get('lr'))
    if key not in _BUILT:
        _BUILT.clear()
        _BUILT[key] = build_distiller(spec['config'], spec['crop'], device,
                                      spec.get('lr'))
    cfg, model, optim_cfg, build_optim_wrapper = _BUILT[key]
    num_classes = int(
        model.student.decode_head.num_classes if hasattr(
            model.student, 'decode_head') else 2)
    from mmswtat.testing import random_seg_batch
    crop = spec['crop']
    # Some ignored pixels, as at VOC borders.
    batch = random_seg_batch(spec['batch'], crop, num_classes,
                             spec.get('seed', 0), ignore_rows=crop // 8)
    phase = spec['phase']
    info: Dict[str, Any] = {}

    if phase == 'student':
        wrapper = build_optim_wrapper(model.student, optim_cfg)

        def fn() -> None:
            model.student.train_step(batch, wrapper)
    elif phase == 'distill':
        wrapper = build_optim_wrapper(model, optim_cfg)

        def fn() -> None:
            model.train_step(batch, wrapper)
    else:
        data = model.data_preprocessor(batch, True)
        inputs, samples = data['inputs'], data['data_samples']
        if phase == 'teacher':

            def fn() -> None:
                model.run_teacher(inputs, samples)
                model.teacher_recorder.clear()
        elif phase == 'teacher_full':

            def fn() -> None:
                with torch.no_grad():
                    model.teacher(inputs, samples, mode='tensor')
        elif phase == 'distill_losses':
            model.run_teacher(inputs, samples)
            model.student_recorder.active = True
            with torch.no_grad():
                model.student.extract_feat(inputs)
            model.student_recorder.active = False
            s_rec = {
                k: v.detach().requires_grad_(True)
                for k, v in model.student_recorder.records.items()
            }
            t_rec = dict(model.teacher_recorder.records)
            model.student_recorder.clear()
            model.teacher_recorder.clear()
            info['features'] = dict(
                student={k: list(v.shape)
                         for k, v in s_rec.items()},
                teacher={k: list(v.shape)
                         for k, v in t_rec.items()})

            def fn() -> None:
                model.zero_grad(set_to_none=True)
                for v in s_rec.values():
                    v.grad = None
                losses = model.compute_distill_losses(s_rec, t_rec)
                sum(losses.values()).backward()
        else:
            raise ValueError(f'unknown phase {phase!r}')
    if phase in ('teacher', 'teacher_full'):
        info['teacher_modules_run'] = modules_run(model.teacher, fn)
    out = time_phase(fn, device, spec['warmup'], spec['repeats'])
    out.update(info)
    return out


# ------------------------------------------------------------ execution


def run_case(spec: Dict[str, Any]) -> Dict[str, Any]:
    torch.set_num_threads(spec['threads'])
    if spec['kind'] == 'loss':
        return run_loss_case(spec)
    return run_step_case(spec)


# glibc: serve every allocation >= 128 KiB by mmap and return it on free, so
# the resident set follows the live tensors (the default dynamic threshold
# keeps freed blocks up to 32 MiB in the heap, which inflates the high-water
# mark by whatever happened to be retained). Slower (page faults), hence
# only for a separate memory run.
EXACT_MEMORY_ENV = {'MALLOC_MMAP_THRESHOLD_': str(128 * 1024)}


def run_isolated(spec: Dict[str, Any],
                 timeout: float,
                 extra_env: Optional[Dict[str, str]] = None
                 ) -> Dict[str, Any]:
    """Run one case in a fresh interpreter; its result or the error tail."""
    cmd = [sys.executable, osp.abspath(__file__), '--worker', json.dumps(spec)]
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.update(extra_env or {})
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return dict(error=f'timed out after {timeout:.0f} s')
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
    return dict(error=f'exit {proc.returncode}: ' + ' | '.join(tail))


def execute(spec: Dict[str, Any], args) -> Dict[str, Any]:
    """Time one case; on CPU with ``--cpu-memory exact`` measure its memory
    in a second, separate run (one iteration, exact-memory allocator)."""
    if not args.isolate:
        try:
            return run_case(spec)
        except Exception as e:  # keep the other cases going, report this
            return dict(error=f'{type(e).__name__}: {e}')
    result = run_isolated(spec, args.case_timeout)
    if ('error' in result or spec['device'] != 'cpu'
            or args.cpu_memory != 'exact'):
        return result
    mem = run_isolated(
        dict(spec, warmup=0, repeats=1), args.case_timeout, EXACT_MEMORY_ENV)
    if 'error' in mem:
        result['memory_error'] = mem['error']
        return result
    result['timing_run_peak_mib'] = result['peak_mib']
    result['timing_run_peak_delta_mib'] = result['peak_delta_mib']
    result['peak_mib'] = mem['peak_mib']
    result['peak_delta_mib'] = mem['peak_delta_mib']
    result['memory_method'] = (mem['memory_method'] + ', separate one-'
                               'iteration run with MALLOC_MMAP_THRESHOLD_='
                               + EXACT_MEMORY_ENV['MALLOC_MMAP_THRESHOLD_'])
    return result


def calibrate_gflops(device: torch.device) -> float:
    """Sustained fp32 matmul GFLOP/s (for the skip estimates only)."""
    n = 1024 if device.type == 'cpu' else 8192
    a = torch.randn(n, n, device=device)
    a @ a
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    reps = 3
    for _ in range(reps):
        a @ a
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return 2.0 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def available_bytes(device: torch.device) -> float:
    if device.type == 'cuda':
        free, _ = torch.cuda.mem_get_info(device)
        return float(free)
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 8.0 * 1024**3


def plan_loss_cases(args, device: torch.device) -> List[Dict[str, Any]]:
    gflops = calibrate_gflops(device)
    mem_limit = args.memory_fraction * available_bytes(device)
    cases = []
    for cs, ct in args.channels:
        for size in args.sizes:
            for mode in args.modes:
                for name in args.losses:
                    spec = dict(
                        kind='loss',
                        loss=name,
                        mode=mode,
                        cs=cs,
                        ct=ct,
                        size=size,
                        batch=args.batch,
                        window=args.window,
                        shift=args.shift,
                        max_tokens=args.max_tokens,
                        num_merges=args.num_merges,
                        device=str(device),
                        warmup=args.warmup,
                        repeats=args.repeats,
                        threads=args.threads,
                        seed=args.seed)
                    flops, nbytes = loss_cost(spec)
                    est_s = flops / (gflops * 1e9 * 0.5)
                    spec.update(
                        est_gflop=flops / 1e9,
                        est_mib=nbytes / MiB,
                        est_s_per_iter=est_s)
                    if name == 'naive_window' and size % args.window:
                        spec['skip'] = (f'map {size} not divisible by window '
                                        f'{args.window} (no padding in the '
                                        'official code)')
                    elif nbytes > mem_limit:
                        spec['skip'] = (
                            f'would not fit: ~{nbytes / 2**30:.1f} GiB '
                            f'estimated > {mem_limit / 2**30:.1f} GiB '
                            'allowed')
                    elif est_s * (args.warmup + args.repeats) > \
                            args.case_budget:
                        spec['skip'] = (
                            f'too slow here: ~{est_s:.0f} s/iter estimated '
                            f'({flops / 1e12:.1f} TFLOP at '
                            f'{gflops:.0f} GFLOP/s measured) > budget '
                            f'{args.case_budget:.0f} s per case')
                    cases.append(spec)
    return cases


def plan_step_cases(args, device: torch.device) -> List[Dict[str, Any]]:
    return [
        dict(
            kind='step',
            phase=phase,
            config=args.config,
            crop=args.crop,
            batch=args.step_batch,
            device=str(device),
            warmup=args.step_warmup,
            repeats=args.step_repeats,
            threads=args.threads,
            lr=args.lr,
            seed=args.seed) for phase in args.phases
    ]


# ------------------------------------------------------------ reporting


def fmt_s(x: Optional[float]) -> str:
    if x is None:
        return '-'
    return f'{x * 1e3:.1f} ms' if x < 1 else f'{x:.2f} s'


def loss_table(cases: List[Dict[str, Any]]) -> str:
    rows = [
        '| C_s->C_t | map | mode | loss | fwd+bwd (median) | speed-up vs TaT '
        '| peak mem (delta) |', '|---|---|---|---|---:|---:|---:|'
    ]
    ref = {}
    for c in cases:
        if c['loss'] == 'tat' and 'median_s' in c:
            ref[(c['cs'], c['ct'], c['size'], c['mode'])] = c['median_s']
    for c in cases:
        if not any(k in c for k in ('median_s', 'skip', 'error')):
            continue  # not run yet
        key = (c['cs'], c['ct'], c['size'], c['mode'])
        head = (f"| {c['cs']}->{c['ct']} | {c['size']}x{c['size']} | "
                f"{c['mode']} | {c['loss']} ")
        if 'skip' in c or 'error' in c:
            why = c.get('skip') or c.get('error')
            rows.append(head + f'| skipped: {why} | | |')
            continue
        ratio = (f'{ref[key] / c["median_s"]:.1f}x'
                 if key in ref and c['loss'] != 'tat' else
                 ('1.0x' if c['loss'] == 'tat' else 'n/a (global skipped)'))
        rows.append(head + f"| {fmt_s(c['median_s'])} | {ratio} | "
                    f"{c['peak_delta_mib']:.0f} MiB |")
    return '\n'.join(rows)


def loss_summary(cases: List[Dict[str, Any]]) -> List[str]:
    """Speed-up of SW-TaT over global TaT and its memory growth with H*W."""
    lines = []
    done = {(c['loss'], c['mode'], c['cs'], c['ct'], c['size']): c
            for c in cases if 'median_s' in c}
    keys = sorted({k[1:4] for k in done})
    for mode, cs, ct in keys:
        sizes = sorted(k[4] for k in done
                       if k[:4] == ('swtat', mode, cs, ct))
        for size in sizes:
            sw = done[('swtat', mode, cs, ct, size)]
            tat = done.get(('tat', mode, cs, ct, size))
            if tat is not None:
                lines.append(
                    f'{mode} {cs}->{ct} {size}x{size}: SWTaTLoss speed-up '
                    f"over global TaTLoss {tat['median_s'] / sw['median_s']:.1f}x")
        mems = [(s, done[('swtat', mode, cs, ct, s)]['peak_delta_mib'])
                for s in sizes]
        if len(mems) > 1:
            steps = ', '.join(
                f'{a}->{b}: x{mb / max(ma, 1e-9):.1f} (H*W x{(b / a)**2:.0f})'
                for (a, ma), (b, mb) in zip(mems, mems[1:]))
            lines.append(f'{mode} {cs}->{ct}: SWTaTLoss peak memory growth '
                         f'{steps}')
    return lines


def step_table(cases: List[Dict[str, Any]]) -> Tuple[str, Dict[str, Any]]:
    names = {
        'student': '(a) student train step alone',
        'teacher': '(b) teacher no-grad forward (as the distiller runs it)',
        'distill': '(c) full distillation train step',
        'teacher_full': 'teacher full forward (backbone + heads), reference',
        'distill_losses': 'distillation losses fwd+bwd alone, reference',
    }
    rows = [
        '| phase | s/iter (median) | CPU s/iter | peak mem | mem growth |',
        '|---|---:|---:|---:|---:|'
    ]
    by = {c['phase']: c for c in cases}
    for c in cases:
        label = names.get(c['phase'], c['phase'])
        if 'median_s' not in c and 'error' not in c:
            continue  # not run yet
        if 'error' in c:
            rows.append(f"| {label} | error: {c['error']} | | | |")
            continue
        cpu = (fmt_s(c['median_cpu_s'])
               if c['device'] == 'cpu' else '-')
        rows.append(f"| {label} | {fmt_s(c['median_s'])} | {cpu} | "
                    f"{c['peak_mib']:.0f} MiB | "
                    f"{c['peak_delta_mib']:.0f} MiB |")
    summary: Dict[str, Any] = {}
    if all(p in by and 'median_s' in by[p]
           for p in ('student', 'teacher', 'distill')):
        a, b, c = (by[p]['median_s'] for p in ('student', 'teacher',
                                                   'distill'))
        summary['overhead'] = c / (a + b)
        summary['extra_s'] = c - (a + b)
        rows.append(f'\noverhead = c / (a + b) = {c:.3f} / ({a:.3f} + '
                    f'{b:.3f}) = **{c / (a + b):.3f}**')
        if 'distill_losses' in by and 'median_s' in by['distill_losses']:
            d = by['distill_losses']['median_s']
            summary['losses_share_of_extra'] = d / max(c - a - b, 1e-12)
            rows.append(f'distillation losses alone: {d:.3f} s '
                        f'({d / (a + b) * 100:.0f}% of a + b)')
        if 'teacher_full' in by and 'median_s' in by['teacher_full']:
            tf = by['teacher_full']['median_s']
            summary['teacher_early_exit_saving'] = 1 - b / tf
            rows.append(f'teacher early exit: {b:.3f} s vs full forward '
                        f'{tf:.3f} s ({(1 - b / tf) * 100:.0f}% saved)')
    return '\n'.join(rows), summary


def machine_info(device: torch.device, threads: int) -> Dict[str, Any]:
    info = dict(
        device=str(device),
        torch=torch.__version__,
        python=platform.python_version(),
        threads=threads,
        cpu_count=os.cpu_count(),
        platform=platform.platform(),
        time=time.strftime('%Y-%m-%d %H:%M:%S'))
    try:
        info['loadavg_start'] = list(os.getloadavg())
    except OSError:
        pass
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


# ------------------------------------------------------------ CLI


def num_merges_arg(text: str) -> Any:
    """``--num-merges``: an int or ``'auto'``."""
    return text if text == 'auto' else int(text)


def channel_pair(text: str) -> Tuple[int, int]:
    try:
        cs, ct = (int(v) for v in text.split(':'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'channels must be CS:CT, e.g. 512:2048, got {text!r}') from None
    return cs, ct


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--part', choices=['all', 'loss', 'step'], default='all')
    p.add_argument('--device', default='auto',
                   help="'auto' (cuda if available), 'cpu' or 'cuda[:i]'")
    p.add_argument('--out', help='JSON path (default work_dirs/benchmark/'
                   'benchmark_<device>.json)')
    p.add_argument('--quick', action='store_true',
                   help='tiny shapes, one repeat, in-process: a smoke test')
    p.add_argument('--threads', type=int, default=torch.get_num_threads(),
                   help='torch intra-op threads')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--no-isolate', dest='isolate', action='store_false',
                   help='run every case in this process (faster to start; '
                   'CPU memory then relies on the VmHWM reset alone)')
    p.add_argument('--case-timeout', type=float, default=1800,
                   help='seconds before an isolated case is abandoned')
    p.add_argument(
        '--cpu-memory',
        choices=['exact', 'fast'],
        default='exact',
        help="CPU only. 'exact': memory from a second one-iteration run of "
        'each case whose allocator returns freed memory to the OS (the '
        "resident set then follows the live tensors); 'fast': the timing "
        "run's high-water mark (allocator retention inflates it)")
    g = p.add_argument_group('loss micro-benchmark')
    g.add_argument('--losses', nargs='+', default=list(LOSSES),
                   choices=LOSSES)
    g.add_argument('--modes', nargs='+', default=['paper', 'module'],
                   choices=['paper', 'module'],
                   help="'paper': embed=False (Q = T, K = V = S); 'module': "
                   'with the 1x1 conv+BN embeddings')
    g.add_argument('--channels', nargs='+', type=channel_pair,
                   default=[(512, 2048), (512, 512)], help='CS:CT pairs')
    g.add_argument('--sizes', nargs='+', type=int, default=[32, 64, 128])
    g.add_argument('--batch', type=int, default=2)
    g.add_argument('--window', type=int, default=8)
    g.add_argument('--shift', type=int, default=4)
    g.add_argument('--num-merges', type=num_merges_arg, default=1,
                   help="PatchMergeTaTLoss num_merges (int or 'auto')")
    g.add_argument('--max-tokens', type=int, default=1024,
                   help="PatchMergeTaTLoss num_merges='auto' budget")
    g.add_argument('--warmup', type=int, default=2)
    g.add_argument('--repeats', type=int, default=5)
    g.add_argument('--case-budget', type=float, default=300,
                   help='skip a loss case estimated to take longer (s)')
    g.add_argument('--memory-fraction', type=float, default=0.6,
                   help='skip a loss case estimated to need more than this '
                   'fraction of the available memory')
    g = p.add_argument_group('step benchmark')
    g.add_argument('--config', default=DEFAULT_CONFIG,
                   help='distillation config (file or scope::path)')
    g.add_argument('--crop', type=int,
                   help='crop side (default 256 on CPU, 512 on GPU)')
    g.add_argument('--step-batch', type=int, default=2)
    g.add_argument('--step-warmup', type=int, default=2)
    g.add_argument('--step-repeats', type=int, default=5)
    g.add_argument(
        '--phases',
        nargs='+',
        default=['student', 'teacher', 'distill', 'teacher_full',
                 'distill_losses'],
        choices=['student', 'teacher', 'distill', 'teacher_full',
                 'distill_losses'])
    g.add_argument('--lr', type=float, default=1e-6,
                   help='learning rate of the timed steps (the cost does '
                   'not depend on it; tiny keeps random-weight runs finite)')
    p.add_argument(
        '--report',
        nargs='+',
        metavar='JSON',
        help='print the tables of earlier runs instead of running (several '
        'files are merged, later cases replacing earlier ones with the same '
        'settings; with --out the merge is written)')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        # One thread: on a busy machine OpenMP barriers of several threads
        # make tiny ops very slow.
        args.isolate, args.threads = False, 1
        args.sizes = [8]
        args.channels = [(16, 32), (16, 16)]
        args.window, args.shift, args.max_tokens = 4, 2, 16
        args.warmup, args.repeats = 1, 1
        args.step_warmup, args.step_repeats = 0, 1
        args.crop = args.crop or 32
    return args


def loadavg() -> Optional[float]:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def render(report: Dict[str, Any]) -> None:
    """(Re)build the tables and summaries of ``report`` from its cases."""
    if report.get('loss'):
        report['loss_table'] = loss_table(report['loss'])
        report['loss_summary'] = loss_summary(report['loss'])
    if report.get('step'):
        report['step_table'], report['step_summary'] = step_table(
            report['step'])


def save(report: Dict[str, Any], out: str) -> None:
    """Write the report (after every case: a killed run keeps its cases)."""
    render(report)
    tmp = out + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, out)


def merge_reports(paths: List[str]) -> Dict[str, Any]:
    """Several JSON reports as one; a later case replaces an earlier one
    with the same settings (e.g. a re-run on a quieter machine)."""
    merged: Dict[str, Any] = dict(machine=[], loss=[], step=[])
    index: Dict[tuple, int] = {}
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        merged['machine'].append(dict(report.get('machine', {}), file=path))
        for part in ('loss', 'step'):
            for case in report.get(part, []):
                key = (part, ) + tuple(
                    case.get(k) for k in ('loss', 'mode', 'cs', 'ct', 'size',
                                          'phase', 'crop', 'batch',
                                          'device'))
                if key in index:
                    merged[part][index[key]] = case
                else:
                    index[key] = len(merged[part])
                    merged[part].append(case)
    return {k: v for k, v in merged.items() if v}


def print_report(report: Dict[str, Any]) -> None:
    if report.get('loss'):
        print('\nLoss forward + backward:\n')
        print(report['loss_table'])
        print('\n' + '\n'.join(report['loss_summary']))
    if report.get('step'):
        first = report['step'][0]
        print(f"\nDistillation step, {first['config']}, crop "
              f"{first['crop']}, batch {first['batch']}:\n")
        print(report['step_table'])


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    if args.worker:
        result = run_case(json.loads(args.worker))
        print(RESULT_TAG + json.dumps(result), flush=True)
        return result
    if args.report:
        report = merge_reports(args.report)
        render(report)
        if args.out:
            save(report, args.out)
        print_report(report)
        return report
    device = torch.device('cuda' if args.device == 'auto'
                          and torch.cuda.is_available() else
                          ('cpu' if args.device == 'auto' else args.device))
    if args.crop is None:
        args.crop = 512 if device.type == 'cuda' else 256
    torch.set_num_threads(args.threads)
    out = args.out or osp.join('work_dirs', 'benchmark',
                               f'benchmark_{device.type}.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    report: Dict[str, Any] = dict(
        machine=machine_info(device, args.threads),
        settings={
            k: v
            for k, v in vars(args).items() if k not in ('worker', 'report')
        })
    print(f"benchmark on {report['machine'].get('cpu', device)} "
          f'({device}, {args.threads} threads, load average '
          f"{report['machine'].get('loadavg_start')})", flush=True)

    def run_all(part: str, cases: List[Dict[str, Any]]) -> None:
        report[part] = cases
        for i, spec in enumerate(cases):
            label = (f"[{part} {i + 1}/{len(cases)}] " +
                     (f"{spec['loss']} {spec['mode']} {spec['cs']}->"
                      f"{spec['ct']} {spec['size']}x{spec['size']}"
                      if part == 'loss' else spec['phase']))
            if 'skip' in spec:
                print(f"{label}: skipped ({spec['skip']})", flush=True)
                continue
            spec['loadavg_before'] = loadavg()
            spec.update(execute(spec, args))
            spec['loadavg_after'] = loadavg()
            print(f'{label}: ' + (spec['error'] if 'error' in spec else
                                  f"{fmt_s(spec['median_s'])}, peak "
                                  f"{spec['peak_mib']:.0f} MiB (+"
                                  f"{spec['peak_delta_mib']:.0f})"),
                  flush=True)
            save(report, out)

    if args.part in ('all', 'loss'):
        run_all('loss', plan_loss_cases(args, device))
    if args.part in ('all', 'step'):
        run_all('step', plan_step_cases(args, device))
    report['machine']['loadavg_end'] = list(os.getloadavg())
    save(report, out)
    print_report(report)
    print(f'\nwritten {out}')
    return report


if __name__ == '__main__':
    main()
