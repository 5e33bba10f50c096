"""Run the repository's command-line tools in subprocesses."""
import os
import os.path as osp
import re
import subprocess
import sys
from typing import List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_tool(args: List[str], cwd: str = ROOT, timeout: int = 900,
             check: bool = True) -> subprocess.CompletedProcess:
    """``python ARGS`` with the repo importable; fail with the output tail."""
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '2')
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-6000:]
        raise AssertionError(f'{args[:2]} exited {proc.returncode}:\n{tail}')
    return proc


def metric(output: str, name: str) -> float:
    """The last ``name: value`` the runner logged."""
    found = re.findall(rf'{re.escape(name)}: ([\d.]+)', output)
    assert found, f'no {name} in the output:\n{output[-3000:]}'
    return float(found[-1])
