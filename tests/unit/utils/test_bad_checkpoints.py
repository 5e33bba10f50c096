"""Bad checkpoint files: one clear error naming role, path, problem, fix."""
import pickle

import pytest
import torch
from seg_helpers import distiller_cfg

import mmswtat  # noqa: F401  (safe globals)
from mmswtat.registry import MODELS
from mmswtat.utils.checkpoint import (CheckpointError, UnsafeCheckpointError,
                                      extract_state_dict, load_checkpoint_file)

pytestmark = pytest.mark.usefixtures('mmseg_scope')


class Payload:
    """A class no allow-list knows."""


def _good(path):
    torch.save(dict(state_dict={'w': torch.zeros(3)}), path)
    return path


def _write(tmp_path, kind):
    """A bad file of one kind; returns its path."""
    path = tmp_path / f'{kind}.pth'
    if kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'text':
        path.write_text('hello world\n')
    elif kind == 'html':
        path.write_text('<!DOCTYPE html><html>Not found</html>')
    elif kind == 'lfs':
        path.write_text('version https://git-lfs.github.com/spec/v1\n')
    elif kind == 'truncated':
        data = _good(tmp_path / 'good.pth').read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif kind == 'pickled_code':
        torch.save(dict(state_dict={}, meta=dict(p=Payload())), path)
    elif kind == 'plain_pickle':
        with open(path, 'wb') as f:
            pickle.dump({'w': 1}, f, protocol=4)
    elif kind == 'list':
        torch.save([torch.zeros(1)], path)
    elif kind == 'no_tensors':
        torch.save(dict(meta=dict(iter=3)), path)
    elif kind == 'directory':
        path.mkdir()
    return path


CASES = [
    ('empty', CheckpointError, r'is empty \(0 bytes'),
    ('text', CheckpointError, r'a text file .*hello world'),
    ('html', CheckpointError, 'an HTML page'),
    ('lfs', CheckpointError, 'git lfs pull'),
    ('truncated', CheckpointError, 'truncated or corrupt'),
    ('pickled_code', UnsafeCheckpointError,
     r'Payload.*opt in with model\.weights_only=False'),
    ('plain_pickle', UnsafeCheckpointError,
     r'plain pickle.*model\.weights_only=False'),
    ('list', CheckpointError, 'holds a list, not a dict of weights'),
    ('no_tensors', CheckpointError, 'holds no weights'),
    ('directory', IsADirectoryError, 'is a directory, not a file'),
]


@pytest.mark.parametrize('kind,error,words', CASES)
def test_bad_teacher_checkpoint_names_role_path_and_fix(
        tmp_path, kind, error, words):
    path = _write(tmp_path, kind)
    with pytest.raises(error, match=words) as info:
        MODELS.build(distiller_cfg(teacher_ckpt=str(path)))
    msg = str(info.value)
    assert msg.startswith(f"teacher checkpoint '{path}'"), msg
    assert 'model.teacher_ckpt' in msg or 'weights_only=False' in msg, msg


def test_bad_student_checkpoint_names_the_student(tmp_path):
    path = _write(tmp_path, 'empty')
    with pytest.raises(
            CheckpointError,
            match=r"student checkpoint .*empty"
            r".*model\.student_ckpt"):
        MODELS.build(distiller_cfg(student_ckpt=str(path)))


def test_student_key_mismatch_advice_is_accepted(tmp_path):
    """The mismatch message advises model.student_ckpt_strict=False;
    following it loads the file with a warning instead of an error."""
    student = MODELS.build(distiller_cfg()).student
    state = student.state_dict()
    state.pop(next(k for k in state if k.startswith('decode_head.')))
    state['extra.weight'] = torch.zeros(1)
    path = tmp_path / 'partial.pth'
    torch.save(dict(state_dict=state), path)
    with pytest.raises(
            RuntimeError,
            match=r'1 missing keys .* Set '
            r'model\.student_ckpt_strict=False to load it'):
        MODELS.build(distiller_cfg(student_ckpt=str(path)))
    model = MODELS.build(
        distiller_cfg(student_ckpt=str(path), student_ckpt_strict=False))
    key = next(k for k in state if k.startswith('backbone.'))
    assert torch.equal(model.student.state_dict()[key], state[key])


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_non_finite_weights_are_refused_naming_the_tensors(tmp_path, value):
    """A checkpoint of a diverged run loads without any key error, and its
    model scores a normal-looking mIoU (all background): refused."""
    from mmswtat.utils.student_checkpoint import load_test_plain
    teacher = MODELS.build(distiller_cfg()).teacher
    state = teacher.state_dict()
    key = next(k for k in state if k.endswith('conv1.weight'))
    state[key] = torch.full_like(state[key], value)
    path = tmp_path / 'diverged.pth'
    torch.save(dict(state_dict=state), path)
    words = (r"teacher checkpoint '.*diverged.pth' holds non-finite \(NaN "
             rf'or inf\) weights in 1 of \d+ tensors \[{key}\].*earlier')
    with pytest.raises(CheckpointError, match=words):
        MODELS.build(distiller_cfg(teacher_ckpt=str(path)))
    with pytest.raises(CheckpointError, match='test checkpoint .*non-finite'):
        load_test_plain(teacher, str(path))


def test_all_zero_weights_are_refused(tmp_path):
    """A checkpoint whose every conv/linear kernel is zero (a zeroed or
    never-filled state dict) loads without a key error and its model
    predicts one class everywhere: tools/test.py would report a
    normal-looking mIoU. Refused for the tested model and the teacher."""
    from mmswtat.utils.student_checkpoint import load_test_plain
    teacher = MODELS.build(distiller_cfg()).teacher
    state = {k: torch.zeros_like(v) for k, v in teacher.state_dict().items()}
    path = tmp_path / 'zero.pth'
    torch.save(dict(state_dict=state), path)
    words = (r"test checkpoint '.*zero.pth' holds only zeros in all its \d+ "
             r'conv/linear kernels.*one class everywhere')
    with pytest.raises(CheckpointError, match=words):
        load_test_plain(teacher, str(path))
    with pytest.raises(CheckpointError, match='teacher checkpoint .*zeros'):
        MODELS.build(distiller_cfg(teacher_ckpt=str(path)))
    # One zero kernel (a zero-initialised layer) is legal.
    key = next(k for k in state if k.endswith('conv1.weight'))
    good = dict(teacher.state_dict(), **{key: state[key]})
    torch.save(dict(state_dict=good), path)
    load_test_plain(teacher, str(path))


def test_checkpoint_path_of_wrong_type():
    with pytest.raises(TypeError, match='model.teacher_ckpt must be a path'):
        load_checkpoint_file(['a.pth'], 'teacher')


def test_unsafe_file_loads_with_the_opt_in(tmp_path):
    path = _write(tmp_path, 'pickled_code')
    ckpt = load_checkpoint_file(str(path), weights_only=False)
    assert isinstance(ckpt['meta']['p'], Payload)
    with pytest.raises(pickle.UnpicklingError):  # still an UnpicklingError
        load_checkpoint_file(str(path))


def test_good_checkpoint_unchanged(tmp_path):
    path = _good(tmp_path / 'g.pth')
    state = extract_state_dict(load_checkpoint_file(str(path)), str(path))
    assert list(state) == ['w']


# ----------------------------------------------------- export and test tools
def _distill_ckpt(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(distiller_cfg())
    path = tmp_path / 'iter_10.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(iter=10),
            optimizer=dict(state={})), path)
    return model, path


def test_export_refuses_out_equal_to_checkpoint(tmp_path):
    from mmswtat.utils.student_checkpoint import export_student
    _, path = _distill_ckpt(tmp_path)
    before = path.read_bytes()
    with pytest.raises(
            ValueError,
            match='is the distillation checkpoint '
            'itself.*iter_10_student.pth'):
        export_student(str(path), str(path))
    link = tmp_path / 'link.pth'
    link.symlink_to(path)
    with pytest.raises(ValueError, match='checkpoint itself'):
        export_student(str(path), str(link))
    assert path.read_bytes() == before


def test_export_into_directory_and_atomically(tmp_path, monkeypatch):
    from mmswtat.utils import student_checkpoint
    model, path = _distill_ckpt(tmp_path)
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    dst, n = student_checkpoint.export_student(str(path), str(out_dir))
    assert dst == str(out_dir / 'iter_10_student.pth')
    assert n == len(model.student_state_dict())

    def interrupted(obj, f):
        f.write(b'half')
        raise KeyboardInterrupt

    target = tmp_path / 'student.pth'
    monkeypatch.setattr(student_checkpoint.torch, 'save', interrupted)
    with pytest.raises(KeyboardInterrupt):
        student_checkpoint.export_student(str(path), str(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['iter_10.pth', 'out']


def test_export_keeps_the_umask_mode_and_never_races_over_a_file(
        tmp_path, monkeypatch):
    """The exported file has torch.save's mode (0666 less the umask, not
    mkstemp's 0600); an OUT that appears while the export writes (a second
    export to the same path) is kept and the later export fails."""
    import os
    import stat

    from mmswtat.utils import student_checkpoint
    _, path = _distill_ckpt(tmp_path)
    old = os.umask(0o022)
    try:
        dst, _ = student_checkpoint.export_student(
            str(path), str(tmp_path / 'a.pth'))
        assert stat.S_IMODE(os.stat(dst).st_mode) == 0o644
        os.umask(0o002)
        dst, _ = student_checkpoint.export_student(
            str(path), str(tmp_path / 'b.pth'))
        assert stat.S_IMODE(os.stat(dst).st_mode) == 0o664
    finally:
        os.umask(old)
    target = tmp_path / 'c.pth'
    save = student_checkpoint.torch.save

    def other_export_finishes_first(obj, f):
        target.write_text('the other export')
        save(obj, f)

    monkeypatch.setattr(student_checkpoint.torch, 'save',
                        other_export_finishes_first)
    with pytest.raises(
            FileExistsError,
            match='appeared while it was '
            'written .* it was kept'):
        student_checkpoint.export_student(str(path), str(target))
    assert target.read_text() == 'the other export'
    assert not [p for p in tmp_path.iterdir() if p.name.endswith('.tmp')]
    # --force replaces, as asked
    student_checkpoint.export_student(str(path), str(target), force=True)
    assert target.stat().st_size > 100


def test_export_tool_refuses_to_overwrite(tmp_path):
    from cli_helpers import run_main
    _, path = _distill_ckpt(tmp_path)
    proc = run_main(
        ['tools/export_student.py',
         str(path), str(path)], check=False)
    assert proc.returncode != 0
    assert 'is the distillation checkpoint itself' in proc.stderr


def test_test_tool_loads_distillation_and_exported_checkpoints(tmp_path):
    from mmswtat.utils.student_checkpoint import (export_student,
                                                  load_test_student)
    trained, path = _distill_ckpt(tmp_path)
    exported, _ = export_student(str(path), str(tmp_path / 's.pth'))
    for ckpt, kind in ((path, 'distillation'), (exported, 'student')):
        torch.manual_seed(1)
        model = MODELS.build(distiller_cfg())
        assert load_test_student(model, str(ckpt)) == kind
        for k, v in trained.student_state_dict().items():
            assert torch.equal(model.student_state_dict()[k], v), k


def test_test_tool_refuses_a_teacher_checkpoint(tmp_path):
    from mmswtat.utils.student_checkpoint import load_test_student
    model = MODELS.build(distiller_cfg())
    path = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=model.teacher.state_dict()), path)
    with pytest.raises(
            ValueError,
            match='this is a teacher/plain model checkpoint: its '
            'keys do not start with student.'):
        load_test_student(model, str(path))
