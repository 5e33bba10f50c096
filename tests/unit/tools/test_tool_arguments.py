"""The tools' argument parsing: keys without values, benchmark numbers
and report files are refused with the option named."""
import argparse
import os.path as osp

import pytest
from cli_helpers import ROOT

STUDENT_CFG = osp.join(
    ROOT, 'configs/students/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py')


def _tool(name):
    """A tool script as a module (tools/ is not a package)."""
    from cli_helpers import load_tool
    return load_tool(name)


pytestmark = pytest.mark.usefixtures('mmseg_scope')


def test_cfg_options_key_without_value(capsys):
    from mmswtat.utils.cli import add_runner_args
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(['--cfg-options', 'model.teacher_ckpt'])
    err = capsys.readouterr().err
    assert "'model.teacher_ckpt' is not KEY=VALUE" in err
    assert 'model.teacher_ckpt=VALUE' in err
    for item in (' =1', '=1', 'a b=1'):
        with pytest.raises(SystemExit):
            parser.parse_args(['--cfg-options', item])
        assert 'is not KEY=VALUE' in capsys.readouterr().err
    args = parser.parse_args(['--cfg-options', 'a.b=1'])
    assert args.cfg_options == {'a.b': 1}


@pytest.mark.parametrize(
    'argv', [['--quick', '--sizes', '0'], ['--window', '0'], ['--sizes', '-2'],
             ['--repeats', '0'], ['--batch', '0'], ['--channels', '0:8'],
             ['--memory-fraction', '2'], ['--case-timeout', 'nan'],
             ['--window', '4', '--shift', '4'],
             ['--part', 'step', '--config', 'missing.py'],
             ['--report', 'missing.json'], ['--device', 'bogus'],
             ['--device', 'cuda:99'], ['--out', ''],
             ['--part', 'step', '--config', STUDENT_CFG]])
def test_benchmark_cli_refuses_bad_numbers(argv, capsys):
    parse_args = _tool('tools/analysis/benchmark.py').parse_args
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert 'error' in capsys.readouterr().err


def test_benchmark_quick_keeps_given_values(capsys):
    parse_args = _tool('tools/analysis/benchmark.py').parse_args
    args = parse_args([
        '--quick', '--sizes', '16', '--window', '2', '--shift', '1', '--part',
        'loss'
    ])
    assert (args.sizes, args.window, args.shift) == ([16], 2, 1)
    assert args.repeats == 1  # not given: the quick value
    assert '--quick keeps the values you gave' in capsys.readouterr().err


def test_benchmark_failed_case_exits_non_zero():
    from mmswtat.benchmark import failed_cases
    exit_status = _tool('tools/analysis/benchmark.py').exit_status
    report = dict(
        loss=[dict(median_s=1.0), dict(skip='too big')],
        step=[dict(error='FileNotFoundError: x')])
    assert failed_cases(report) == ['step 1: FileNotFoundError: x']
    assert exit_status(report) == 1
    assert exit_status(dict(loss=[dict(median_s=1.0)])) == 0


@pytest.mark.parametrize(
    'argv', [['--seeds', '0'], ['--iters', '-1'], ['--teacher-iters', '0'],
             ['--first-seed', '-1'], ['--factors', '0'],
             ['--best-from', 'missing.json'], ['--reuse', 'missing.json']])
def test_accuracy_benchmark_cli_refuses_bad_numbers(argv):
    parse_args = _tool('tools/analysis/accuracy_benchmark.py').parse_args
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_accuracy_benchmark_reports_must_be_its_own(tmp_path, capsys):
    parse_args = _tool('tools/analysis/accuracy_benchmark.py').parse_args
    (tmp_path / 'log.txt').write_text('not json')
    (tmp_path / 'other.json').write_text('{"a": 1}')
    for option in ('--reuse', '--best-from'):
        for name, words in (('log.txt', 'is not JSON'),
                            ('other.json', "no 'meta' and 'runs'")):
            with pytest.raises(SystemExit):
                parse_args([option, str(tmp_path / name)])
            err = capsys.readouterr().err
            assert f'argument {option}: ' in err and words in err, err
            assert 'give a table.json or sweep.json' in err
