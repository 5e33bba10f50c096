"""Shared fixtures and the suite's layout rules.

tests/unit/<module>/ mirrors the package, tests/e2e/ holds the files that
train, install or run tools end to end (marked ``e2e`` by
tests/e2e/conftest.py), tests/helpers/ the modules they import by name
(``from seg_helpers import ...``: the folder is put on ``sys.path`` here).
"""
import logging
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, 'tests', 'helpers')):
    if path not in sys.path:
        sys.path.insert(0, path)

SEG_TEACHER = 'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py'


@pytest.fixture(scope='session')
def voc(tmp_path_factory):
    """Tiny synthetic VOC2012 (8 train, 4 val, 64 px); returns data_root."""
    from mmswtat.datasets.synthetic import make_voc
    out = tmp_path_factory.mktemp('voc')
    make_voc(str(out), num_train=8, num_val=4, size=64)
    return str(out / 'VOCdevkit' / 'VOC2012')


@pytest.fixture(scope='session')
def teacher_ckpt(tmp_path_factory):
    """A randomly initialised DeepLabV3 R101-D8 teacher saved as mmseg does."""
    import torch
    from mmengine.registry import init_default_scope

    from mmswtat.models.distillers import load_model_cfg
    from mmswtat.registry import MODELS
    init_default_scope('mmseg')
    cfg = load_model_cfg(
        dict(cfg_path=SEG_TEACHER, pretrained=None), 'teacher')
    torch.manual_seed(0)
    teacher = MODELS.build(cfg)
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict(), meta=dict()), path)
    return str(path)


@pytest.fixture
def mmseg_scope():
    """mmseg as mmengine's default scope (``pytestmark =
    pytest.mark.usefixtures('mmseg_scope')`` in a test file)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')


@pytest.fixture
def mmdet_scope():
    """mmdet as mmengine's default scope (as :func:`mmseg_scope`)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')


@pytest.fixture
def log_level():
    """The lowest level :func:`logged` keeps; a test file overrides this
    fixture to keep more."""
    return logging.WARNING


@pytest.fixture
def logged(monkeypatch, log_level):
    """Messages of ``mmengine.logging.print_log`` (and of the data checks,
    which import it) at :func:`log_level` or above, still logged."""
    import mmengine.logging

    import mmswtat.engine.data_checks as checks
    out = []
    real = mmengine.logging.print_log

    def capture(msg, logger=None, level=20):
        if level >= log_level:
            out.append(str(msg))
        return real(msg, logger=logger, level=level)

    monkeypatch.setattr(mmengine.logging, 'print_log', capture)
    monkeypatch.setattr(checks, 'print_log', capture)
    return out


#: The end-to-end units of work (files, or folders of tests/e2e/ that share
#: a session fixture), heaviest first as measured (``--durations``):
#: ``make test`` runs under pytest-xdist (``-n 2``), where each unit
#: (:func:`xdist_group`) is handed out whole in this order, so the two
#: workers finish together. Only the order is kept here: a file is e2e by
#: its folder, and an e2e file not listed runs after these.
E2E_ORDER = ('installs', 'layer4_run', 'test_config_gen.py', 'test_seg.py',
             'test_det.py', 'test_accuracy_benchmark.py',
             'test_det_benchmark.py', 'test_cls.py', 'test_benchmark.py',
             'test_tools_refuse.py', 'test_checkpoint_compat.py',
             'test_gpu_check.py', 'test_teacher_precision.py', 'test_demo.py')


def xdist_group(nodeid: str) -> str:
    """The pytest-xdist unit of work of a test: a folder of tests/e2e/ (its
    files share a session fixture, made once: the layer4 VOC run, the
    throw-away installs), else its file (its module fixtures are then made
    once)."""
    path = nodeid.split('::')[0]
    head, sep, rest = path.partition('tests/e2e/')
    if sep and '/' in rest:
        return head + sep + rest.split('/')[0]
    return path


def _e2e_rank(nodeid: str) -> int:
    """An item's place in :data:`E2E_ORDER` (unlisted e2e units next,
    then the unit tests)."""
    unit = xdist_group(nodeid)
    if 'tests/e2e/' not in unit:
        return len(E2E_ORDER) + 1
    name = unit.rsplit('/', 1)[-1]
    return E2E_ORDER.index(name) if name in E2E_ORDER else len(E2E_ORDER)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduling with :func:`xdist_group` as the scope: the
    units are given out whole, in collection order (``make test`` passes
    ``--no-loadscope-reorder``).

    This overrides a private method, ``LoadScopeScheduling._split_scope``:
    pytest-xdist is pinned (requirements/tests.txt) and this must be
    checked when the pin moves. The public ``--dist loadgroup`` with
    ``xdist_group`` marks cannot replace it: xdist appends the group to
    ``item._nodeid``, which pytest 9.2 no longer reads (``nodeid`` is
    derived), so every test would be its own unit; ``--dist loadfile``
    would make each shared session fixture once per worker."""
    from xdist.scheduler import LoadScopeScheduling

    class FolderGroupScheduling(LoadScopeScheduling):

        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    return FolderGroupScheduling(config, log)


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'cuda: needs a CUDA GPU; skipped without one '
        '(tools/analysis/gpu_check.sh runs them with `-m cuda`)')
    config.addinivalue_line(
        'markers', 'e2e: trains, installs or runs a tool end to end (the '
        'tests under tests/e2e/); `make test-fast` runs the others')
    config.addinivalue_line(
        'markers', 'dry_run: a unit test that needs the distiller\'s '
        'build-time dry run (conftest.py: _dry_run_only_where_tested)')


@pytest.fixture(autouse=True)
def _dry_run_only_where_tested(request):
    """Unit tests build distillers without the build-time dry run (it is
    most of a tiny distiller's build time) unless marked ``dry_run``: those
    test the dry run or an error or warning it gives at build. The e2e
    files keep it, as the tools run it (the library default is unchanged).
    """
    if (request.node.get_closest_marker('dry_run') is not None
            or request.node.get_closest_marker('e2e') is not None):
        yield
        return
    from mmswtat.models.distillers import SingleTeacherDistiller
    saved = SingleTeacherDistiller.__dict__['check_at_build']
    SingleTeacherDistiller.check_at_build = False
    try:
        yield
    finally:
        SingleTeacherDistiller.check_at_build = saved


def pytest_collection_modifyitems(config, items):
    # The heaviest units first (stable: each unit's own order is kept).
    items.sort(key=lambda item: _e2e_rank(item.nodeid))
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA GPU (none found)')
    for item in items:
        if item.get_closest_marker('cuda') is not None:
            item.add_marker(skip)
