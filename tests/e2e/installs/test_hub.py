"""mmengine's hub API and `mmswtat::` configs, on real installs.

`mmengine.hub.get_config` / `get_model` on an `mmswtat::` config from a
directory outside the source tree, after `import mmswtat`: on a regular
(wheel) install and an editable (PEP 660) install, each in its own venv, and
in this test process (the source tree on PYTHONPATH). The installed
`mmswtat-config-scope.pth` lets a config with an `mmswtat::` base parse
before anything imports mmswtat (what mmseg's own tools/train.py needs).
"""
import os.path as osp
import textwrap

import pytest
from install_helpers import run_in_env

STUDENT = 'mmswtat::students/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py'
HUB = textwrap.dedent(f"""
    import mmswtat
    from mmengine.hub import get_config, get_model
    print('FILE', mmswtat.__file__)
    cfg = get_config({STUDENT!r})
    print('DEPTH', cfg.model.backbone.depth, cfg.crop_size)
    model = get_model({STUDENT!r})
    print('MODEL', type(model).__name__, len(model.backbone.layer4),
          model.decode_head.conv_seg.out_channels)
    """)
# A config with an mmswtat:: base, parsed by mmengine alone, as mmseg's
# tools/train.py does before custom_imports run (none here, so nothing
# imports mmswtat at all).
USER_CFG = textwrap.dedent("""
    _base_ = ['mmswtat::_base_/distill/swtat_layer4_r101_to_r18.py']
    """)
PARSE = textwrap.dedent("""
    import sys
    from mmengine.config import Config
    cfg = Config.fromfile('user_cfg.py')
    print('PARSED', cfg.swtat_layer4.connectors.s4.in_channels,
          'mmswtat' in sys.modules)
    """)


@pytest.fixture(scope='module', params=['regular', 'editable'])
def installed(request, installed_env):
    """(kind, folder, python); the session's installs (conftest.py), the
    regular one shared with test_stock_runners.py."""
    return installed_env(request.param)


def test_hub_api_on_an_install(installed, tmp_path):
    kind, where, python = installed
    out = run_in_env(python, ['-c', HUB], cwd=str(tmp_path)).stdout
    found = dict(
        line.split(' ', 1) for line in out.splitlines()
        if line[:4] in ('FILE', 'DEPT', 'MODE'))
    expected_root = osp.join(where, 'src' if kind == 'editable' else 'venv')
    assert found['FILE'].startswith(expected_root), found['FILE']
    assert found['DEPTH'] == '18 (512, 512)'
    assert found['MODEL'] == 'EncoderDecoder 2 21'


def test_pth_registers_the_scope_before_import(installed, tmp_path):
    _, _, python = installed
    (tmp_path / 'user_cfg.py').write_text(USER_CFG)
    out = run_in_env(python, ['-c', PARSE], cwd=str(tmp_path)).stdout
    assert 'PARSED 512 False' in out


def test_hub_api_in_process_from_another_directory(monkeypatch, tmp_path):
    from mmengine.hub import get_config, get_model

    import mmswtat  # noqa: F401
    monkeypatch.chdir(tmp_path)
    cfg = get_config(STUDENT)
    assert cfg.model.backbone.depth == 18
    model = get_model(STUDENT)
    assert len(model.backbone.layer4) == 2
