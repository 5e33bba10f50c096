"""Reference implementations used by ``tools/analysis/benchmark.py``.

Not imported by ``mmswtat`` itself: ``from mmswtat.benchmark import ...``.
"""
from .naive_tat import (NaiveWindowTaTLoss, naive_window_tat,
                        naive_window_tat_error)

__all__ = ['NaiveWindowTaTLoss', 'naive_window_tat', 'naive_window_tat_error']
