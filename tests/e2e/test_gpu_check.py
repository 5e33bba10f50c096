"""tools/analysis/gpu_check.sh as far as a CPU machine can take it."""
import json
import os
import os.path as osp
import runpy
import shlex
import subprocess
import sys

import pytest
import torch
from cli_helpers import ROOT

SCRIPT = osp.join(ROOT, 'tools', 'analysis', 'gpu_check.sh')


def run_script(*args, out):
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable)
    return subprocess.run(['bash', SCRIPT, *args],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=120)


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is present')
def test_without_a_gpu_it_says_so_and_exits_0(tmp_path):
    proc = run_script(out=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'no GPU found' in proc.stdout
    summary = json.loads(
        (tmp_path / 'gpu_check' / 'gpu_check.json').read_text())
    assert summary == {'gpu': None, 'status': 'no GPU found'}
    assert sorted(os.listdir(tmp_path / 'gpu_check')) == ['gpu_check.json']


def test_commands_are_valid_and_cover_the_checks(tmp_path, monkeypatch):
    # The commands are for a GPU machine: parse them as there (the tool
    # refuses --device cuda where no GPU is available).
    import mmswtat.benchmark.options
    monkeypatch.setattr(mmswtat.benchmark.options, 'check_device', lambda d: d)
    proc = run_script('--print', out=tmp_path)
    assert proc.returncode == 0, proc.stderr
    steps = {}
    for line in proc.stdout.splitlines():
        _, name, limit, *cmd = shlex.split(line)
        steps[name] = (int(limit), cmd)
    assert set(steps) == {
        'cuda_tests', 'loss_sdpa', 'loss_matmul', 'step_512_b4'
    }
    assert sum(limit for limit, _ in steps.values()) < 8 * 60 - 20
    assert steps['cuda_tests'][1][-3:] == ['-m', 'cuda', 'tests']
    tool = runpy.run_path(osp.join(ROOT, 'tools', 'analysis', 'benchmark.py'))
    args = {}
    for name, (_, cmd) in steps.items():
        if name != 'cuda_tests':
            assert cmd[1] == 'tools/analysis/benchmark.py'
            args[name] = tool['parse_args'](cmd[2:])  # flags exist, parse
            assert args[name].device == 'cuda'
            assert args[name].out.startswith(str(tmp_path / 'gpu_check'))
    assert {args[n].attn_impl
            for n in ('loss_sdpa', 'loss_matmul')} == {'sdpa', 'matmul'}
    assert args['loss_sdpa'].sizes == [64] and args['loss_sdpa'].batch == 4
    step = args['step_512_b4']
    assert (step.part, step.crops, step.step_batch) == ('step', [512], 4)
    assert step.teacher_precision == ['fp32', 'bf16']
    assert step.config == 'configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py'


def test_converged_gpu_script_commands_parse(tmp_path):
    """tools/analysis/gpu_converged.sh --print: every command line is one
    the accuracy benchmark accepts (the script's --quick CPU run was
    checked by hand; its GPU run is the device's work)."""
    from cli_helpers import load_tool
    env = dict(os.environ, OUT=str(tmp_path), PYTHON=sys.executable)
    proc = subprocess.run([
        'bash',
        osp.join(ROOT, 'tools', 'analysis', 'gpu_converged.sh'), '--print'
    ],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    tool = load_tool('tools/analysis/accuracy_benchmark.py')
    names = []
    for line in proc.stdout.splitlines():
        _, name, _, script, *argv = shlex.split(line)
        assert script == 'tools/analysis/accuracy_benchmark.py'
        names.append(name)
        if name == 'merge':  # --reuse names reports the runs would write
            assert '--report-only' in argv and '--reuse' in argv
            continue
        args = tool.parse_args(argv)
        assert (args.regime, args.size) == ('converged', 128)
    # the baseline, 5 methods x 3 seeds, the undistilled seeds 1-2, merge
    assert names[0] == 'base' and names[-1] == 'merge'
    assert len(names) == 1 + 5 * 3 + 2 + 1
    assert not os.listdir(tmp_path)  # --print writes nothing
