"""Install this source tree into throw-away environments, as users do.

``make_env`` copies the tree, creates a bare venv that sees the running
interpreter's packages (torch, mmengine, mmseg...) through a ``.pth`` path
entry, and installs mmswtat into it with pip (a regular wheel install or an
editable one), offline and without dependencies. The venv's interpreter then
processes the installed ``.pth`` files at start, exactly as in a user's
environment, and the running environment's own mmswtat stays invisible.
"""
import os
import os.path as osp
import shutil
import site
import subprocess
import sys
import venv

from cli_helpers import ROOT

_SKIP = ('.git', '.venv', 'build', 'dist', 'work_dirs', 'data', '__pycache__',
         '*.egg-info', '.pytest_cache')


def make_env(where: str, editable: bool) -> str:
    """Install mmswtat (a copy of this tree) into a new venv under ``where``.

    Returns:
        The venv's python executable.
    """
    src = osp.join(where, 'src')
    shutil.copytree(
        ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(*_SKIP))
    env_dir = osp.join(where, 'venv')
    venv.create(env_dir, with_pip=False)
    python = osp.join(env_dir, 'bin', 'python')
    purelib = subprocess.check_output([
        python, '-c', 'import sysconfig; print(sysconfig.get_paths()'
        '["purelib"])'
    ],
                                      text=True).strip()
    with open(osp.join(purelib, '_parent_env.pth'), 'w') as f:
        f.write('\n'.join(site.getsitepackages()) + '\n')
    # pip runs *for* the new venv (--python), so it neither sees nor
    # uninstalls this environment's own mmswtat (--prefix/--target would).
    cmd = [
        sys.executable, '-m', 'pip', '--python', python, 'install', '-q',
        '--no-deps', '--no-build-isolation', '--no-index'
    ]
    cmd += ['-e', src] if editable else [src]
    subprocess.run(
        cmd, check=True, capture_output=True, cwd=where, env=_clean_env())
    return python


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.setdefault('OMP_NUM_THREADS', '2')
    return env


def run_in_env(python: str,
               args,
               cwd: str,
               timeout: int = 600) -> subprocess.CompletedProcess:
    """``python ARGS`` in an installed env (no PYTHONPATH); fail with the
    output tail."""
    proc = subprocess.run([python, *args],
                          cwd=cwd,
                          env=_clean_env(),
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-6000:]
        raise AssertionError(f'{args[:2]} exited {proc.returncode}:\n{tail}')
    return proc
