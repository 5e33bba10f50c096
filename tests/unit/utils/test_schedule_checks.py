"""Training schedules and optimizer settings that cannot work are
refused, and those that do nothing are said out loud."""

import pytest
from seg_helpers import distiller_cfg

pytestmark = pytest.mark.usefixtures('mmseg_scope')


@pytest.mark.parametrize(
    'cfg,message',
    [
        (dict(train_dataloader=dict(num_workers=-1)),
         'train_dataloader: num_workers must be an int >= 0'),
        (dict(default_hooks=dict(checkpoint=dict(interval=0))),
         r'checkpoint: interval must be an int > 0 .* or -1'),
        # Failed only at the first save, after `interval` iterations of work.
        (dict(
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=2, intervl=1))
        ), r"default_hooks.checkpoint: unknown key 'intervl' .*first save.*"
         r"did you mean 'interval'\?"),
        # Was numpy's "Cannot cast scalar from dtype('<U3')".
        (dict(randomness=dict(seed='abc')),
         r"randomness: seed must be an int >= 0, got 'abc'"),
        (dict(randomness=dict(seed=-1)),
         'randomness: seed must be an int >= 0'),
    ])
def test_schedule_values_that_cannot_work(cfg, message):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    with pytest.raises(ValueError, match=message):
        check_train_schedule(Config(dict(train_cfg=dict(max_iters=4), **cfg)))


@pytest.mark.parametrize('key,value', [('lr', '0.01'), ('lr', -1),
                                       ('lr', float('nan')),
                                       ('weight_decay', '0.1'),
                                       ('momentum', -1), ('betas', '0.9')])
def test_optimizer_numbers_must_be_numbers_at_least_zero(key, value):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    with pytest.raises(
            ValueError, match=f'optim_wrapper.optimizer: {key} must'):
        check_train_schedule(
            Config(
                dict(
                    train_cfg=dict(max_iters=4),
                    optim_wrapper=dict(optimizer={
                        'type': 'SGD',
                        'lr': 0.1,
                        key: value
                    }))))


def test_zero_learning_rate_warns(logged):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    check_train_schedule(
        Config(
            dict(
                train_cfg=dict(max_iters=4),
                optim_wrapper=dict(optimizer=dict(type='SGD', lr=0)))))
    assert any('lr=0: no weight changes' in m for m in logged)


def test_scheduler_ending_after_the_run_warns(logged):
    """max_iters lowered, PolyLR's end left at 20000: the LR barely moved
    from its start value, without a word."""
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    sched = [
        dict(type='LinearLR', by_epoch=False, begin=0, end=5),
        dict(type='PolyLR', by_epoch=False, begin=0, end=20000)
    ]
    check_train_schedule(
        Config(
            dict(
                train_cfg=dict(type='IterBasedTrainLoop', max_iters=40),
                param_scheduler=sched)))
    said = [m for m in logged if 'param_scheduler' in m]
    assert len(said) == 1 and (
        'param_scheduler[1] (PolyLR) ends at iteration 20000, after '
        'train_cfg.max_iters=40' in said[0]
        and 'param_scheduler.1.end=40' in said[0]), logged
    del logged[:]
    sched[1]['end'] = 40  # the advice
    check_train_schedule(
        Config(
            dict(
                train_cfg=dict(type='IterBasedTrainLoop', max_iters=40),
                param_scheduler=sched)))
    assert not any('param_scheduler' in m for m in logged)


@pytest.mark.parametrize('key,value', [('max_iters', 0), ('max_iters', -3),
                                       ('max_epochs', 0), ('val_interval', 0)])
def test_nothing_to_train_is_an_error(key, value):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    cfg = Config(
        dict(train_cfg=dict(type='IterBasedTrainLoop', **{key: value})))
    with pytest.raises(
            ValueError,
            match=f'train_cfg: {key} must be an int '
            f'> 0, got {value}.*train_cfg.{key}='):
        check_train_schedule(cfg)
    check_train_schedule(Config(dict(train_cfg=dict(max_iters=10))))


def test_zero_loss_weights_are_said_out_loud(logged):
    from seg_helpers import build_distiller
    cfg = distiller_cfg()
    for loss in cfg['distill_losses'].values():
        loss['loss_weight'] = 0
    build_distiller(cfg)
    msgs = [m for m in logged if 'loss_weight=0' in m]
    assert msgs and 'nothing is distilled' in msgs[0]
    assert "'loss_swtat'" in msgs[0] and "'loss_pmtat'" in msgs[0]


def test_warmup_as_long_as_the_run_warns(logged):
    from mmengine.config import Config

    from mmswtat.utils.value_checks import check_train_schedule
    check_train_schedule(
        Config(
            dict(
                train_cfg=dict(max_iters=100),
                model=dict(
                    type='mmswtat.SingleTeacherDistiller',
                    distill_warmup_iters=100))))
    assert any('never reach their full value' in m for m in logged)
