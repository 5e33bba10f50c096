"""teacher_precision: the teacher's forward under bf16/fp16 autocast.

Features against the fp32 teacher's (relative error bounded), the loss value
close, fp32 features at the losses, 'auto', and the errors. The tests marked
``cuda`` run only on a GPU (tools/analysis/gpu_check.sh).
"""
import math

import pytest
import torch
from mmengine.optim import AmpOptimWrapper
from seg_helpers import distiller_cfg, seg_batch

from mmswtat.models.distillers import precision as prec
from mmswtat.registry import MODELS

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def build(teacher_precision, device='cpu'):
    torch.manual_seed(0)
    model = MODELS.build(distiller_cfg(teacher_precision=teacher_precision))
    return model.to(device).train()


def records(model):
    data = model.data_preprocessor(seg_batch(), True)
    return model.record_features(data['inputs'], data['data_samples'])


def relative_error(x, ref):
    return ((x.double() - ref.double()).norm() / ref.double().norm()).item()


def compare_with_fp32(precision, device, bound):
    """Teacher features and the losses of a ``precision`` teacher vs fp32."""
    ref, low = build('fp32', device), build(precision, device)
    s_ref, t_ref = records(ref)
    _, t_low = records(low)
    assert t_low['feat'].dtype == torch.float32
    err = relative_error(t_low['feat'], t_ref['feat'])
    assert 0 < err < bound, err  # 0 would mean autocast did nothing
    with torch.no_grad():
        l_ref = ref.compute_distill_losses(s_ref, t_ref)
        l_low = ref.compute_distill_losses(s_ref, t_low)
    for name in l_ref:
        assert l_low[name].item() == pytest.approx(
            l_ref[name].item(), rel=2 * bound), name


def test_bf16_teacher_features_and_losses_close_to_fp32(monkeypatch):
    # Measured: relative error 1.0%, cosine 0.99995; losses within 1.2%.
    # (Fast-bf16 flags faked: the numbers do not depend on them, the
    # slow-bf16 warning is tested below.)
    monkeypatch.setattr(prec, 'cpu_flags', lambda: frozenset({'amx_bf16'}))
    compare_with_fp32('bf16', 'cpu', bound=0.03)


def test_teacher_features_reach_the_losses_in_fp32(monkeypatch):
    monkeypatch.setattr(prec, 'cpu_flags', lambda: frozenset({'amx_bf16'}))
    model = build('auto')
    seen = []
    for loss in model.distill_losses.values():
        loss.register_forward_pre_hook(
            lambda m, args: seen.append([a.dtype for a in args]))
    data = model.data_preprocessor(seg_batch(), True)
    losses = model(**data, mode='loss')
    assert model.frozen_teacher.resolved_precision('cpu') == 'bf16'
    assert seen == [[torch.float32, torch.float32]] * 2
    assert all(v.dtype == torch.float32 for k, v in losses.items()
               if k.startswith('loss_'))
    sum(v for k, v in losses.items() if 'loss' in k).backward()


def test_fp32_teacher_stays_fp32_inside_an_outer_autocast():
    model = build('fp32')
    _, ref = records(model)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        _, inside = records(model)
    assert torch.equal(inside['feat'], ref['feat'])


def test_auto_picks_bf16_only_where_fast_and_logs_once(monkeypatch):
    logged = []
    monkeypatch.setattr(prec, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    for flags, chosen in ((set(), 'fp32'), ({'avx512_bf16'}, 'bf16'),
                          ({'amx_bf16', 'avx2'}, 'bf16')):
        monkeypatch.setattr(prec, 'cpu_flags', lambda f=flags: frozenset(f))
        assert prec.resolve_teacher_precision('auto', 'cpu') == chosen
        assert f'runs in {chosen} on cpu' in logged[-1]
    model = build('auto')
    logged.clear()
    records(model)
    records(model)
    assert len(logged) == 1 and "teacher_precision='auto'" in logged[0]
    assert prec.resolve_teacher_precision('auto', 'mps', log=False) == 'fp32'


def test_cpu_flags_read_from_proc_cpuinfo():
    flags = prec.cpu_flags()
    assert isinstance(flags, frozenset)
    try:
        with open('/proc/cpuinfo') as f:
            text = f.read()
    except OSError:
        assert flags == frozenset()
        return
    assert ('avx512_bf16' in text) == ('avx512_bf16' in flags)
    assert prec.has_fast_bf16('cpu') == any(f in text.split()
                                            for f in prec.FAST_BF16_CPU_FLAGS)


def test_bf16_without_fast_bf16_warns_that_it_may_be_slower(monkeypatch):
    monkeypatch.setattr(prec, 'cpu_flags', lambda: frozenset({'avx2'}))
    with pytest.warns(UserWarning, match='may run slower than in fp32'):
        assert prec.resolve_teacher_precision('bf16', 'cpu') == 'bf16'
    monkeypatch.setattr(prec, 'cpu_flags', lambda: frozenset({'amx_bf16'}))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert prec.resolve_teacher_precision('bf16', 'cpu') == 'bf16'


def test_unknown_precision_lists_the_choices():
    with pytest.raises(
            ValueError,
            match="teacher_precision must be one of "
            "'fp32', 'bf16', 'fp16', 'auto', got 'half'"):
        build('half')


def test_fp16_on_cpu_names_bf16():
    with pytest.raises(
            ValueError,
            match="'fp16' needs a GPU.*use "
            "teacher_precision='bf16'"):
        prec.resolve_teacher_precision('fp16', 'cpu')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="teacher_precision='bf16'"):
            build('fp16')


def test_to_fp32_walks_containers_and_keeps_other_types():
    half = torch.ones(2, dtype=torch.bfloat16)
    out = prec.to_fp32(
        dict(
            a=(half, [half.half()]), b=torch.ones(1, dtype=torch.float64),
            c=3))
    assert out['a'][0].dtype == out['a'][1][0].dtype == torch.float32
    assert isinstance(out['a'], tuple) and isinstance(out['a'][1], list)
    assert out['b'].dtype == torch.float64 and out['c'] == 3


# ------------------------------------------------------------ GPU only
@pytest.mark.cuda
@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_cuda_half_teacher_close_to_fp32(precision):
    if precision == 'bf16' and not torch.cuda.is_bf16_supported():
        pytest.skip('this GPU has no bf16')
    compare_with_fp32(precision, 'cuda', bound=0.03)


@pytest.mark.cuda
def test_cuda_auto_follows_bf16_support():
    expected = 'bf16' if torch.cuda.is_bf16_supported() else 'fp32'
    assert prec.resolve_teacher_precision('auto', 'cuda') == expected


@pytest.mark.cuda
@pytest.mark.parametrize('precision', ['fp32', 'bf16', 'fp16'])
def test_cuda_amp_step_with_each_teacher_precision_is_finite(precision):
    if precision == 'bf16' and not torch.cuda.is_bf16_supported():
        pytest.skip('this GPU has no bf16')
    model = build(precision, 'cuda')
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=1e-3),
        dtype='float16')
    for seed in range(2):
        losses = model.train_step(seg_batch(seed=seed), wrapper)
        for name, value in losses.items():
            assert math.isfinite(value.item()), (name, value)


@pytest.mark.cuda
def test_cuda_train_tool_amp_iteration_with_half_teacher(
        voc, teacher_ckpt, tmp_path):
    """One ``tools/train.py --amp`` (fp16) iteration of the VOC config with a
    bf16 teacher (fp16 on a GPU without bf16): finite losses."""
    import os
    import shutil

    from cli_helpers import metric, run_tool

    from mmswtat.testing import as_cli, seg_tiny_options
    config = 'configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py'
    precision = 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
    opts = seg_tiny_options(config, voc, iters=1)
    opts.update({
        'model.teacher_ckpt': teacher_ckpt,
        'model.teacher_precision': precision
    })
    proc = run_tool([
        'tools/train.py', config, '--amp', '--work-dir',
        str(tmp_path), '--cfg-options', *as_cli(opts)
    ])
    log = proc.stdout + proc.stderr
    assert f'the teacher runs in {precision} on cuda' in log
    for key in ('decode.loss_ce', 'loss_swtat', 'loss_pmtat'):
        assert math.isfinite(metric(log, key)), key  # no match for nan
    out = os.environ.get('GPU_CHECK_OUT')  # set by gpu_check.sh
    for path in tmp_path.rglob('scalars.json'):
        if out:
            shutil.copy(path, os.path.join(out, 'amp_train_scalars.json'))
