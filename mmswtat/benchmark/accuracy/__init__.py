"""Real-data accuracy benchmark of distillation methods (digit scenes).

``tools/analysis/accuracy_benchmark.py`` is its command line; see
``docs/accuracy.md`` for the protocol and the results.
"""
from .bench import baseline_grid, run_sweep, run_table, sweep_grid
from .methods import DEFAULT_METHODS, check_methods, distill_config
from .settings import BenchmarkSettings, NetSettings, quick_settings

__all__ = [
    'BenchmarkSettings', 'DEFAULT_METHODS', 'NetSettings', 'baseline_grid',
    'check_methods', 'distill_config', 'quick_settings', 'run_sweep',
    'run_table', 'sweep_grid'
]
