"""Datasets of mmswtat.

Nothing here is registered: training uses the stock OpenMMLab dataset
classes. :mod:`mmswtat.datasets.synthetic` writes tiny learnable datasets in
their real on-disk formats (numpy and Pillow only, no OpenMMLab import), for
the tests and ``tools/make_synthetic_data.py``. The runner's checks of a
dataset's files are :mod:`mmswtat.engine.data_checks`; the accuracy
benchmark's digit scenes are :mod:`mmswtat.benchmark.data`.
"""
