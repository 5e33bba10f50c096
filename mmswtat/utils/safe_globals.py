"""Allow-list what mmengine writes into checkpoints, for ``weights_only``
loads.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the
objects mmengine 0.10.7 stores in training checkpoints: its ``HistoryBuffer``
in the message hub, numpy arrays and scalars inside it, and the buffer's
statistics methods, pickled as ``getattr(HistoryBuffer, 'min')``. Rather than
turning safe loading off, we allow exactly these: the types, and a
``getattr`` that resolves nothing but those methods.
"""
import pickle
from typing import Any

import torch


def _numpy_globals() -> list:
    import numpy as np
    items = [np.ndarray, np.dtype]
    try:  # numpy >= 1.25 / 2.x location
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover
        from numpy._core.multiarray import _reconstruct, scalar
    items += [_reconstruct, scalar]
    # dtype classes, e.g. numpy.dtypes.Float64DType (numpy >= 1.25)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        items += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return items


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods.

    Stands in for ``builtins.getattr`` inside ``weights_only`` unpickling
    only; any other use is refused.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = {'min', 'max', 'mean', 'current'}
    allowed.update(HistoryBuffer._statistics_methods)
    if isinstance(obj, type) and issubclass(obj, HistoryBuffer) \
            and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'weights_only load refused getattr({obj!r}, {name!r}): only '
        'HistoryBuffer statistics methods are allowed')


def register_safe_globals() -> None:
    """Add mmengine's checkpoint types to torch's ``weights_only``
    allow-list."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 has no allow-list (and loads unsafely)
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    add([HistoryBuffer] + _numpy_globals() +
        [(history_buffer_getattr, 'builtins.getattr')])
