"""No file is lost: existing outputs are kept unless forced, exports
never overwrite a training checkpoint, a work dir is locked."""
import json
import os
import os.path as osp

import pytest
from seg_helpers import distill_state

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def test_check_output_path(tmp_path):
    from mmswtat.utils.output_files import check_output_path
    existing = tmp_path / 'a.pkl'
    existing.write_text('x')
    with pytest.raises(FileExistsError, match="already exists.*--force"):
        check_output_path(str(existing), False, 'tool', '--out')
    assert check_output_path(str(existing), True, 'tool') == str(existing)
    with pytest.raises(IsADirectoryError, match='existing directory'):
        check_output_path(str(tmp_path), True, 'tool', '--out', '.pkl')
    with pytest.raises(ValueError, match=r'must be a \.pkl or \.pickle file'):
        check_output_path(
            str(tmp_path / 'b.txt'), False, 't', '--out', ('.pkl', '.pickle'))
    out = str(tmp_path / 'r.pickle')  # mmengine's DumpResults takes it
    assert check_output_path(out, False, 't', '--out', ('.pkl', '.pickle'))
    with pytest.raises(ValueError, match='is empty'):
        check_output_path('', False, 't', '--out')


def test_export_refuses_existing_file_and_never_a_training_checkpoint(
        tmp_path):
    from mmswtat.utils.student_checkpoint import export_student
    _, src = distill_state(tmp_path)
    _, other = distill_state(
        tmp_path, 'other.pth', optimizer=dict(state={}, param_groups=[]))
    before = open(other, 'rb').read()
    for force in (False, True):
        with pytest.raises(ValueError, match='existing training checkpoint'):
            export_student(src, other, force=force)
    assert open(other, 'rb').read() == before
    plain = tmp_path / 'student.pth'
    plain.write_bytes(b'old')
    with pytest.raises(FileExistsError, match='--force'):
        export_student(src, str(plain))
    assert plain.read_bytes() == b'old'
    export_student(src, str(plain), force=True)
    assert plain.read_bytes() != b'old'


def test_work_dir_lock_names_the_running_run(tmp_path):
    from mmswtat.engine.work_dir_lock import (LOCK_NAME, WorkDirBusyError,
                                              work_dir_lock)
    with work_dir_lock(str(tmp_path)) as path:
        assert json.load(open(path))['pid'] == os.getpid()
        with pytest.raises(
                WorkDirBusyError, match=f'process {os.getpid()} .*--work-dir'):
            with work_dir_lock(str(tmp_path), resume=True):
                pass
    assert not osp.exists(osp.join(tmp_path, LOCK_NAME))
    # A stale lock (its process is gone) is taken over, saying so.
    import socket
    import subprocess
    proc = subprocess.Popen(['true'])
    proc.wait()
    with open(osp.join(tmp_path, LOCK_NAME), 'w') as f:
        json.dump(dict(pid=proc.pid, host=socket.gethostname()), f)
    notes = []
    with work_dir_lock(str(tmp_path), log=notes.append):
        pass
    assert 'stale' in notes[0]
