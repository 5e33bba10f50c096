"""Real-data accuracy benchmark of distillation methods (digit scenes).

``tools/analysis/accuracy_benchmark.py`` is its command line; see
``docs/accuracy.md`` for the protocol and the results.
"""
from .bench import run_sweep, run_table, sweep_grid
from .methods import METHODS, check_methods, distill_config
from .settings import BenchmarkSettings, NetSettings, quick_settings

__all__ = [
    'BenchmarkSettings', 'METHODS', 'NetSettings', 'check_methods',
    'distill_config', 'quick_settings', 'run_sweep', 'run_table', 'sweep_grid'
]
