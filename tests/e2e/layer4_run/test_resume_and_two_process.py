"""Resume exactness and CPU multi-process training through the real tools."""
import json
import os
import os.path as osp

import pytest
import torch
from cli_helpers import ROOT, SEG_LAYER4, run_main

from mmswtat.testing import as_cli, seg_tiny_options

DISTILL = osp.join(ROOT, 'configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py')


def _wrapper_config(tmp_path, extra: str = '') -> str:
    path = tmp_path / 'cfg.py'
    path.write_text(f"_base_ = {DISTILL!r}\n{extra}")
    return str(path)


def _options(config, voc, teacher_ckpt, iters, ckpt_interval):
    opts = seg_tiny_options(config, voc, iters=iters)
    opts.update({
        'model.teacher_ckpt': teacher_ckpt,
        'default_hooks.checkpoint.interval': ckpt_interval,
        'randomness.seed': 0,
        'randomness.deterministic': True,
    })
    return as_cli(opts)


def _scalars(work_dir):
    """{step: {key: value}} of the training losses logged in scalars.json
    (of the work dir's last run, when a killed run left one before it)."""
    run = max(
        d for d in os.listdir(work_dir)
        if osp.isdir(osp.join(work_dir, d, 'vis_data')))
    out = {}
    with open(osp.join(work_dir, run, 'vis_data', 'scalars.json')) as f:
        for line in f:
            rec = json.loads(line)
            if 'loss' in rec:
                out[rec['step']] = {
                    k: v
                    for k, v in rec.items() if 'loss' in k
                }
    return out


def _train_until_killed(work, options, checkpoint: str) -> None:
    """``tools/train.py`` in a subprocess, SIGKILLed as soon as it has
    written ``checkpoint`` (mmengine names it in ``last_checkpoint``)."""
    import signal
    import subprocess
    import sys
    import time
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '2')  # as run_main's runs
    log = work.parent / 'killed_run.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen([
            sys.executable, 'tools/train.py', SEG_LAYER4, '--work-dir',
            str(work), '--cfg-options', *options
        ],
                                cwd=ROOT,
                                env=env,
                                stdout=out,
                                stderr=subprocess.STDOUT)
        last = work / 'last_checkpoint'
        deadline = time.time() + 600
        while not (last.exists()
                   and last.read_text().strip().endswith(checkpoint)):
            assert proc.poll() is None and time.time() < deadline, \
                log.read_text()[-5000:]
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL  # killed, not finished


def test_resume_after_sigkill_is_exact(seg_layer4_run, tmp_path):
    """The session's 8-iteration layer4 run (seeded, deterministic,
    checkpoints at 4 and 8) again, SIGKILLed after its iteration-4
    checkpoint, then ``--resume``: the dead run's lock is taken over, and
    the resumed run ends with the same weights and logs the same losses as
    the uninterrupted one."""
    full, part = seg_layer4_run['work'], tmp_path / 'resumed'
    options = as_cli(seg_layer4_run['options'])
    _train_until_killed(part, options, 'iter_4.pth')
    assert (part / '.mmswtat_train.lock').exists()  # left by the dead run
    assert not (part / 'iter_8.pth').exists()
    proc = run_main([
        'tools/train.py', SEG_LAYER4, '--work-dir',
        str(part), '--resume', '--cfg-options', *options
    ])
    assert 'is stale, that process no longer exists; taking it over' in \
        proc.stderr
    assert not (part / '.mmswtat_train.lock').exists()

    a = torch.load(full / 'iter_8.pth', weights_only=True)['state_dict']
    b = torch.load(part / 'iter_8.pth', weights_only=True)['state_dict']
    assert a.keys() == b.keys()
    checked = [
        k for k in a
        if k.startswith(('student.', 'connectors.', 'distill_losses.'))
    ]
    # The VOC fragment's shared student projection (conv + BN statistics).
    assert any(k.startswith('connectors.s4.norm.running_') for k in checked)
    for key in checked:
        torch.testing.assert_close(
            b[key], a[key], rtol=1e-6, atol=1e-6, msg=key)
    logged_a, logged_b = _scalars(full), _scalars(part)
    assert sorted(logged_b) == [5, 6, 7, 8]
    for step in range(5, 9):
        assert logged_b[step].keys() == logged_a[step].keys()
        for key, value in logged_a[step].items():
            assert logged_b[step][key] == pytest.approx(
                value, rel=1e-6, abs=1e-6), (step, key)


def test_two_process_cpu_training_keeps_replicas_in_sync(
        voc, teacher_ckpt, tmp_path):
    config = _wrapper_config(
        tmp_path, "custom_hooks = [dict(type='mmswtat.RNGStateHook'), "
        "dict(type='mmswtat.ParamDigestHook')]\n")
    work = tmp_path / 'dist'
    env = dict(
        os.environ,
        PYTHON=__import__('sys').executable,
        PORT=str(29500 + os.getpid() % 1000))
    import subprocess
    proc = subprocess.run([
        'bash', 'tools/dist_train.sh', config, '2', '--work-dir',
        str(work), '--cfg-options', *_options(config, voc, teacher_ckpt, 2, 2)
    ],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    log = proc.stdout + proc.stderr
    assert 'SyncBN layers are reverted to BN' in log
    digests = []
    for rank in (0, 1):
        with open(work / f'param_digest_rank{rank}.json') as f:
            digests.append(json.load(f))
    assert digests[0]['parameters'] == digests[1]['parameters']
    assert any(k.startswith('student.') for k in digests[0]['parameters'])
    assert osp.isfile(work / 'iter_2.pth')
