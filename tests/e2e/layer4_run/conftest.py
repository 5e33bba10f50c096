"""The files here share one training run (:func:`seg_layer4_run`): this
folder is one pytest-xdist unit of work (tests/conftest.py: xdist_group),
so the run is made once."""
import pytest


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
