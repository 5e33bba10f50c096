"""Each tool refuses a bad command line before any work, naming the
problem."""
import json
import os
import os.path as osp

import pytest
from cli_helpers import ROOT
from seg_helpers import distill_state

STUDENT_CFG = osp.join(
    ROOT, 'configs/students/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py')
#: A shipped recipe: ``model.distill`` is a list (SW-TaT + CWD).
DISTILL_CFG = osp.join(
    osp.dirname(STUDENT_CFG), '..', 'swtat', 'deeplabv3_r101_to_r18_voc.py')

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def test_tools_refuse_before_any_work(tmp_path):
    """Each tool stops before building anything, naming the problem (their
    ``main(argv)`` in this process; test_seg.py and test_config_gen.py
    run the tools as commands)."""
    from cli_helpers import run_main
    _, ckpt = distill_state(tmp_path)
    existing = tmp_path / 'mine.py'
    existing.write_text('# my config\n')
    (tmp_path / 'out.pkl').mkdir()
    busy = tmp_path / 'busy'
    busy.mkdir()
    with open(busy / '.mmswtat_train.lock', 'w') as f:  # this process
        json.dump(
            dict(
                pid=os.getpid(),
                host=__import__('socket').gethostname(),
                started='now',
                command='pytest'), f)
    cases = [
        ([
            'tools/make_distill_config.py', STUDENT_CFG, STUDENT_CFG, '--out',
            str(existing)
        ], 'already exists; give another path, or --force'),
        ([
            'tools/test.py', STUDENT_CFG, ckpt, '--out',
            str(tmp_path / 'out.pkl')
        ], 'is an existing directory'),
        (['tools/export_student.py', ckpt,
          str(existing)], 'export_student.py: OUT .* already exists'),
        (['tools/train.py', STUDENT_CFG, '--work-dir',
          str(busy)],
         f'in use by another training run \\(process {os.getpid()}'),
        ([
            'tools/train.py', STUDENT_CFG, '--work-dir',
            str(tmp_path / 'w'), '--cfg-options', 'train_cfg.max_iters=0'
        ], 'max_iters must be an int > 0, got 0: nothing would be trained'),
        ([
            'tools/train.py', STUDENT_CFG, '--cfg-options',
            'model.teacher_ckpt'
        ], "'model.teacher_ckpt' is not KEY=VALUE"),
        (['tools/train.py', STUDENT_CFG, '--work-dir',
          ''], '--work-dir is empty'),
        (['tools/train.py', STUDENT_CFG, '--work-dir',
          str(existing)],
         "--work-dir '.*mine.py' is an existing file, not a folder"),
        (['tools/test.py', STUDENT_CFG, ckpt, '--show-dir',
          str(existing)],
         "--show-dir '.*mine.py' is an existing file, not a folder"),
        (['tools/export_student.py', ckpt, ''], 'OUT is empty'),
        (['tools/train.py', 'configs/swtat/nope.py'],
         "^train.py: error: config file 'configs/swtat/nope.py' does not "
         'exist'),
        ([
            'tools/train.py', DISTILL_CFG, '--work-dir',
            str(tmp_path / 'w'), '--cfg-options', 'model.distill.foo=1'
        ], r'^train.py: error: --cfg-options model.distill.foo: does not '
         r'fit the config \(list indices must be integers.*\); follow the '
         r"config's own nesting, with a number for a list item"),
        (['tools/test.py', STUDENT_CFG,
          str(tmp_path / 'no.pth')],
         "^test.py: error: checkpoint '.*no.pth' does not exist"),
        (['tools/make_synthetic_data.py', 'voc', '--out',
          str(existing)],
         "--out '.*mine.py' is an existing file, not a folder"),
        ([
            'tools/analysis/accuracy_benchmark.py', '--quick', '--size', '7',
            '--out-dir',
            str(tmp_path / 'w')
        ], '^accuracy_benchmark.py: error: scene size 7 gives a 0x0 layer4 '
         'map'),
        ([
            'tools/make_distill_config.py', STUDENT_CFG, STUDENT_CFG, '--out',
            str(tmp_path / 'cfg.txt')
        ], r'--out must be a \.py file'),
    ]
    not_a_config = tmp_path / 'x.py'
    not_a_config.write_text('x = 1\n')
    cases += [(['tools/train.py', str(not_a_config)],
               "^train.py: error: '.*x.py' defines no model"),
              (['tools/test.py', str(not_a_config),
                ckpt], "^test.py: error: '.*x.py' defines no model")]
    text_ckpt = tmp_path / 'text.pth'
    text_ckpt.write_text('not a checkpoint\n')
    # Refused after the model is built (its work dir is made).
    cases.append(([
        'tools/test.py', STUDENT_CFG,
        str(text_ckpt), '--work-dir',
        str(tmp_path / 'test_work')
    ], "^test.py: error: test checkpoint '.*text.pth' cannot be read: it is "
                  'a text file'))
    for args, message in cases:
        proc = run_main(args, check=False)
        assert proc.returncode != 0, args
        import re
        assert re.search(message, proc.stderr), (args, proc.stderr[-2000:])
        assert 'Traceback' not in proc.stderr, (args, proc.stderr[-2000:])
    assert existing.read_text() == '# my config\n'
    assert not (tmp_path / 'w').exists()
