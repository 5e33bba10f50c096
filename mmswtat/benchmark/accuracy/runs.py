"""Preparation (cached) and the training runs of the accuracy benchmark.

Every training and test goes through mmengine's ``Runner`` on a config, as a
user's ``tools/train.py`` / ``tools/test.py`` would, so the benchmark
measures the shipped distiller, losses and fragments.
"""
import json
import logging
import os.path as osp
import shutil
import time
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Optional

import torch

from .cache import cached
from .pretrain import pretrain_backbone
from .settings import BenchmarkSettings
from .tasks import task_of


@dataclass
class Prepared:
    """Paths and figures of the cached artefacts."""
    data_root: str
    backbones: Dict[str, str]
    teacher_ckpt: str
    teacher: dict
    pretrain: Dict[str, dict]
    student_inits: Dict[int, str] = field(default_factory=dict)


def _format_once(cfg):
    """``cfg`` as a Config whose ``pretty_text`` is formatted once.

    The runner formats the whole config (yapf) four times per run (log,
    dump, visualizer, message hub): measured, 75% of a ``--quick`` run. The
    text is the same each time; the benchmark does not change the config
    after building the runner.
    """
    from mmengine.config import Config

    class OnceFormattedConfig(Config):

        @property
        def pretty_text(self) -> str:
            text = self.__dict__.get('_pretty_text_once')
            if text is None:
                text = Config.pretty_text.fget(self)
                object.__setattr__(self, '_pretty_text_once', text)
            return text

    out = OnceFormattedConfig(cfg._cfg_dict.to_dict(), filename=cfg.filename)
    return out


def _runner_run(cfg, train: bool = True) -> Dict[str, Any]:
    """Train (optionally) and test one config; returns test metrics,
    ``s_per_it`` (training wall time per iteration) and ``cpu_s_per_it``
    (its CPU time), or, where training diverged, ``diverged`` (the reason)
    and no metrics."""
    from mmengine.runner import Runner
    runner = Runner.from_cfg(_format_once(cfg))
    out: Dict[str, Any] = {}
    if train:
        start, cpu = time.time(), time.process_time()
        try:
            runner.train()
        except FloatingPointError as e:
            # A result, not a crash: the distiller stopped a student whose
            # losses went non-finite; the table scores it 0 and goes on.
            out['diverged'] = str(e).split('. ')[0]
        done = max(1, runner.iter)
        out['s_per_it'] = (time.time() - start) / done
        out['train_s'] = time.time() - start
        # CPU time of this process (one torch thread, in-process data
        # loading): the cost, nearly free of other jobs' load.
        out['cpu_s_per_it'] = (time.process_time() - cpu) / done
    if 'diverged' in out:
        _close_file_logs()
        return out
    metrics = runner.test()
    out.update({k: float(v) for k, v in metrics.items()})
    _close_file_logs()
    return out


def _close_file_logs() -> None:
    """Free the run's file handlers (many runs share one process)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    for handler in list(logger.handlers):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            logger.removeHandler(handler)


def pretrain_data_key(settings: BenchmarkSettings) -> dict:
    """What the pretraining images depend on (the digit split and noise;
    not the scene layout or the labels)."""
    d = settings.data
    return dict(seed=d.seed, val_fraction=d.val_fraction, noise=d.noise)


def prepare(settings, cache_root: str, log=print) -> Prepared:
    """Dataset, pretrained backbones and the trained teacher (all cached).

    The teacher's key holds every setting it depends on (data, both its
    pretraining and its training recipe); a cached teacher whose stored
    settings differ is re-trained.

    Args:
        settings: :class:`~.settings.BenchmarkSettings` (segmentation) or
            :class:`~.det_settings.DetBenchmarkSettings` (detection).
        cache_root: Cache directory.
        log: Progress printer.
    """
    task = task_of(settings)
    settings.check()
    data_key = dict(data=settings.data.to_dict())
    data_dir = cached(cache_root, task.data_kind, data_key,
                      lambda d: task.write_data(settings, d), log)
    data_root = task.data_root(data_dir)
    backbones, pre = {}, {}
    for role in ('teacher', 'student'):
        net = getattr(settings, role)
        key = dict(
            pretrain_data=pretrain_data_key(settings),
            net=net.__dict__,
            pretrain=settings.pretrain.__dict__)

        def build(d, net=net):
            stats = pretrain_backbone(net, settings.pretrain, settings.data,
                                      osp.join(d, 'backbone.pth'), log)
            with open(osp.join(d, 'result.json'), 'w') as f:
                json.dump(stats, f)

        d = cached(cache_root, f'backbone-{role}', key, build, log)
        backbones[role] = osp.join(d, 'backbone.pth')
        with open(osp.join(d, 'result.json')) as f:
            pre[role] = json.load(f)
    teacher_key = dict(
        data_key,
        pretrain_data=pretrain_data_key(settings),
        pretrain=settings.pretrain.__dict__,
        **task.teacher_key(settings))

    def train_teacher(d):
        t = settings.teacher_train
        model = task.model(settings, 'teacher', backbones['teacher'])
        cfg = task.run_config(
            model,
            settings,
            t,
            data_root,
            osp.join(d, 'work'),
            seed=0,
            save_checkpoint=True)
        result = _runner_run(cfg)
        result.update(task.scores(result))
        shutil.move(
            osp.join(d, 'work', f'iter_{t.iters}.pth'),
            osp.join(d, 'teacher.pth'))
        shutil.rmtree(osp.join(d, 'work'), ignore_errors=True)
        with open(osp.join(d, 'result.json'), 'w') as f:
            json.dump(result, f)

    kind = 'teacher' if task.name == 'seg' else f'{task.name}-teacher'
    t_dir = cached(cache_root, kind, teacher_key, train_teacher, log)
    with open(osp.join(t_dir, 'result.json')) as f:
        teacher = json.load(f)
    return Prepared(data_root, backbones, osp.join(t_dir, 'teacher.pth'),
                    teacher, pre)


def student_init(settings,
                 prep: Prepared,
                 seed: int,
                 cache_root: str,
                 log=print) -> str:
    """The student's initial weights for ``seed`` (pretrained backbone,
    seeded heads), shared by every method. Cached."""
    if seed in prep.student_inits:
        return prep.student_inits[seed]
    task = task_of(settings)
    key = dict(
        pretrain_data=pretrain_data_key(settings),
        net=settings.student.__dict__,
        pretrain=settings.pretrain.__dict__,
        seed=seed,
        **task.student_key(settings))

    def build(d):
        import importlib

        from mmengine.config import ConfigDict
        from mmengine.registry import init_default_scope
        scope = 'mmseg' if task.name == 'seg' else 'mmdet'
        init_default_scope(scope)
        MODELS = importlib.import_module(f'{scope}.registry').MODELS
        torch.manual_seed(seed)
        model = MODELS.build(
            ConfigDict(
                task.model(settings, 'student', prep.backbones['student'])))
        model.init_weights()
        torch.save({'state_dict': model.state_dict()},
                   osp.join(d, 'student_init.pth'))

    kind = 'student-init' if task.name == 'seg' else \
        f'{task.name}-student-init'
    d = cached(cache_root, kind, key, build, log)
    prep.student_inits[seed] = osp.join(d, 'student_init.pth')
    return prep.student_inits[seed]


#: Knobs of a run, not of its losses (:func:`run_method`).
RUN_KNOBS = ('iters', 'teacher_precision')


def _init_args(cls) -> Optional[set]:
    """The keyword arguments ``cls(...)`` accepts, following ``**kwargs``
    up the class tree; None when some ``__init__`` takes any keyword."""
    import inspect
    names: set = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        } - {'self'}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names
    return None


def check_setting(settings, method: str, weight: Optional[float],
                  knobs: dict) -> None:
    """Raise one clear error for a ``(method, weight, knobs)`` that cannot
    run: an unknown knob (e.g. a typo), a knob a method's loss does not
    take, a recipe knob on one method. Builds only the configs (no
    training), so a grid is checked before any data or teacher is made.

    Raises:
        ValueError: Naming the knob, the method, the loss and what it
            accepts.
    """
    from mmswtat.registry import MODELS
    task = task_of(settings)
    loss_knobs = {k: v for k, v in knobs.items() if k not in RUN_KNOBS}
    distill = task.distill_config(method, settings, weight, loss_knobs)
    parts = distill if isinstance(distill, list) else [distill]
    for part in parts:
        for name, cfg in ((part or {}).get('distill_losses') or {}).items():
            cls = MODELS.get(cfg['type'])
            accepted = _init_args(cls) if cls is not None else None
            if accepted is None:
                continue
            # per_level=dict(key=[...]) sets loss keys level by level
            keys = (set(cfg)
                    | set(cfg.get('per_level') or {})) - {'type', 'per_level'}
            bad = sorted(keys - accepted)
            if bad:
                given = [k for k in bad if k in loss_knobs]
                raise ValueError(
                    f'method {method!r}: {cls.__name__} ({name}) takes no '
                    f'{", ".join(map(repr, bad))}' +
                    (f' (from --knob {", ".join(given)})' if given else '') +
                    f'; it takes {", ".join(sorted(accepted))}, and the '
                    f'benchmark the knobs {", ".join(RUN_KNOBS)}')


def run_method(settings,
               prep: Prepared,
               method: str,
               seed: int,
               work_dir: str,
               weight: Optional[float] = None,
               knobs: Optional[dict] = None,
               cache_root: str = '',
               log=print) -> dict:
    """Train and test the student with one method; returns a record.

    The knob ``iters`` (baseline runs of :func:`bench.baseline_grid`)
    changes the student's schedule length, ``teacher_precision`` is the
    distiller's (``'bf16'``: the teacher under autocast); other knobs go to
    the losses.
    """
    task = task_of(settings)
    init = student_init(settings, prep, seed, cache_root, log)
    loss_knobs = dict(knobs or {})
    iters = loss_knobs.pop('iters', None)
    precision = loss_knobs.pop('teacher_precision', None)
    if iters is not None:
        settings = replace(
            settings,
            student_train=replace(settings.student_train, iters=int(iters)))
    distill = task.distill_config(method, settings, weight, loss_knobs)
    backbone = prep.backbones['student'] if task.runs_with_backbone else None
    if distill is None:
        student = task.model(settings, 'student', backbone)
        cfg = task.run_config(
            student,
            settings,
            settings.student_train,
            prep.data_root,
            work_dir,
            seed,
            load_from=init)
    else:
        model = task.distiller(settings, distill, prep.teacher_ckpt, init,
                               backbone)
        if precision is not None:
            model['teacher_precision'] = precision
        cfg = task.run_config(model, settings, settings.student_train,
                              prep.data_root, work_dir, seed)
    result = _runner_run(cfg)
    scores = ({
        m: 0.0
        for m in task.metrics
    } if 'diverged' in result else task.scores(result))
    record = dict(
        method=method,
        seed=seed,
        weight=weight,
        knobs=dict(knobs or {}),
        **scores,
        s_per_it=result['s_per_it'],
        train_s=result['train_s'],
        cpu_s_per_it=result['cpu_s_per_it'],
        iters=settings.student_train.iters)
    if 'diverged' in result:
        record['diverged'] = result['diverged']
    metric = task.metrics[0]
    log(f'[run] {method} seed {seed} weight {weight} knobs {knobs or {}}: '
        f'{metric} {record[metric]:.2f} ({record["s_per_it"]:.3f} s/it)' +
        (f'; diverged: {result["diverged"]}' if 'diverged' in result else ''))
    return record
