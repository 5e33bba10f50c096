"""Step benchmark: the cost of distillation on top of its two parts.

On a distillation config (default the VOC one), the median seconds per
iteration of the phases (:data:`PHASES`):

* ``student``: the student's own training step (a);
* ``teacher``: the teacher's no-grad forward as the distiller runs it,
  early exit after the last recorded module (b);
* ``distill``: the full distillation training step (c);
* ``teacher_full``: the teacher's full forward (backbone + heads), for
  attribution;
* ``distill_losses``: the distillation losses alone (forward + backward).

The report prints ``overhead = c / (a + b)`` per crop size and teacher
precision (``teacher_precision`` of the distiller: the phases that run the
teacher are timed under each, the others once per crop), and
``c / (a + b_fp32)``. Cases are JSON-able dicts (``kind='step'``) made by
:func:`step_case` / :func:`plan_step_cases` and timed by
:func:`run_step_case`.
"""
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from .timing import time_phase

DEFAULT_CONFIG = 'configs/swtat/deeplabv3_r101_to_r18_voc_layer4.py'
PHASES = ('student', 'teacher', 'distill', 'teacher_full', 'distill_losses')
#: The phases whose cost depends on the teacher's precision.
TEACHER_PHASES = ('teacher', 'distill', 'teacher_full')


def default_crop(device: torch.device) -> int:
    """Crop side of the step benchmark: 512 on GPU, 256 on CPU."""
    return 512 if device.type == 'cuda' else 256


def step_case(phase: str,
              *,
              config: str,
              crop: int,
              batch: int,
              device: torch.device,
              warmup: int,
              repeats: int,
              threads: int,
              lr: Optional[float],
              seed: int,
              teacher_precision: str = 'fp32') -> Dict[str, Any]:
    """One step-benchmark case (a JSON-able dict, ``kind='step'``).

    Args:
        phase: One of :data:`PHASES`.
        config: Distillation config (file or ``scope::path``).
        crop: Square crop side of the random batch.
        batch: Batch size.
        device: Where it runs.
        warmup: Untimed iterations.
        repeats: Timed iterations.
        threads: torch intra-op threads.
        lr: Learning rate of the timed steps (``None``: the config's).
        seed: Seed of the weights and of the random batch.
        teacher_precision: The distiller's ``teacher_precision``.

    Returns:
        The case, in the report's format.
    """
    return dict(
        kind='step',
        phase=phase,
        config=config,
        crop=crop,
        batch=batch,
        device=str(device),
        warmup=warmup,
        repeats=repeats,
        threads=threads,
        lr=lr,
        seed=seed,
        teacher_precision=teacher_precision)


def plan_step_cases(device: torch.device,
                    *,
                    config: str = DEFAULT_CONFIG,
                    crops: Optional[Sequence[int]] = None,
                    precisions: Sequence[str] = ('fp32', ),
                    batch: int = 2,
                    phases: Sequence[str] = PHASES,
                    warmup: int = 2,
                    repeats: int = 5,
                    threads: Optional[int] = None,
                    lr: Optional[float] = 1e-6,
                    seed: int = 0) -> List[Dict[str, Any]]:
    """The :func:`step_case` of each crop, precision and phase.

    Per crop and precision, the phases in the order of ``phases``; the
    phases outside :data:`TEACHER_PHASES` only with the first precision
    (their cost does not depend on it). Grouped so that one process builds
    one distiller per crop and precision.

    Args:
        device: Where the cases run.
        config: Distillation config (file or ``scope::path``).
        crops: Crop sides (default ``[default_crop(device)]``).
        precisions: ``teacher_precision`` values to time.
        batch: Batch size.
        phases: Phases to time, see :data:`PHASES`.
        warmup: Untimed iterations per phase.
        repeats: Timed iterations per phase.
        threads: torch intra-op threads (default: current).
        lr: Learning rate of the timed steps (the cost does not depend on
            it; tiny keeps random-weight runs finite).
        seed: Seed of the weights and of the random batch.

    Returns:
        The cases.
    """
    crops = [default_crop(device)] if not crops else crops
    threads = torch.get_num_threads() if threads is None else threads
    return [
        step_case(
            phase,
            config=config,
            crop=crop,
            batch=batch,
            device=device,
            warmup=warmup,
            repeats=repeats,
            threads=threads,
            lr=lr,
            seed=seed,
            teacher_precision=precision) for crop in crops
        for i, precision in enumerate(precisions) for phase in phases
        if i == 0 or phase in TEACHER_PHASES
    ]


def step_options(crop: int, teacher_precision: str = 'fp32') -> Dict[str, Any]:
    """Overrides that make a distillation config buildable offline.

    Args:
        crop: Square crop side the data preprocessors pad to.
        teacher_precision: The distiller's ``teacher_precision``.

    Returns:
        ``{dotted.key: value}`` config overrides.
    """
    size = (crop, crop)
    return {
        'model.teacher_ckpt': None,
        'model.teacher_precision': teacher_precision,
        'model.student.pretrained': None,
        'model.student.data_preprocessor.size': size,
        'data_preprocessor.size': size,
    }


def build_distiller(config: str,
                    crop: int,
                    device: torch.device,
                    lr: Optional[float],
                    teacher_precision: str = 'fp32') -> tuple:
    """The distiller of ``config`` and its optimizer wrapper (runner-like).

    Args:
        config: Distillation config (file or ``scope::path``).
        crop: Crop side (see :func:`step_options`).
        device: Where the model goes (in train mode).
        lr: Learning rate override (``None``: the config's).
        teacher_precision: The distiller's ``teacher_precision``.

    Returns:
        ``(cfg, model, optim_cfg, build_optim_wrapper)``.

    Raises:
        ValueError: ``config`` is not a distillation config.
    """
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper

    import mmswtat  # noqa: F401
    from mmswtat.utils import (build_runner_model, is_distiller_config,
                               load_tool_config)
    cfg = load_tool_config(config, step_options(crop, teacher_precision))
    if not is_distiller_config(cfg):
        raise ValueError(f'{config} is not a distillation config (model.type '
                         f'{cfg.model.get("type")!r}); the step benchmark '
                         'needs a SingleTeacherDistiller config')
    # A quiet current logger: init_weights() logs every parameter at INFO.
    MMLogger.get_instance(f'benchmark_{id(cfg)}', log_level='WARNING')
    model = build_runner_model(cfg)
    model.init_weights()
    model.to(device).train()
    optim_cfg = cfg.optim_wrapper.copy()
    if lr is not None:
        optim_cfg.optimizer.lr = lr
    return cfg, model, optim_cfg, build_optim_wrapper


_BUILT: Dict[tuple, tuple] = {}


def _leaves(value: Any) -> Any:
    """A recorded output (tensor or tuple of them) as fresh leaf tensors."""
    if isinstance(value, (tuple, list)):
        return tuple(v.detach().requires_grad_(True) for v in value)
    return value.detach().requires_grad_(True)


def _shapes(value: Any) -> list:
    """Shape of a recorded tensor, or the shapes of a tuple of them."""
    if isinstance(value, (tuple, list)):
        return [list(v.shape) for v in value]
    return list(value.shape)


def modules_run(model: torch.nn.Module, fn: Callable[[], Any]) -> List[str]:
    """Paths (depth <= 2, e.g. ``backbone.layer4``) of the submodules of
    ``model`` entered during one ``fn()``.

    Depth 2 catches heads whose own ``forward`` is called directly (mmseg's
    ``decode_head.forward(x)`` bypasses the hooks of ``decode_head``).

    Args:
        model: The module to watch.
        fn: Called once.

    Returns:
        The sorted paths.
    """
    entered = set()
    handles = [
        module.register_forward_pre_hook(
            lambda *_, name=name: entered.add(name))
        for name, module in model.named_modules()
        if name and name.count('.') <= 1
    ]
    try:
        fn()
    finally:
        for h in handles:
            h.remove()
    return sorted(entered)


def cached_distiller(spec: Dict[str, Any], device: torch.device) -> tuple:
    """:func:`build_distiller` of a step case, built once per process for
    the phases that share its config, crop, device, learning rate and
    teacher precision."""
    precision = spec.get('teacher_precision', 'fp32')
    key = (spec['config'], spec['crop'], spec['device'], spec.get('lr'),
           precision)
    if key not in _BUILT:
        _BUILT.clear()
        _BUILT[key] = build_distiller(spec['config'], spec['crop'], device,
                                      spec.get('lr'), precision)
    return _BUILT[key]


def phase_step(model: torch.nn.Module, phase: str, batch: Dict[str, list],
               optim_cfg: Any, build_optim_wrapper: Callable,
               info: Dict[str, Any]) -> Callable[[], None]:
    """One iteration of ``phase`` on ``batch``, as a closure to time.

    Args:
        model: The distiller.
        phase: One of :data:`PHASES`.
        batch: A raw batch (``inputs``, ``data_samples``).
        optim_cfg: The config's ``optim_wrapper``.
        build_optim_wrapper: mmengine's builder of optimizer wrappers.
        info: Filled with what the phase records (``features`` of
            ``distill_losses``).

    Returns:
        The closure.

    Raises:
        ValueError: Unknown ``phase``.
    """
    if phase == 'student':
        wrapper = build_optim_wrapper(model.student, optim_cfg)

        def fn() -> None:
            model.student.train_step(batch, wrapper)
    elif phase == 'distill':
        wrapper = build_optim_wrapper(model, optim_cfg)

        def fn() -> None:
            model.train_step(batch, wrapper)
    else:
        data = model.data_preprocessor(batch, True)
        inputs, samples = data['inputs'], data['data_samples']
        if phase == 'teacher':

            def fn() -> None:
                model.run_teacher(inputs, samples)  # records dropped
        elif phase == 'teacher_full':  # in the teacher's precision too
            from mmswtat.models.distillers.precision import teacher_autocast
            kind = inputs.device.type
            precision = model.frozen_teacher.resolved_precision(kind)

            def fn() -> None:
                with torch.no_grad(), teacher_autocast(precision, kind):
                    model.teacher(inputs, samples, mode='tensor')
        elif phase == 'distill_losses':
            s_rec, t_rec = model.record_features(inputs, samples)
            s_rec = {k: _leaves(v) for k, v in s_rec.items()}
            info['features'] = dict(
                student={
                    k: _shapes(v)
                    for k, v in s_rec.items()
                },
                teacher={
                    k: _shapes(v)
                    for k, v in t_rec.items()
                })

            def fn() -> None:
                model.zero_grad(set_to_none=True)
                for v in s_rec.values():
                    for leaf in v if isinstance(v, tuple) else (v, ):
                        leaf.grad = None
                losses = model.compute_distill_losses(s_rec, t_rec)
                sum(losses.values()).backward()
        else:
            raise ValueError(f'unknown phase {phase!r}')
    return fn


def run_step_case(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Time one phase of the step benchmark (see the module docstring).

    In one process the distiller is built once and shared by the phases.

    Args:
        spec: A step case (see :func:`step_case`).

    Returns:
        The :func:`~mmswtat.benchmark.timing.time_phase` result, plus
        ``teacher_modules_run`` (teacher phases) or ``features``
        (``distill_losses``).
    """
    device = torch.device(spec['device'])
    torch.manual_seed(spec.get('seed', 0))
    cfg, model, optim_cfg, build_optim_wrapper = cached_distiller(spec, device)
    num_classes = int(
        model.student.decode_head.
        num_classes if hasattr(model.student, 'decode_head') else 2)
    from mmswtat.testing import random_seg_batch
    crop = spec['crop']
    # Some ignored pixels, as at VOC borders.
    batch = random_seg_batch(
        spec['batch'],
        crop,
        num_classes,
        spec.get('seed', 0),
        ignore_rows=crop // 8)
    phase = spec['phase']
    info: Dict[str, Any] = {}
    fn = phase_step(model, phase, batch, optim_cfg, build_optim_wrapper, info)
    if phase in ('teacher', 'teacher_full'):
        info['teacher_modules_run'] = modules_run(model.teacher, fn)
    if phase in TEACHER_PHASES:  # what 'auto' chose
        info['teacher_runs_in'] = model.frozen_teacher.resolved_precision(
            device.type)
    out = time_phase(fn, device, spec['warmup'], spec['repeats'])
    out.update(info)
    return out
