"""Bad configs and batches: one clear error naming the mistake (issue 16)."""
import pytest
import torch
from mmengine.registry import init_default_scope

from mmswtat.registry import MODELS
from seg_helpers import distiller_cfg, seg_batch


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


def build(**overrides):
    torch.manual_seed(0)
    return MODELS.build(distiller_cfg(**overrides))


def loss_step(model, seed=0):
    data = model.data_preprocessor(seg_batch(seed=seed), True)
    return model(**data, mode='loss')


def test_random_teacher_warned_at_the_first_step_not_at_test(monkeypatch):
    from mmswtat.models.distillers import single_teacher_distiller as mod
    calls = []
    monkeypatch.setattr(mod, 'warn_random_teacher', lambda: calls.append(1))
    model = build()
    model.eval()
    data = model.data_preprocessor(seg_batch(), False)
    model(**data, mode='predict')
    assert calls == []
    model.train()
    loss_step(model)
    loss_step(model)
    assert calls == [1]
