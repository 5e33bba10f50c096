"""Run the repository's command-line tools in subprocesses."""
import os
import os.path as osp
import re
import subprocess
import sys
from typing import List

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run_tool(args: List[str],
             cwd: str = ROOT,
             timeout: int = 900,
             check: bool = True) -> subprocess.CompletedProcess:
    """``python ARGS`` with the repo importable; fail with the output tail."""
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '2')
    proc = subprocess.run([sys.executable, *args],
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-6000:]
        raise AssertionError(f'{args[:2]} exited {proc.returncode}:\n{tail}')
    return proc


def metric(output: str, name: str) -> float:
    """The last ``name: value`` the runner logged."""
    found = re.findall(rf'{re.escape(name)}: ([\d.]+)', output)
    assert found, f'no {name} in the output:\n{output[-3000:]}'
    return float(found[-1])


_TOOLS = {}
_LAST_START = [0.0]


def load_tool(path: str):
    """The module of a tool script (``tools/x.py``, relative to ROOT)."""
    import importlib.util
    path = osp.join(ROOT, path)
    if path not in _TOOLS:
        name = '_tool_' + re.sub(r'\W', '_', osp.relpath(path, ROOT))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TOOLS[path] = module
    return _TOOLS[path]


def _named_instances() -> int:
    """How many loggers and message hubs mmengine holds (a run makes its
    own, named after the second it starts in)."""
    from mmengine.logging import MessageHub, MMLogger
    return len(MMLogger._instance_dict) + len(MessageHub._instance_dict)


def _forget_visualizers() -> None:
    """Drop mmengine's visualiser instances: the codebases' configs name
    theirs (``name='visualizer'``), and the runner would reuse an earlier
    run's, writing into that run's log dir."""
    from mmengine.visualization import Visualizer
    todo = [Visualizer]
    while todo:
        cls = todo.pop()
        cls._instance_dict.clear()
        todo.extend(cls.__subclasses__())


def run_main(args: List[str],
             cwd: str = ROOT,
             check: bool = True) -> subprocess.CompletedProcess:
    """:func:`run_tool` in this process: ``main(argv)`` of our tool
    ``args[0]`` (a path relative to ROOT; another script, e.g. a codebase's
    own tools/test.py, runs as ``__main__`` with ``sys.argv`` set), with its
    printed and logged output as ``stdout``/``stderr`` and ``SystemExit`` as
    the return code.

    Each tool's command line is run once in a subprocess elsewhere (that
    proves the entry point); this saves an interpreter start per call.
    """
    import contextlib
    import io
    import time
    import traceback

    import torch

    # mmengine names a run's logger, message hub and visualiser after the
    # second it starts in: never two runs in the same second.
    wait = 1.0 - (time.time() - int(_LAST_START[0]))
    if int(time.time()) == int(_LAST_START[0]) and wait > 0:
        time.sleep(wait)
    _LAST_START[0] = time.time()
    _forget_visualizers()
    named = _named_instances()
    # Ours are tools/*.py; any other script (a codebase's own, which may
    # live in a .venv inside this checkout) runs as __main__.
    ours = osp.join(ROOT, 'tools') + os.sep
    if osp.isabs(args[0]) and not args[0].startswith(ours):

        def main(argv):
            import runpy
            old_argv = sys.argv
            sys.argv = [args[0], *argv]
            try:
                runpy.run_path(args[0], run_name='__main__')
            finally:
                sys.argv = old_argv
    else:
        main = load_tool(args[0]).main
    out, err = io.StringIO(), io.StringIO()
    old_cwd = os.getcwd()
    deterministic = torch.are_deterministic_algorithms_enabled()
    environ = dict(os.environ)  # parse_runner_args exports LOCAL_RANK
    # The thread count run_tool's subprocess gets (an in-process benchmark
    # may have changed this process's): the same float results.
    threads = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')))
    code = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                returned = main(list(args[1:]))
                if isinstance(returned, int):  # sys.exit(main()) tools
                    code = returned
            except SystemExit as e:
                if isinstance(e.code, str):
                    err.write(e.code + '\n')
                    code = 1
                else:
                    code = e.code or 0
            except Exception:
                if check:
                    raise
                err.write(traceback.format_exc())
                code = 1
    finally:
        os.chdir(old_cwd)
        # randomness.deterministic=True switches this on process-wide.
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)
        os.environ.clear()
        os.environ.update(environ)
    if _named_instances() == named:  # no run started: the next may at once
        _LAST_START[0] = 0.0
    proc = subprocess.CompletedProcess(args, code, out.getvalue(),
                                       err.getvalue())
    if check and code != 0:
        tail = (proc.stdout + proc.stderr)[-6000:]
        raise AssertionError(f'{args[:2]} exited {code}:\n{tail}')
    return proc


#: The shipped layer4 VOC config (SW-TaT + patch merging on layer4).
SEG_LAYER4 = 'configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py'
#: 64x64 crops give an 8x8 layer4 map: 4x4 windows with a shift of 2 keep a
#: real shifted pass (the config's 8x8 windows would cover the whole map).
SEG_WINDOW_OPTS = {
    'model.distill.distill_losses.loss_swtat.window_size': 4,
    'model.distill.distill_losses.loss_swtat.shift_size': 2,
}


def seg_layer4_options(voc: str,
                       teacher_ckpt: str,
                       iters: int = 8,
                       ckpt_interval: int = 4) -> dict:
    """``--cfg-options`` of :func:`seg_layer4_run` (seeded, deterministic,
    a checkpoint every ``ckpt_interval`` iterations)."""
    from mmswtat.testing import seg_tiny_options
    opts = dict(
        seg_tiny_options(SEG_LAYER4, voc, iters=iters), **SEG_WINDOW_OPTS)
    opts.update({
        'model.teacher_ckpt': teacher_ckpt,
        'default_hooks.checkpoint.interval': ckpt_interval,
        'randomness.seed': 0,
        'randomness.deterministic': True,
    })
    return opts
