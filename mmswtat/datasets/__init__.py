"""Datasets of mmswtat.

Nothing here is registered: training uses the stock OpenMMLab dataset
classes. :mod:`mmswtat.datasets.synthetic` writes tiny learnable datasets in
their real on-disk formats (numpy and Pillow only, no OpenMMLab import).
"""
