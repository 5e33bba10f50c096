"""Walk the dataset wrappers of a loader config down to its leaf datasets.

Shared by the ``*_tiny_options`` helpers, which override ``data_root``,
pipelines and lengths on the datasets that actually load files.
"""
from typing import Iterator, Tuple

from mmengine.config import Config


def leaf_datasets(dataset: dict, key: str) -> Iterator[Tuple[str, dict]]:
    """``(dotted key, config)`` of every dataset that loads files.

    Wrappers (``RepeatDataset``, ``ClassBalancedDataset`` & co.) are entered
    through ``dataset``, ``ConcatDataset`` through ``datasets``, at any depth.

    Args:
        dataset: A dataset config, wrapper or not.
        key: Its dotted key (e.g. ``'train_dataloader.dataset'``).

    Yields:
        ``(key, config)`` of each leaf, in config order.
    """
    if 'datasets' in dataset:
        for i, ds in enumerate(dataset['datasets']):
            yield from leaf_datasets(ds, f'{key}.datasets.{i}')
    elif 'dataset' in dataset:
        yield from leaf_datasets(dataset['dataset'], f'{key}.dataset')
    else:
        yield key, dataset


def loader_datasets(cfg: Config, loader: str) -> Iterator[Tuple[str, dict]]:
    """:func:`leaf_datasets` of ``cfg[loader].dataset``.

    Args:
        cfg: The config.
        loader: ``'train_dataloader'``, ``'val_dataloader'`` or
            ``'test_dataloader'``.

    Yields:
        ``(dotted key, config)`` of each leaf dataset of the loader.
    """
    yield from leaf_datasets(cfg[loader]['dataset'], f'{loader}.dataset')


def repeat_keys(dataset: dict, key: str) -> Iterator[str]:
    """Dotted keys of the ``times`` of ``RepeatDataset``-like wrappers.

    Args:
        dataset: A dataset config, wrapper or not.
        key: Its dotted key.

    Yields:
        ``'<key>...times'`` of every wrapper with a ``times``.
    """
    if 'times' in dataset and 'dataset' in dataset:
        yield f'{key}.times'
    if 'dataset' in dataset:
        yield from repeat_keys(dataset['dataset'], f'{key}.dataset')
    for i, ds in enumerate(dataset.get('datasets', [])):
        yield from repeat_keys(ds, f'{key}.datasets.{i}')
