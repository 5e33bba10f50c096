"""Reliability guarantees that need no training run: autocast, safe loading."""
import io
import pickle

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from seg_helpers import distiller_cfg, seg_batch

import mmswtat  # noqa: F401  (safe globals)
from mmswtat.registry import MODELS
from mmswtat.utils import check_amp_device
from mmswtat.utils.checkpoint import load_checkpoint_file


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


class Payload:
    """A class no allow-list knows: what a malicious pickle would carry."""

    def __init__(self):
        self.x = 1


def test_bf16_autocast_distiller_losses_finite_and_fp32():
    torch.manual_seed(0)
    model = MODELS.build(distiller_cfg())
    model.train()
    data = model.data_preprocessor(seg_batch(), True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model(**data, mode='loss')
    for name in ('loss_swtat', 'loss_pmtat'):
        assert losses[name].dtype == torch.float32, name
        assert torch.isfinite(losses[name]), name
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()


def test_teacher_bit_identical_to_checkpoint_after_training(tmp_path):
    torch.manual_seed(1)
    teacher = MODELS.build(distiller_cfg()['teacher'])
    # Non-trivial BN statistics, so that any update would show.
    for m in teacher.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    path = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), path)
    model = MODELS.build(distiller_cfg(teacher_ckpt=str(path)))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train()
    for seed in range(3):
        model.train_step(seg_batch(seed=seed), optim)
    saved = torch.load(path, weights_only=True)['state_dict']
    current = model.teacher.state_dict()
    assert saved.keys() == current.keys()
    for key, value in saved.items():
        assert torch.equal(value, current[key]), key


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
