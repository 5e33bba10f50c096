"""``make demo`` end to end, with the benchmark's tiny --quick networks:
every step's real command runs (train, test, export, plot), the table and
both figures are written, a second run reuses the cache and keeps an
existing report unless --force."""
import json

import pytest
from cli_helpers import run_main


def test_quick_demo_writes_table_and_figures_and_keeps_them(tmp_path):
    out = tmp_path / 'demo'
    args = [
        'tools/demo.py', '--quick', '--iters', '2', '--teacher-iters', '2',
        '--out-dir',
        str(out)
    ]
    proc = run_main(args)
    assert '$ python tools/train.py' in proc.stdout
    assert 'Gain of distillation' in proc.stdout
    report = json.loads((out / 'demo.json').read_text())
    assert set(report['mIoU']) == {'teacher', 'distilled', 'undistilled'}
    assert report['gain'] == pytest.approx(report['mIoU']['distilled'] -
                                           report['mIoU']['undistilled'])
    from mmswtat.recipes import SHIPPED_RECIPE
    assert report['recipe'] == SHIPPED_RECIPE['recipe']
    for name in ('predictions.png', 'curves.png'):
        assert (out / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    for name in ('teacher', 'distilled', 'undistilled'):
        assert (out / 'configs' / f'{name}.py').is_file()
    before = (out / 'demo.md').read_text()
    again = run_main(args, check=False)
    assert again.returncode != 0
    assert 'already holds' in again.stderr and '--force' in again.stderr
    assert (out / 'demo.md').read_text() == before


def test_demo_refuses_an_unknown_method(tmp_path, capsys):
    from cli_helpers import load_tool
    with pytest.raises(SystemExit):
        load_tool('tools/demo.py').parse_args(['--method', 'fitnt'])
    assert "--method: unknown method 'fitnt'" in capsys.readouterr().err
