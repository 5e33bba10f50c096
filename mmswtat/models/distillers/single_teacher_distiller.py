"""A task-agnostic single-teacher feature distiller for mmengine runners."""
import logging
import warnings
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from torch import Tensor

from mmswtat.registry import MODELS
from mmswtat.utils.checkpoint import load_weights
from .model_config import load_model_cfg
from .recorder import (FeatureRecorder, RecorderSpec, StopForward,
                       pick_level)

_FEATURE_PREFIXES = ('backbone', 'neck')
_DISTILL_KEYS = ('student_recorders', 'teacher_recorders', 'connectors',
                 'distill_losses', 'loss_forward_mappings',
                 'distill_warmup_iters')
_ROLES = ('student', 'teacher')


def _normalisation(pre: nn.Module
                   ) -> Optional[Tuple[Tensor, Tensor, bool]]:
    """``(mean, std, converts BGR<->RGB)`` of an image preprocessor, or None.

    Reads mmengine's ``ImgDataPreprocessor`` family (mmdet, mmpretrain) and
    mmseg's ``SegDataPreProcessor``; ``None`` for anything else.
    """
    if not hasattr(pre, '_enable_normalize'):
        return None
    conv = bool(
        getattr(pre, '_channel_conversion',
                getattr(pre, 'channel_conversion', False)))
    if pre._enable_normalize:
        return (pre.mean.detach().flatten().double(),
                pre.std.detach().flatten().double(), conv)
    return torch.zeros(3, dtype=torch.float64), torch.ones(
        3, dtype=torch.float64), conv


@MODELS.register_module()
class SingleTeacherDistiller(BaseModel):
    """Train a student with its own task losses plus feature-distillation losses.

    The teacher is frozen, always in eval mode, run under ``no_grad`` and only
    as far as its recorded modules (``extract_feat`` when they all live in the
    backbone/neck, then stopped right after the last one). It is held outside
    the module tree (as mmdet's ``KnowledgeDistillationSingleStageDetector``
    does): not in ``state_dict()``, not in the optimizer, not wrapped by DDP;
    device moves (``to``/``cuda``/``cpu``) reach it explicitly.

    ``loss()`` returns the student's losses unchanged plus one entry per
    distillation loss; ``predict``/``tensor`` modes run the student alone, so
    validation and ``tools/test.py`` evaluate the student.

    Args:
        student: Student model config, or ``dict(cfg_path=..., **overrides)``
            (see :func:`load_model_cfg`).
        teacher: Teacher model config, likewise.
        teacher_ckpt: Teacher checkpoint path or URL, loaded on the CPU with
            ``weights_only=True``. ``None`` keeps random weights (tests only).
        student_ckpt: Optional checkpoint to start the student from.
        student_recorders: ``{name: 'module.path'}`` or ``{name:
            dict(module='neck', index=i)}`` features of the student.
        teacher_recorders: Same for the teacher.
        connectors: Shared connectors, ``{name: connector config}`` (a
            registered module, e.g. ``dict(type='mmswtat.ConvBNConnector',
            in_channels=512, out_channels=2048)``), declared once and
            referenced by name from ``loss_forward_mappings``. Each is built
            once into ``self.connectors[name]`` (saved as
            ``connectors.<name>.*``, trained with the distiller, not part of
            :meth:`student_state_dict`) and, within one step, run once per
            ``(side, recorder, index)`` it is applied to: every loss that
            references it gets the same output tensor, and its gradient is
            the sum over those losses. Names are plain identifiers without
            ``'.'``; ``'<loss>_student'`` and ``'<loss>_teacher'`` are
            reserved for the per-loss connectors.
        distill_losses: ``{loss_name: loss config}``; names start with
            ``loss_`` so mmengine sums them.
        loss_forward_mappings: ``{loss_name: dict(student=IN, teacher=IN)}``,
            ``IN`` a recorder name or ``dict(recorder=name, index=i,
            connector=cfg)`` (``index`` picks from a tuple record;
            ``connector`` is a registered module config applied first, owned
            by this loss and side, or the name of a shared connector from
            ``connectors``). A list ``index=[0, 1, 2]`` on both sides applies
            the loss to each level (one loss module, with its own embeddings,
            per level; likewise one connector per level for a connector
            config, while a shared connector is one module applied to every
            level) and logs the sum; the loss config's
            ``per_level=dict(window_size=[8, 8, 4], loss_weight=[...])`` sets
            values level by level. A teacher-side connector must have no
            trainable parameters (e.g. ``mmswtat.ResizeConnector``): the
            regression target is the raw teacher map, so projections belong
            on the student side. May be omitted when there is exactly one
            recorder on each side.
        teacher_ckpt_strict: Missing/unexpected teacher keys are an error.
        weights_only: Safe unpickling of checkpoints; ``False`` is an opt-in
            for trusted legacy files only.
        teacher_forward: ``'auto'`` (``extract_feat`` if every teacher
            recorder is in the backbone/neck, else ``mode='tensor'``),
            ``'extract_feat'`` or ``'tensor'``.
        distill_warmup_iters: Ramp the distillation weights linearly from
            ``1/K`` to 1 over the first ``K`` iterations (0 = off).
        distill: The distillation settings above (``student_recorders``,
            ``teacher_recorders``, ``connectors``, ``distill_losses``,
            ``loss_forward_mappings``, ``distill_warmup_iters``) as one dict,
            so a config fragment can be dropped in with
            ``distill={{_base_.swtat_layer4}}``; an argument given directly
            as well is an error.
        check_finite: Raise when a distillation loss is NaN/Inf, naming it
            and the iteration (one device sync per step).
        data_preprocessor: The batch preprocessor. Always the student's
            own (so e.g. mmpretrain batch augments configured in the
            student's ``train_cfg`` apply); a dict here (the runner passes a
            config's top-level ``data_preprocessor``) is used by a student
            config without one, and a module replaces it. Each batch is
            preprocessed once; when the teacher's own preprocessor uses
            another mean/std or channel order, the teacher gets the batch
            re-normalised (:meth:`teacher_inputs`).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 student: Union[str, dict],
                 teacher: Union[str, dict],
                 teacher_ckpt: Optional[str] = None,
                 student_ckpt: Optional[str] = None,
                 student_recorders: Optional[Dict[str, RecorderSpec]] = None,
                 teacher_recorders: Optional[Dict[str, RecorderSpec]] = None,
                 connectors: Optional[Dict[str, dict]] = None,
                 distill_losses: Optional[Dict[str, dict]] = None,
                 loss_forward_mappings: Optional[Dict[str, dict]] = None,
                 teacher_ckpt_strict: bool = True,
                 weights_only: bool = True,
                 teacher_forward: str = 'auto',
                 distill_warmup_iters: int = 0,
                 distill: Optional[dict] = None,
                 check_finite: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if distill:
            given = dict(
                student_recorders=student_recorders,
                teacher_recorders=teacher_recorders,
                connectors=connectors,
                distill_losses=distill_losses,
                loss_forward_mappings=loss_forward_mappings,
                distill_warmup_iters=distill_warmup_iters or None)
            for key, value in dict(distill).items():
                if key not in _DISTILL_KEYS:
                    raise ValueError(f'distill: unknown key {key!r} '
                                     f'(allowed: {", ".join(_DISTILL_KEYS)})')
                if given[key] is not None:
                    raise ValueError(f'{key} is given both directly and in '
                                     'distill; keep one')
                given[key] = value
            student_recorders = given['student_recorders']
            teacher_recorders = given['teacher_recorders']
            connectors = given['connectors']
            distill_losses = given['distill_losses']
            loss_forward_mappings = given['loss_forward_mappings']
            distill_warmup_iters = given['distill_warmup_iters'] or 0
        student_cfg = load_model_cfg(student, 'student')
        if isinstance(data_preprocessor, dict):
            # What the runner does for a plain model: a top-level
            # `data_preprocessor` fills in for a model without one.
            student_cfg.setdefault('data_preprocessor', data_preprocessor)
            data_preprocessor = None
        student_model = MODELS.build(student_cfg)
        if data_preprocessor is None:
            data_preprocessor = student_model.data_preprocessor
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = student_model

        teacher_model = MODELS.build(load_model_cfg(teacher, 'teacher'))
        if teacher_ckpt is not None:
            load_weights(teacher_model, teacher_ckpt, 'teacher',
                         teacher_ckpt_strict, weights_only)
        else:
            print_log(
                'SingleTeacherDistiller: teacher_ckpt is None, the teacher '
                'keeps its initial weights (fine for testing a trained '
                'student; useless for distillation).',
                logger='current', level=logging.WARNING)
        teacher_model.requires_grad_(False)
        teacher_model.eval()
        # Outside the module tree: see the class docstring.
        object.__setattr__(self, 'teacher', teacher_model)
        self._setup_teacher_inputs(self.data_preprocessor,
                                   teacher_model.data_preprocessor)

        if student_ckpt is not None:
            load_weights(self.student, student_ckpt, 'student', True,
                         weights_only)
            self.student._is_init = True  # keep init_weights() off it

        self.student_recorder = FeatureRecorder(self.student,
                                                student_recorders or {},
                                                'student')
        self.teacher_recorder = FeatureRecorder(
            teacher_model, teacher_recorders or {}, 'teacher',
            stop_when_done=True)
        self.teacher_forward = self._check_teacher_forward(
            teacher_forward, teacher_model)

        distill_losses = dict(distill_losses or {})
        if not distill_losses:
            msg = ('SingleTeacherDistiller: no distill_losses configured, the '
                   'student trains on its task losses alone (nothing is '
                   'distilled). Add e.g. the configs/_base_/distill fragment.')
            print_log(msg, logger='current', level=logging.WARNING)
            warnings.warn(msg, UserWarning, stacklevel=2)
        shared = self._build_shared_connectors(
            dict(connectors or {}), distill_losses)
        self.loss_forward_mappings = self._check_mappings(
            distill_losses, loss_forward_mappings or {}, shared)
        losses, modules, used = {}, dict(shared), set()
        for name, mapping in self.loss_forward_mappings.items():
            n = len(mapping['levels'])
            losses[name] = self._build_per_level(name, distill_losses[name],
                                                 n, mapping['multi'])
            for role in _ROLES:
                cfg = mapping[role].get('connector')
                where = f'loss_forward_mappings[{name!r}][{role!r}]'
                if isinstance(cfg, str):
                    used.add(cfg)
                    if role == 'teacher':
                        self._check_teacher_connector(
                            shared[cfg], f'{where}: shared connector '
                            f'{cfg!r}')
                elif cfg is not None:
                    modules[f'{name}_{role}'] = self._build_per_level(
                        f'{name} {role} connector', cfg, n, mapping['multi'])
                    if role == 'teacher':
                        self._check_teacher_connector(
                            modules[f'{name}_{role}'], f'{where}: connector')
        unused = sorted(set(shared) - used)
        if unused:
            msg = (f'SingleTeacherDistiller: shared connectors {unused} are '
                   'not referenced by any loss_forward_mappings entry; they '
                   'are never run or trained (remove them, or reference '
                   "them with connector='NAME')")
            print_log(msg, logger='current', level=logging.WARNING)
            warnings.warn(msg, UserWarning, stacklevel=2)
        self.distill_losses = nn.ModuleDict(losses)
        self.connectors = nn.ModuleDict(modules)
        self._check_connector_channels()
        # Outputs of the shared connectors within one compute_distill_losses
        # call, {(name, role, recorder, index): Tensor}; None outside it.
        self._shared_outputs: Optional[Dict[tuple, Tensor]] = None
        self.distill_warmup_iters = int(distill_warmup_iters)
        self.check_finite = check_finite

    # ------------------------------------------------------------ validation
    def _check_connector_channels(self) -> None:
        """A connector's output width must be the loss's declared input width.

        Checked at build time wherever both are known (connectors with an
        ``out_channels`` attribute, losses with ``student_channels`` /
        ``teacher_channels``), so that e.g. forgetting to set
        ``student_channels=2048`` after adding a 512 -> 2048 connector stops
        here rather than at the first training step.
        """
        for name, mapping in self.loss_forward_mappings.items():
            losses = self.distill_losses[name]
            losses = list(losses) if mapping['multi'] else [losses]
            for role in _ROLES:
                ref = mapping[role].get('connector')
                if ref is None:
                    continue
                shared = isinstance(ref, str)
                module = self.connectors[ref if shared else f'{name}_{role}']
                per_level = (list(module) if isinstance(module, nn.ModuleList)
                             else [module] * len(losses))
                for level, (loss, conn) in enumerate(zip(losses, per_level)):
                    out = getattr(conn, 'out_channels', None)
                    want = getattr(loss, f'{role}_channels', None)
                    if out is None or want is None or out == want:
                        continue
                    what = (f'shared connector {ref!r}' if shared else
                            f'its {role} connector')
                    at = f' (level {level})' if mapping['multi'] else ''
                    raise ValueError(
                        f'distill loss {name!r}{at} declares '
                        f'{role}_channels={want}, but {what} outputs {out} '
                        f'channels; set {role}_channels={out} (the loss sees '
                        'the map after the connector)')

    @staticmethod
    def _check_teacher_forward(mode: str, teacher: nn.Module) -> str:
        if mode not in ('auto', 'extract_feat', 'tensor'):
            raise ValueError("teacher_forward must be 'auto', 'extract_feat' "
                             f"or 'tensor', got {mode!r}")
        return mode

    @staticmethod
    def _build_per_level(name: str, cfg: dict, num_levels: int,
                         multi: bool) -> nn.Module:
        """One module, or one per level (``per_level`` values by level)."""
        cfg = dict(cfg)
        per_level = dict(cfg.pop('per_level', None) or {})
        if per_level and not multi:
            raise ValueError(
                f'{name}: per_level needs a list index in its '
                'loss_forward_mappings entry (one value per level)')
        for key, values in per_level.items():
            if not isinstance(values, (list, tuple)) or \
                    len(values) != num_levels:
                raise ValueError(
                    f'{name}: per_level[{key!r}] must list one value for '
                    f'each of the {num_levels} levels, got {values!r}')
        if not multi:
            return MODELS.build(cfg)
        return nn.ModuleList(
            MODELS.build(dict(cfg, **{k: v[i]
                                      for k, v in per_level.items()}))
            for i in range(num_levels))

    @staticmethod
    def _build_shared_connectors(cfgs: Dict[str, dict],
                                 losses: Dict[str, dict]
                                 ) -> Dict[str, nn.Module]:
        """Check the names of the shared connectors and build them.

        Args:
            cfgs: ``{name: connector config}``.
            losses: The ``distill_losses`` configs (their names reserve the
                per-loss connector keys ``'<loss>_<role>'``).

        Returns:
            ``{name: module}``.
        """
        reserved = {f'{loss}_{role}': (loss, role)
                    for loss in losses for role in _ROLES}
        modules = {}
        for name, cfg in cfgs.items():
            if not isinstance(name, str) or not name or '.' in name:
                raise ValueError(
                    f'connectors: name {name!r} is not a valid module name; '
                    "use a non-empty string without '.' (e.g. 's4')")
            if hasattr(nn.ModuleDict(), name):
                raise ValueError(
                    f'connectors: name {name!r} is an attribute of '
                    'nn.ModuleDict and cannot be a key; rename it (e.g. '
                    f"'{name}_proj')")
            if name in reserved:
                loss, role = reserved[name]
                raise ValueError(
                    f'connectors: shared connector name {name!r} collides '
                    f'with the per-loss connector key {name!r} of distill '
                    f'loss {loss!r} ({role} side); rename the shared '
                    'connector')
            if not isinstance(cfg, dict) or 'type' not in cfg:
                raise ValueError(
                    f'connectors[{name!r}] must be a registered module config '
                    "such as dict(type='mmswtat.ConvBNConnector', "
                    f'in_channels=..., out_channels=...), got {cfg!r}')
            if 'per_level' in cfg:
                raise ValueError(
                    f'connectors[{name!r}]: per_level is not supported, a '
                    'shared connector is one module applied to every level; '
                    'define one shared connector per level, or give the '
                    'config in the loss_forward_mappings entry (one '
                    'connector per level)')
            modules[name] = MODELS.build(dict(cfg))
        return modules

    @staticmethod
    def _check_teacher_connector(module: nn.Module, what: str) -> None:
        """Reject a teacher-side connector with trainable parameters."""
        trainable = [n for n, p in module.named_parameters()
                     if p.requires_grad]
        if trainable:
            raise ValueError(
                f'{what} ({type(module).__name__}) on the teacher side has '
                f'trainable parameters ({", ".join(trainable[:4])}'
                f'{", ..." if len(trainable) > 4 else ""}): it would make '
                'the regression target learnable (the loss can collapse to '
                'zero), while the target must be the raw teacher map. Put '
                'the projection on the student side (student=dict('
                "recorder=..., connector=...)); parameter-free teacher "
                "connectors such as mmswtat.ResizeConnector are allowed")

    def _check_mappings(self, losses: Dict[str, dict],
                        mappings: Dict[str, dict],
                        shared: Dict[str, nn.Module]) -> Dict[str, dict]:
        student_names = self.student_recorder.names
        teacher_names = self.teacher_recorder.names
        for name in losses:
            if not name.startswith('loss_'):
                raise ValueError(
                    f'distill_losses key {name!r} must start with "loss_" '
                    f'so that mmengine adds it to the total; rename it to '
                    f"'loss_{name}'")
        for name in mappings:
            if name not in losses:
                raise ValueError(
                    f'loss_forward_mappings names {name!r}, which is not in '
                    f'distill_losses ({sorted(losses)})')
        out = {}
        for name in losses:
            mapping = mappings.get(name)
            if mapping is None:
                if len(student_names) == 1 and len(teacher_names) == 1:
                    mapping = dict(
                        student=student_names[0], teacher=teacher_names[0])
                else:
                    raise ValueError(
                        f'distill loss {name!r} has no entry in '
                        'loss_forward_mappings; add e.g. '
                        f"{name}=dict(student='feat', teacher='feat')")
            checked = {}
            for role, names in (('student', student_names),
                                ('teacher', teacher_names)):
                if role not in mapping:
                    raise ValueError(f'loss_forward_mappings[{name!r}] needs '
                                     f'a {role!r} entry')
                spec = mapping[role]
                spec = dict(recorder=spec) if isinstance(spec, str) else dict(
                    spec)
                if spec.get('recorder') not in names:
                    raise ValueError(
                        f'distill loss {name!r} takes {role} feature '
                        f"{spec.get('recorder')!r}, but the {role} recorders "
                        f'are {names}; define it in {role}_recorders')
                extra = set(spec) - {'recorder', 'index', 'connector'}
                if extra:
                    raise ValueError(
                        f'loss_forward_mappings[{name!r}][{role!r}]: unknown '
                        f'keys {sorted(extra)} (allowed: recorder, index, '
                        'connector)')
                connector = spec.get('connector')
                where = f'loss_forward_mappings[{name!r}][{role!r}]'
                if isinstance(connector, str):
                    if connector not in shared:
                        raise ValueError(
                            f'{where}: connector {connector!r} is not a '
                            f'shared connector (defined: {sorted(shared)}); '
                            'define it with connectors=dict('
                            f"{connector}=dict(type=...)), or give a "
                            'connector config dict here')
                elif connector is not None and not isinstance(
                        connector, dict):
                    raise ValueError(
                        f'{where}: connector must be a module config dict '
                        'or the name of a shared connector, got '
                        f'{connector!r}')
                checked[role] = spec
            s_idx = checked['student'].get('index')
            t_idx = checked['teacher'].get('index')
            multi = isinstance(s_idx, (list, tuple)) or isinstance(
                t_idx, (list, tuple))
            if multi:
                if not (isinstance(s_idx, (list, tuple)) and isinstance(
                        t_idx, (list, tuple)) and len(s_idx) == len(t_idx)):
                    raise ValueError(
                        f'distill loss {name!r}: a list index applies the '
                        'loss to several levels and needs lists of equal '
                        f'length on both sides, got student {s_idx!r}, '
                        f'teacher {t_idx!r}')
                checked['levels'] = list(zip(s_idx, t_idx))
            else:
                checked['levels'] = [(s_idx, t_idx)]
            checked['multi'] = multi
            out[name] = checked
        return out

    # ---------------------------------------------------------------- teacher
    def _apply(self, fn, *args, **kwargs):
        # `to()`, `cuda()`, `cpu()`, `half()` all come here: move the teacher
        # too, although it is not a submodule.
        self.teacher._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def train(self, mode: bool = True) -> 'SingleTeacherDistiller':
        super().train(mode)
        self.teacher.eval()  # BN, dropout, drop-path stay in inference mode
        return self

    def _setup_teacher_inputs(self, student_pre: nn.Module,
                              teacher_pre: nn.Module) -> None:
        """Re-normalisation of the student's batch for the teacher, if needed.

        The batch is preprocessed once, by the student's preprocessor. When
        the teacher's own preprocessor normalises differently (e.g. a
        caffe-style BGR teacher and an RGB student), :meth:`teacher_inputs`
        undoes the student's normalisation and applies the teacher's:
        ``x_t = flip(x_s) * scale + shift`` with per-channel ``scale =
        std_s / std_t`` and ``shift = (mean_s - mean_t) / std_t`` (``flip``:
        reverse the channels when exactly one side converts BGR <-> RGB).
        Kept as non-persistent buffers (not in checkpoints).
        """
        self._teacher_flip = False
        self.register_buffer('_teacher_scale', None, persistent=False)
        self.register_buffer('_teacher_shift', None, persistent=False)
        specs = [_normalisation(p) for p in (student_pre, teacher_pre)]
        if None in specs:
            return  # a preprocessor without image normalisation: as is
        (mean_s, std_s, conv_s), (mean_t, std_t, conv_t) = specs
        if mean_s.numel() != mean_t.numel():
            raise ValueError(
                f'the student preprocessor normalises {mean_s.numel()} '
                f'channels and the teacher preprocessor {mean_t.numel()}; '
                'give both data_preprocessors the same number of mean/std '
                'values (the teacher gets the student\'s batch)')
        flip = conv_s != conv_t
        if not flip and torch.equal(mean_s, mean_t) and torch.equal(
                std_s, std_t):
            return
        if flip:  # the student's statistics in the teacher's channel order
            mean_s, std_s = mean_s.flip(0), std_s.flip(0)
        self._teacher_flip = flip
        self._teacher_scale = (std_s / std_t).float().view(-1, 1, 1)
        self._teacher_shift = ((mean_s - mean_t) /
                               std_t).float().view(-1, 1, 1)
        print_log(
            'SingleTeacherDistiller: the teacher normalises its inputs '
            'differently from the student (teacher: mean '
            f'{mean_t.tolist()}, std {std_t.tolist()}, BGR<->RGB {conv_t}; '
            f'student: BGR<->RGB {conv_s}); the teacher gets the '
            "student's batch re-normalised to its own statistics.",
            logger='current',
            level=logging.INFO)

    def teacher_inputs(self, inputs: Tensor) -> Tensor:
        """The student's preprocessed batch as the teacher expects it.

        Args:
            inputs: ``(B, C, H, W)`` from the student's preprocessor.

        Returns:
            ``inputs`` itself when both normalise alike; else the batch
            re-normalised for the teacher (padding, if any, is transformed
            like the image).
        """
        if self._teacher_scale is None:
            return inputs
        if self._teacher_flip:
            inputs = inputs.flip(1)
        return inputs * self._teacher_scale + self._teacher_shift

    def run_teacher(self, inputs: Tensor, data_samples: Any) -> None:
        """Run the teacher (no grad, eval) until every teacher recorder fired.

        Fills ``self.teacher_recorder.records``; the caller clears them.
        """
        recorder = self.teacher_recorder
        if not recorder.names:
            return
        mode = self.teacher_forward
        if mode == 'auto':
            in_features = all(
                p.split('.')[0] in _FEATURE_PREFIXES
                for p in recorder.paths.values())
            mode = ('extract_feat' if in_features
                    and hasattr(self.teacher, 'extract_feat') else 'tensor')
        recorder.active = True
        try:
            with torch.no_grad():
                inputs = self.teacher_inputs(inputs)
                if mode == 'extract_feat':
                    self.teacher.extract_feat(inputs)
                else:
                    self.teacher(inputs, data_samples, mode='tensor')
        except StopForward:
            pass
        finally:
            recorder.active = False
        missing = recorder.missing()
        if missing:
            raise RuntimeError(
                f'teacher recorders {missing} were not reached by the '
                f"teacher's {mode!r} forward; set teacher_forward='tensor' "
                'or record modules that this forward runs')

    # ------------------------------------------------------------------ modes
    def forward(self,
                inputs: Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Any:
        """``loss``: task + distillation losses; else the student alone."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('predict', 'tensor'):
            return self.student(inputs, data_samples, mode=mode)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def loss(self, inputs: Tensor, data_samples: Optional[list]) -> dict:
        """Student task losses plus the distillation losses.

        Args:
            inputs: Preprocessed batch ``(B, 3, H, W)``.
            data_samples: The codebase's data samples.

        Returns:
            ``{name: Tensor}``: the student's own entries unchanged, then one
            scalar per distillation loss.
        """
        try:
            self.run_teacher(inputs, data_samples)
            self.student_recorder.active = True
            losses = dict(self.student.loss(inputs, data_samples))
            self.student_recorder.active = False
            missing = self.student_recorder.missing()
            if missing:
                raise RuntimeError(
                    f'student recorders {missing} were not reached by the '
                    "student's loss forward; record modules it runs")
            distill = self.compute_distill_losses(
                self.student_recorder.records, self.teacher_recorder.records)
        finally:
            self.student_recorder.active = False
            self.student_recorder.clear()
            self.teacher_recorder.clear()
        for name in distill:
            if name in losses:
                raise ValueError(f'distill loss name {name!r} collides with a '
                                 'student loss; rename it')
        losses.update(distill)
        return losses

    def select_feature(self, records: Dict[str, Any], spec: dict,
                       index: Optional[int], loss_name: str, role: str,
                       level: Optional[int]) -> Tensor:
        """One input of a distillation loss from the recorded features.

        Args:
            records: ``{recorder name: output}`` of one model.
            spec: The mapping entry (``recorder``, ``connector``).
            index: Element of a tuple/list record, or ``None``.
            loss_name, role: For messages and the connector's key.
            level: Level of a multi-level loss (picks its per-loss
                connector), or ``None``.

        Returns:
            The feature map, after the connector if any. Within
            :meth:`compute_distill_losses`, a shared connector's output for
            one ``(role, recorder, index)`` is computed once and reused.
        """
        feat = records[spec['recorder']]
        if index is None and isinstance(feat, (tuple, list)):
            raise ValueError(
                f'distill loss {loss_name!r}: {role} feature '
                f"{spec['recorder']!r} is a tuple of {len(feat)} levels; pick "
                f'levels with index=i or index=[0, ..., {len(feat) - 1}] in '
                'loss_forward_mappings')
        feat = pick_level(
            feat, index,
            f"distill loss {loss_name!r}: {role} feature {spec['recorder']!r}")
        connector = spec.get('connector')
        if connector is None:
            return feat
        if not isinstance(connector, str):  # owned by this loss and side
            module = self.connectors[f'{loss_name}_{role}']
            return (module if level is None else module[level])(feat)
        cache = self._shared_outputs
        if cache is None:  # called outside a step (e.g. analysis tools)
            return self.connectors[connector](feat)
        if index is not None and index < 0:
            index += len(records[spec['recorder']])
        key = (connector, role, spec['recorder'], index)
        if key not in cache:
            cache[key] = self.connectors[connector](feat)
        return cache[key]

    def distill_weight(self) -> float:
        """Multiplier of every distillation loss at the current iteration."""
        if self.distill_warmup_iters <= 0:
            return 1.0
        it = MessageHub.get_current_instance().get_info('iter', 0)
        return min(1.0, (it + 1) / self.distill_warmup_iters)

    def compute_distill_losses(self, student_records: Dict[str, Any],
                               teacher_records: Dict[str, Any]
                               ) -> Dict[str, Tensor]:
        """Apply each distillation loss to its mapped features.

        Shared connectors run once per ``(role, recorder, index)`` here;
        their outputs are dropped on return (also on errors).
        """
        weight = self.distill_weight()
        out = {}
        self._shared_outputs = {}
        try:
            for name, loss_module in self.distill_losses.items():
                mapping = self.loss_forward_mappings[name]
                total = 0.
                for level, (s_idx, t_idx) in enumerate(mapping['levels']):
                    level = level if mapping['multi'] else None
                    s = self.select_feature(student_records,
                                            mapping['student'], s_idx, name,
                                            'student', level)
                    t = self.select_feature(teacher_records,
                                            mapping['teacher'], t_idx, name,
                                            'teacher', level)
                    module = (loss_module
                              if level is None else loss_module[level])
                    total = total + module(s, t)
                out[name] = total * weight
        finally:
            self._shared_outputs = None
        if self.check_finite and out:
            values = torch.stack([v.detach().float() for v in out.values()])
            if not bool(torch.isfinite(values).all()):
                it = MessageHub.get_current_instance().get_info('iter', 0)
                bad = [n for n, v in out.items()
                       if not torch.isfinite(v).all()]
                raise FloatingPointError(
                    f'distillation loss {bad} is not finite at iteration '
                    f'{it}. Lower the learning rate or loss_weight, use '
                    "scale='auto', or check the inputs (set "
                    'model.check_finite=False to let it through).')
        return out

    # --------------------------------------------------------------- helpers
    def student_state_dict(self) -> Dict[str, Tensor]:
        """The student's weights alone, keyed as the stock student model."""
        return {
            k[len('student.'):]: v
            for k, v in self.state_dict().items() if k.startswith('student.')
        }
