"""Every tool answers ``--help``: exit 0, usage printed, nothing started or
written (``tools/demo.py --help`` used to run the whole demo)."""
import glob
import os
import os.path as osp

import pytest
from cli_helpers import ROOT, run_main

TOOLS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, 'tools', '**', '*.py'), recursive=True))


def test_the_tool_list_is_complete():
    assert 'tools/demo.py' in TOOLS and len(TOOLS) >= 10


@pytest.mark.parametrize('tool', TOOLS)
def test_help_exits_0_without_writing(tool, tmp_path):
    before = set(os.listdir(ROOT))
    work = osp.join(ROOT, 'work_dirs')
    had_work = set(os.listdir(work)) if osp.isdir(work) else None
    proc = run_main([tool, '--help'], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'usage:' in proc.stdout
    assert set(os.listdir(ROOT)) == before
    assert (set(os.listdir(work)) if osp.isdir(work) else None) == had_work
    assert os.listdir(tmp_path) == []
