"""Checkpoints load weights-only (mmengine's types allowed, nothing
arbitrary) and AMP on CPU is a clear error."""
import io
import pickle

import numpy as np
import pytest
import torch
from seg_helpers import distiller_cfg

import mmswtat  # noqa: F401  (safe globals)
from mmswtat.registry import MODELS
from mmswtat.utils import check_amp_device
from mmswtat.utils.checkpoint import load_checkpoint_file

pytestmark = pytest.mark.usefixtures('mmseg_scope')


class Payload:
    """A class no allow-list knows: what a malicious pickle would carry."""

    def __init__(self):
        self.x = 1


def test_teacher_checkpoint_loads_weights_only(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=dict(payload=Payload())), path)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint_file(str(path))
    with pytest.raises(pickle.UnpicklingError):
        MODELS.build(distiller_cfg(teacher_ckpt=str(path)))
    # The documented opt-in for trusted legacy files.
    ckpt = load_checkpoint_file(str(path), weights_only=False)
    assert isinstance(ckpt['meta']['payload'], Payload)


def test_mmengine_checkpoint_types_allowed_but_not_arbitrary_getattr():
    from mmengine.logging.history_buffer import HistoryBuffer
    buf = HistoryBuffer()
    buf.update(1.5)
    stream = io.BytesIO()
    torch.save(dict(hub=buf, arr=np.arange(3), f=np.float64(2.0)), stream)
    stream.seek(0)
    loaded = torch.load(stream, weights_only=True)
    assert loaded['hub'].mean() == 1.5
    assert loaded['hub'].statistics('max') == 1.5

    class Sneaky:

        def __reduce__(self):
            return getattr, (np.ndarray, 'tofile')

    stream = io.BytesIO()
    torch.save(dict(x=Sneaky()), stream)
    stream.seek(0)
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        torch.load(stream, weights_only=True)


def test_amp_on_cpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip('a GPU is present')
    with pytest.raises(RuntimeError, match='--amp needs a GPU'):
        check_amp_device()
