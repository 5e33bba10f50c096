"""Benchmarks of the distillation losses and of the distillation step.

The library behind ``tools/analysis/benchmark.py`` (not imported by
``mmswtat`` itself: ``from mmswtat.benchmark import ...``):

* :mod:`.memory`, :mod:`.timing`: peak memory and median time of a phase;
* :mod:`.loss_cases`: the loss micro-benchmark (plan, cost model, run);
* :mod:`.step`: the step benchmark (student, teacher, distillation step);
* :mod:`.execution`: running a case here or in a fresh interpreter
  (:mod:`.worker`);
* :mod:`.report`: tables, summaries, JSON files and their merging
  (:mod:`.step_report`: the step tables per crop and teacher precision);
* :mod:`.naive_tat`: the naive windowed TaT of the official code, the
  baseline of the loss micro-benchmark.
"""
from .execution import (QUICK_SETTINGS, RESULT_TAG, apply_quick_settings,
                        check_device, execute, resolve_device, run_case,
                        run_isolated, run_part, worker_main)
from .loss_cases import (LOSSES, MODES, build_loss, loss_cost, plan_loss_cases,
                         run_loss_case)
from .memory import PeakMemory, available_bytes
from .naive_tat import (NaiveWindowTaTLoss, naive_window_tat,
                        naive_window_tat_error)
from .report import (failed_cases, finish_report, loss_summary, loss_table,
                     machine_info, merge_reports, output_path, print_report,
                     render, save, show_reports, start_report)
from .step import (DEFAULT_CONFIG, PHASES, TEACHER_PHASES, build_distiller,
                   default_crop, plan_step_cases, run_step_case, step_case)
from .step_report import settings_summary, settings_table, step_table
from .timing import calibrate_gflops, fmt_s, time_phase

__all__ = [
    'DEFAULT_CONFIG', 'LOSSES', 'MODES', 'PHASES', 'QUICK_SETTINGS',
    'RESULT_TAG', 'TEACHER_PHASES', 'apply_quick_settings', 'check_device',
    'NaiveWindowTaTLoss', 'PeakMemory', 'available_bytes', 'build_distiller',
    'build_loss', 'calibrate_gflops', 'default_crop', 'execute',
    'failed_cases', 'finish_report', 'fmt_s', 'loss_cost', 'loss_summary',
    'loss_table', 'machine_info', 'merge_reports', 'naive_window_tat',
    'naive_window_tat_error', 'output_path', 'plan_loss_cases',
    'plan_step_cases', 'print_report', 'render', 'resolve_device', 'run_case',
    'run_isolated', 'run_loss_case', 'run_part', 'run_step_case', 'save',
    'settings_summary', 'settings_table', 'show_reports', 'start_report',
    'step_case', 'step_table', 'time_phase', 'worker_main'
]
