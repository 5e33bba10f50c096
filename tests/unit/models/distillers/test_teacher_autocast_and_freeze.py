"""The distiller under bf16 autocast (finite fp32 losses) and its
teacher, bit-identical to its checkpoint after training."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from seg_helpers import distiller_cfg, seg_batch

import mmswtat  # noqa: F401  (safe globals)
from mmswtat.registry import MODELS

pytestmark = pytest.mark.usefixtures('mmseg_scope')


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
