"""The config generator refuses pairs it cannot distil (different
tasks) and names self-distillation."""

import pytest

pytestmark = pytest.mark.usefixtures('mmseg_scope')


def _probe(task, path='a.py'):
    from mmswtat.config_gen.probe import Feature, ModelProbe
    stage = Feature(module='backbone.layer4', channels=64, stride=8)
    return ModelProbe(
        path,
        'mmseg' if task == 'seg' else 'mmdet',
        task, (64, 64),
        'test',
        stages=[stage])


def test_generator_refuses_different_tasks():
    from mmswtat.config_gen import MatchError
    from mmswtat.config_gen.match import match
    with pytest.raises(
            MatchError,
            match='a seg student and a det teacher '
            'are models of different tasks'):
        match(_probe('seg'), _probe('det'))


def test_generator_names_self_distillation(tmp_path):
    from mmswtat.config_gen.generate import self_distillation_note
    cfg = tmp_path / 'a.py'
    cfg.write_text('x = 1\n')
    link = tmp_path / 'b.py'
    link.symlink_to(cfg)
    assert 'self-distillation' in self_distillation_note(str(cfg), str(link))
    other = tmp_path / 'c.py'
    other.write_text('x = 1\n')
    assert self_distillation_note(str(cfg), str(other)) is None
