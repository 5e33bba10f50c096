import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, 'tests')):
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


@pytest.fixture(scope='session')
def seg_layer4_run(voc, teacher_ckpt, tmp_path_factory):
    """The layer4 VOC config trained once for the session (8 iterations,
    checkpoints at 4 and 8, validation at 8) with tools/train.py's main in
    this process; reused by the resume, visualisation and plot_logs tests.

    Returns:
        dict(work, log, options): the work dir, the training output and
        the ``--cfg-options`` dict it ran with.
    """
    from cli_helpers import SEG_LAYER4, run_main, seg_layer4_options

    from mmswtat.testing import as_cli
    work = tmp_path_factory.mktemp('seg_layer4') / 'work'
    opts = seg_layer4_options(voc, teacher_ckpt)
    proc = run_main([
        'tools/train.py', SEG_LAYER4, '--work-dir',
        str(work), '--cfg-options', *as_cli(opts)
    ])
    return dict(work=work, log=proc.stdout + proc.stderr, options=opts)


@pytest.fixture(scope='session')
def installed_env(tmp_path_factory):
    """``get(kind)``: mmswtat installed into a throw-away venv ('regular' or
    'editable'), made once per session -> (kind, folder, python)."""
    from install_helpers import make_env
    made = {}

    def get(kind: str):
        if kind not in made:
            where = tmp_path_factory.mktemp(kind)
            made[kind] = (kind, str(where),
                          make_env(str(where), kind == 'editable'))
        return made[kind]

    return get


#: Test files that train, install or run tools end to end (seconds to a
#: minute each), heaviest first as measured (``--durations``): ``make test``
#: runs under pytest-xdist (``-n 2``), where each file is one unit of work
#: (:func:`xdist_group`) handed out in this order, so the two workers finish
#: together. ``make test-fast`` (``-m "not e2e"``) leaves them out.
E2E_FILES = ('test_stock_runners.py', 'test_hub.py', 'test_e2e_reliability.py',
             'test_visualization.py', 'test_config_gen.py', 'test_e2e_seg.py',
             'test_e2e_det.py', 'test_accuracy_benchmark.py',
             'test_det_benchmark.py', 'test_e2e_cls.py', 'test_benchmark.py',
             'test_reliability_round2.py', 'test_checkpoint_compat.py',
             'test_gpu_check.py', 'test_teacher_precision.py', 'test_demo.py')

#: Files whose tests share a session fixture run in one worker, so that it
#: is made once: the layer4 VOC run and the throw-away installs.
SHARED_FIXTURE_GROUPS = {
    'test_e2e_reliability.py': 'seg_layer4_run',
    'test_visualization.py': 'seg_layer4_run',
    'test_hub.py': 'installed_env',
    'test_stock_runners.py': 'installed_env',
}


def xdist_group(file: str) -> str:
    """The pytest-xdist group of a test file: its shared-fixture group, or
    the file itself (its module fixtures are then made once)."""
    return SHARED_FIXTURE_GROUPS.get(file, file)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduling with :func:`xdist_group` as the scope: the
    groups are given out whole, in collection order (``make test`` passes
    ``--no-loadscope-reorder``). xdist's own ``xdist_group`` marks cannot
    be used: pytest 9.2 derives ``nodeid``, which they rewrite."""
    from xdist.scheduler import LoadScopeScheduling

    class FileGroupScheduling(LoadScopeScheduling):

        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid.split('::')[0].rsplit('/', 1)[-1])

    return FileGroupScheduling(config, log)


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'cuda: needs a CUDA GPU; skipped without one '
        '(tools/analysis/gpu_check.sh runs them with `-m cuda`)')
    config.addinivalue_line(
        'markers', 'e2e: trains, installs or runs a tool end to end (the '
        'files of E2E_FILES); `make test-fast` runs the others')
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
    import os.path as osp
    order = {name: i for i, name in enumerate(E2E_FILES)}
    for item in items:
        if osp.basename(str(item.fspath)) in order:
            item.add_marker(pytest.mark.e2e)
    # The heaviest files first (stable: each file's own order is kept).
    items.sort(
        key=lambda item: order.get(osp.basename(str(item.fspath)), len(order)))
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA GPU (none found)')
    for item in items:
        if item.get_closest_marker('cuda') is not None:
            item.add_marker(skip)
