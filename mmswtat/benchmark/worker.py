"""``python -m mmswtat.benchmark.worker SPEC_JSON``: one isolated case.

Started by :func:`mmswtat.benchmark.execution.run_isolated`.
"""
import sys

from mmswtat.benchmark.execution import worker_main

if __name__ == '__main__':
    worker_main(sys.argv[1])
