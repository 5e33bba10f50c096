from .cls import cls_tiny_options
from .det import det_tiny_options
from .seg_batch import random_seg_batch
from .tiny import as_cli, seg_tiny_options
from .walk import leaf_datasets, loader_datasets

__all__ = [
    'as_cli', 'cls_tiny_options', 'det_tiny_options', 'leaf_datasets',
    'loader_datasets', 'random_seg_batch', 'seg_tiny_options'
]
