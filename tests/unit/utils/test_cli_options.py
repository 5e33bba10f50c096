"""``--cfg-options`` values: parsed as mmengine's ``DictAction`` parses
them, except that spaces inside a value are kept (mmengine removes them:
``work_dir=/x/my runs`` became ``/x/myruns``)."""
import argparse

import pytest
from mmengine.config import DictAction

from mmswtat.utils.cli import add_runner_args, parse_option_value

SAME_AS_MMENGINE = [
    '1', '-2', '1.5', 'true', 'False', 'None', 'abc', 'a,b', '[1, 2]', '(1,2)',
    '[(1,2),(3,4)]', '[a, [b, c]]', '"x"', '[]', '()', "'[1, 2, 3]'",
    'mmswtat.SWTaTLoss', '1e-3'
]


@pytest.mark.parametrize('text', SAME_AS_MMENGINE)
def test_values_without_spaces_parse_as_mmengine_does(text):
    assert parse_option_value(text) == DictAction._parse_iterable(text)


@pytest.mark.parametrize('text, value', [
    ('/x/my runs', '/x/my runs'),
    ('/x/my dir/t.pth', '/x/my dir/t.pth'),
    ('a b,c d', ['a b', 'c d']),
    ('[my a, b]', ['my a', 'b']),
    (' 3 ', 3),
])
def test_spaces_inside_a_value_are_kept(text, value):
    assert parse_option_value(text) == value


def test_tool_parser_keeps_the_path_the_user_typed():
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    args = parser.parse_args([
        '--cfg-options', 'work_dir=/x/my runs',
        'model.teacher_ckpt=/x/my dir/t.pth', 'train_cfg.max_iters=4'
    ])
    assert args.cfg_options == {
        'work_dir': '/x/my runs',
        'model.teacher_ckpt': '/x/my dir/t.pth',
        'train_cfg.max_iters': 4
    }


def test_unbalanced_brackets_are_one_error(capsys):
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(['--cfg-options', 'a=[1, 2'])
    assert "--cfg-options a: unbalanced brackets in '[1, 2'" in \
        capsys.readouterr().err


def test_work_dir_given_twice_differently_is_an_error(tmp_path):
    """--work-dir won over --cfg-options work_dir=..., silently."""
    from mmswtat.utils import load_tool_config
    config = 'configs/students/resnet18_8xb16_cifar100.py'
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    with pytest.raises(
            ValueError,
            match=rf"--work-dir '{a}' and --cfg-options work_dir='{b}' "
            'name different folders: give only one of them'):
        load_tool_config(config, {'work_dir': b}, a)
    assert load_tool_config(config, {'work_dir': a}, a).work_dir == a
    assert load_tool_config(config, {'work_dir': b}).work_dir == b


def test_a_key_given_twice_with_different_values_is_one_error(capsys):
    """The last value won silently."""
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(['--cfg-options', 'a.b=5', 'c=1', 'a.b=0.5'])
    assert ("--cfg-options a.b: given twice, as 5 and as 0.5; give it once"
            in capsys.readouterr().err)
    args = parser.parse_args(['--cfg-options', 'a.b=5', 'a.b=5'])
    assert args.cfg_options == {'a.b': 5}
