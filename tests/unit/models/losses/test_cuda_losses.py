"""GPU only (``-m cuda``): the TaT losses on CUDA, SDPA vs explicit matmul,
and fp32 loss arithmetic under fp16 autocast. Skipped without a GPU."""
import pytest
import torch

from mmswtat.models import PatchMergeTaTLoss, SWTaTLoss, TaTLoss

pytestmark = pytest.mark.cuda
LOSSES = {
    'tat':
    lambda impl: TaTLoss(32, 64, attn_impl=impl),
    'swtat':
    lambda impl: SWTaTLoss(
        32, 64, window_size=4, shift_size=2, attn_impl=impl),
    'pmtat':
    lambda impl: PatchMergeTaTLoss(32, 64, num_merges=1, attn_impl=impl),
}


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(2, 32, 16, 16, generator=g)
    t = torch.randn(2, 64, 16, 16, generator=g)
    return s.cuda().requires_grad_(True), t.cuda()


def value_and_grad(loss, s, t):
    value = loss(s, t)
    (grad, ) = torch.autograd.grad(value, s)
    return value, grad


@pytest.mark.parametrize('name', sorted(LOSSES))
def test_sdpa_equals_matmul_and_the_cpu_float64_value(name):
    torch.manual_seed(0)
    ref = LOSSES[name]('matmul').double()
    s, t = inputs()
    v64, g64 = value_and_grad(ref,
                              s.detach().cpu().double().requires_grad_(True),
                              t.cpu().double())
    for impl in ('matmul', 'sdpa'):
        loss = LOSSES[name](impl).cuda()
        loss.load_state_dict(ref.state_dict())
        value, grad = value_and_grad(loss, s, t)
        torch.testing.assert_close(
            value.double().cpu(), v64, rtol=2e-3, atol=1e-5)
        torch.testing.assert_close(
            grad.double().cpu(), g64, rtol=5e-3, atol=1e-5)


@pytest.mark.parametrize('name', sorted(LOSSES))
def test_losses_compute_in_fp32_under_fp16_autocast(name):
    torch.manual_seed(0)
    loss = LOSSES[name]('auto').cuda()
    s, t = inputs(1)
    plain, _ = value_and_grad(loss, s, t)
    with torch.autocast('cuda', dtype=torch.float16):
        value, grad = value_and_grad(loss, s.half(), t.half())
    assert value.dtype == torch.float32 and torch.isfinite(grad).all()
    torch.testing.assert_close(value, plain, rtol=1e-2, atol=1e-4)
