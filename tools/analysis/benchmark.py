"""Benchmark the distillation losses and the distillation training step.

Parts ``loss`` (forward + backward of each loss) and ``step`` (student step,
teacher forward, distillation step, ``overhead = c / (a + b)``); the library
is :mod:`mmswtat.benchmark`, docs/performance.md explains the cases, memory
figures and JSON report (``--out``). Examples::

    python tools/analysis/benchmark.py --part loss --sizes 32 64
    python tools/analysis/benchmark.py --part step --crops 256 512 \
--teacher-precision fp32 bf16    # per crop and teacher precision
    python tools/analysis/benchmark.py --quick            # tiny smoke run
"""
import argparse
import sys
from typing import Any, Dict, List, Optional

import torch

from mmswtat.benchmark import (DEFAULT_CONFIG, LOSSES, MODES, PHASES,
                               default_crop, failed_cases, finish_report,
                               output_path, plan_loss_cases, plan_step_cases,
                               resolve_device, run_part, show_reports,
                               start_report, worker_main)
from mmswtat.benchmark.options import (channel_pair, check_options,
                                       device_name, merges_type,
                                       settle_defaults)
from mmswtat.models.distillers.precision import TEACHER_PRECISIONS
from mmswtat.models.ops import ATTENTION_IMPLS
from mmswtat.utils.cli import (explicit_options, fraction, non_negative_int,
                               positive_float, positive_int)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Where and how the benchmark runs."""
    p.add_argument('--part', choices=['all', 'loss', 'step'], default='all')
    p.add_argument(
        '--device',
        default='auto',
        type=device_name,
        help="'auto' (cuda if available), 'cpu' or 'cuda[:i]'")
    p.add_argument(
        '--out',
        help='JSON path (default work_dirs/benchmark/'
        'benchmark_<device>.json)')
    p.add_argument(
        '--quick',
        action='store_true',
        help='tiny shapes, one repeat, in-process: a smoke test')
    p.add_argument(
        '--threads',
        type=positive_int,
        default=torch.get_num_threads(),
        help='torch intra-op threads')
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument(
        '--no-isolate',
        dest='isolate',
        action='store_false',
        help='run every case in this process (faster to start; '
        'CPU memory then relies on the VmHWM reset alone)')
    p.add_argument(
        '--case-timeout',
        type=positive_float,
        default=1800,
        help='seconds before an isolated case is abandoned')
    p.add_argument(
        '--cpu-memory',
        choices=['exact', 'fast'],
        default='exact',
        help="CPU only. 'exact': memory from a second one-iteration run of "
        'each case whose allocator returns freed memory to the OS (the '
        "resident set then follows the live tensors); 'fast': the timing "
        "run's high-water mark (allocator retention inflates it)")


def _add_loss_options(p: argparse.ArgumentParser) -> None:
    """The loss micro-benchmark (``--part loss``)."""
    g = p.add_argument_group('loss micro-benchmark')
    g.add_argument('--losses', nargs='+', default=LOSSES, choices=LOSSES)
    g.add_argument(
        '--modes',
        nargs='+',
        default=list(MODES),
        choices=MODES,
        help="'paper': embed=False (Q = T, K = V = S); 'module': "
        'with the 1x1 conv+BN embeddings')
    g.add_argument(
        '--channels',
        nargs='+',
        type=channel_pair,
        default=[(512, 2048), (512, 512)],
        help='CS:CT pairs')
    g.add_argument(
        '--sizes', nargs='+', type=positive_int, default=[32, 64, 128])
    g.add_argument('--batch', type=positive_int, default=2)
    g.add_argument('--window', type=positive_int, default=8)
    g.add_argument('--shift', type=non_negative_int, default=4)
    g.add_argument(
        '--num-merges',
        default=1,
        type=merges_type,
        help="PatchMergeTaTLoss num_merges (int or 'auto')")
    g.add_argument(
        '--attn-impl',
        default='auto',
        choices=ATTENTION_IMPLS,
        help="the TaT losses' attn_impl ('auto': matmul)")
    g.add_argument(
        '--max-tokens',
        type=positive_int,
        default=1024,
        help="PatchMergeTaTLoss num_merges='auto' budget")
    g.add_argument('--warmup', type=non_negative_int, default=2)
    g.add_argument('--repeats', type=positive_int, default=5)
    g.add_argument(
        '--case-budget',
        type=positive_float,
        default=300,
        help='skip a loss case estimated to take longer (s)')
    g.add_argument(
        '--memory-fraction',
        type=fraction,
        default=0.6,
        help='skip a loss case estimated to need more than this '
        'fraction of the available memory')


def _add_step_options(p: argparse.ArgumentParser) -> None:
    """The step benchmark (``--part step``)."""
    g = p.add_argument_group('step benchmark')
    g.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='distillation config (file or scope::path)')
    g.add_argument(
        '--crops',
        '--crop',
        nargs='+',
        type=positive_int,
        help='crop sides (default 256 on CPU, 512 on GPU)')
    g.add_argument(
        '--teacher-precision',
        nargs='+',
        default=['fp32'],
        choices=TEACHER_PRECISIONS,
        help="the distiller's "
        'teacher_precision: teacher, distill and teacher_full '
        'are timed under each (c / (a + b_fp32) needs fp32)')
    g.add_argument('--step-batch', type=positive_int, default=2)
    g.add_argument('--step-warmup', type=non_negative_int, default=2)
    g.add_argument('--step-repeats', type=positive_int, default=5)
    g.add_argument('--phases', nargs='+', default=PHASES, choices=PHASES)
    g.add_argument(
        '--lr',
        type=positive_float,
        default=1e-6,
        help='learning rate of the timed steps (the cost does '
        'not depend on it; tiny keeps random-weight runs finite)')


def _add_report_options(p: argparse.ArgumentParser) -> None:
    """``--report``, ``--force`` and the worker entry."""
    p.add_argument(
        '--report',
        nargs='+',
        metavar='JSON',
        help='print the '
        'tables of earlier runs instead (merged: a later case '
        'replaces one with the same settings; --out writes it)')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    p.add_argument(
        '--force', action='store_true', help='replace an existing --out file')


def build_parser() -> argparse.ArgumentParser:
    """The tool's parser (the options in ``--help`` order)."""
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_run_options(p)
    _add_loss_options(p)
    _add_step_options(p)
    _add_report_options(p)
    return p


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line, checked: numbers by their argparse types, the
    rest by :func:`~mmswtat.benchmark.options.check_options`; ``--quick``
    sets tiny sizes where no value was given."""
    p = build_parser()
    args = p.parse_args(argv)
    if args.worker:
        return args
    for note in settle_defaults(vars(args), explicit_options(p, argv)):
        print(f'[benchmark] {note}', file=sys.stderr)
    try:
        check_options(args)
    except ValueError as e:
        p.error(str(e))
    return args


def exit_status(report: Any) -> int:
    """1 if a case of the report failed (after it was written), else 0."""
    failed = failed_cases(report) if isinstance(report, dict) else []
    if failed:
        print(
            f'[benchmark] {len(failed)} case(s) failed: ' +
            '; '.join(failed[:5]),
            file=sys.stderr)
    return 1 if failed else 0


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the benchmark (or print/merge earlier reports); the report."""
    args = parse_args(argv)
    if args.worker:  # one isolated case (see mmswtat.benchmark.worker)
        return worker_main(args.worker)
    if args.report:
        return show_reports(args.report, args.out)
    device = resolve_device(args.device)
    args.crops = args.crops or [default_crop(device)]
    torch.set_num_threads(args.threads)
    out = output_path(args.out, device)
    report = start_report(device, args.threads, {
        k: v
        for k, v in vars(args).items() if k not in ('worker', 'report')
    })
    run = dict(
        isolate=args.isolate,
        case_timeout=args.case_timeout,
        cpu_memory=args.cpu_memory)
    if args.part in ('all', 'loss'):
        cases = plan_loss_cases(
            device,
            losses=args.losses,
            modes=args.modes,
            channels=args.channels,
            sizes=args.sizes,
            batch=args.batch,
            window=args.window,
            shift=args.shift,
            max_tokens=args.max_tokens,
            num_merges=args.num_merges,
            case_budget=args.case_budget,
            attn_impl=args.attn_impl,
            memory_fraction=args.memory_fraction,
            warmup=args.warmup,
            repeats=args.repeats,
            threads=args.threads,
            seed=args.seed)
        run_part(report, 'loss', cases, out, **run)
    if args.part in ('all', 'step'):
        cases = plan_step_cases(
            device,
            config=args.config,
            crops=args.crops,
            precisions=args.teacher_precision,
            batch=args.step_batch,
            phases=args.phases,
            warmup=args.step_warmup,
            repeats=args.step_repeats,
            threads=args.threads,
            lr=args.lr,
            seed=args.seed)
        run_part(report, 'step', cases, out, **run)
    return finish_report(report, out)


if __name__ == '__main__':
    sys.exit(exit_status(main()))
