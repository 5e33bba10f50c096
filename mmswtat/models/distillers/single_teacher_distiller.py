"""A task-agnostic single-teacher feature distiller for mmengine runners."""
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import Tensor

from mmswtat.registry import MODELS
from mmswtat.utils.checkpoint import load_weights
from .checks import assert_finite, check_flags
from .distill_spec import DistillSpec
from .dry_run import dry_run
from .loss_bank import LossBank
from .model_config import load_model_cfg, merge_preprocessor
from .recorder import FeatureRecorder
from .teacher import (FrozenTeacher, build_teacher, choose_forward,
                      record_forward, warn_random_teacher)
from .valid_mask import resolve_valid_masks, stack_labels


@MODELS.register_module()
class SingleTeacherDistiller(BaseModel):
    """The student's task losses plus distillation losses from a teacher::

        loss(): run_teacher() -> student.loss() [recorded]
                -> compute_distill_losses() -> assert_finite()
        compute_distill_losses(): loss_bank() * distill_weight() [warm-up]
        forward(mode='predict' or 'tensor'): the student alone

    The settings' grammar, each argument in full: docs/distill_config.md.

    Args:
        student: Student model config, or ``dict(cfg_path=..., **kwargs)``.
        teacher: Teacher model config, likewise.
        teacher_ckpt: Teacher weights (path, URL); ``None``: random (tests).
        student_ckpt: Optional weights to start the student from.
        student_recorders: ``{name: 'module.path' or dict(module=...)}``.
        teacher_recorders: Same for the teacher.
        connectors: Shared connectors, ``{name: connector config}``.
        distill_losses: ``{loss_name: loss config}``, names ``loss_*``.
        loss_forward_mappings: ``{loss_name: dict(student=IN, teacher=IN)}``.
        teacher_ckpt_strict: Missing/unexpected teacher keys are an error.
        student_ckpt_strict: The same for ``student_ckpt``.
        weights_only: Safe unpickling; ``False`` for trusted legacy files.
        teacher_forward: ``'auto'``, ``'extract_feat'`` or ``'tensor'``.
        teacher_precision: ``'fp32'``, ``'bf16'``, ``'fp16'`` or ``'auto'``.
        distill_warmup_iters: Ramp the distillation weights over K iters.
        distill: The five settings above as one dict, or a list (a recipe).
        check_finite: Raise on a NaN/Inf loss, naming it and the iteration.
        data_preprocessor: A dict is merged over the student's own.
        init_cfg: mmengine init config.
    """

    # Check every loss's inputs at build time on a dummy batch (dry_run.py).
    check_at_build = True

    def __init__(self,
                 student: Union[str, dict],
                 teacher: Union[str, dict],
                 teacher_ckpt: Optional[str] = None,
                 student_ckpt: Optional[str] = None,
                 student_recorders: Optional[Dict[str, Any]] = None,
                 teacher_recorders: Optional[Dict[str, Any]] = None,
                 connectors: Optional[Dict[str, dict]] = None,
                 distill_losses: Optional[Dict[str, dict]] = None,
                 loss_forward_mappings: Optional[Dict[str, dict]] = None,
                 teacher_ckpt_strict: bool = True,
                 student_ckpt_strict: bool = True,
                 weights_only: bool = True,
                 teacher_forward: str = 'auto',
                 teacher_precision: str = 'fp32',
                 distill_warmup_iters: int = 0,
                 distill: Union[None, dict, List[dict]] = None,
                 check_finite: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        check_flags(
            teacher_ckpt_strict=teacher_ckpt_strict,
            student_ckpt_strict=student_ckpt_strict,
            weights_only=weights_only,
            check_finite=check_finite)
        spec = DistillSpec.from_config(
            distill,
            student_recorders=student_recorders,
            teacher_recorders=teacher_recorders,
            connectors=connectors,
            distill_losses=distill_losses,
            loss_forward_mappings=loss_forward_mappings,
            distill_warmup_iters=distill_warmup_iters)
        student_cfg = load_model_cfg(student, 'student')
        if isinstance(data_preprocessor, dict):
            # The runner's top-level `data_preprocessor`: its values win
            # over the student's own (logged), e.g. an mmseg crop change.
            student_cfg['data_preprocessor'] = merge_preprocessor(
                student_cfg.get('data_preprocessor'), data_preprocessor)
            data_preprocessor = None
        student_model = MODELS.build(student_cfg)
        if data_preprocessor is None:
            data_preprocessor = student_model.data_preprocessor
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = student_model
        # Outside the module tree (not in state_dict(), the optimizer or
        # DDP); _apply() moves it.
        object.__setattr__(
            self, 'frozen_teacher',
            FrozenTeacher(
                build_teacher(teacher, teacher_ckpt, teacher_ckpt_strict,
                              weights_only), {
                                  n: r.module
                                  for n, r in spec.teacher_recorders.items()
                              }, teacher_forward, self.data_preprocessor,
                teacher_precision,
                [n for n, r in spec.teacher_recorders.items() if r.clone], {
                    n: r.call
                    for n, r in spec.teacher_recorders.items()
                    if r.call is not None
                }))
        self._random_teacher = teacher_ckpt is None  # warned at 1st step
        if student_ckpt is not None:
            load_weights(self.student, student_ckpt, 'student',
                         student_ckpt_strict, weights_only)
            self.student._is_init = True  # keep init_weights() off it
        self.student_recorder = FeatureRecorder(
            self.student, {
                n: r.module
                for n, r in spec.student_recorders.items()
            },
            'student',
            clone=[n for n, r in spec.student_recorders.items() if r.clone],
            calls={
                n: r.call
                for n, r in spec.student_recorders.items()
                if r.call is not None
            })
        self.teacher_forward = teacher_forward
        spec = resolve_valid_masks(spec, self.student)
        self.spec = spec
        bank = LossBank(spec)
        # The bank is not a child (its keys would gain a prefix); its two
        # ModuleDicts are, under the names checkpoints use.
        object.__setattr__(self, 'loss_bank', bank)
        self.distill_losses = bank.distill_losses
        self.connectors = bank.connectors
        self.distill_warmup_iters = spec.warmup_iters
        self.check_finite = check_finite
        if self.check_at_build:
            dry_run(self)

    # ---------------------------------------------------------------- teacher
    @property
    def teacher(self) -> nn.Module:
        """The teacher model (frozen, eval, not a submodule)."""
        return self.frozen_teacher.model

    @property
    def teacher_recorder(self) -> FeatureRecorder:
        """The teacher's recorder."""
        return self.frozen_teacher.recorder

    def _apply(self, fn, *args, **kwargs):
        # `to()`, `cuda()`, `cpu()`, `half()` all come here: move the teacher
        # too, although it is not a submodule.
        self.frozen_teacher._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def train(self, mode: bool = True) -> 'SingleTeacherDistiller':
        super().train(mode)
        self.loss_bank.train(mode)
        self.frozen_teacher.train()  # stays in eval mode
        return self

    def teacher_inputs(self, inputs: Tensor) -> Tensor:
        """:meth:`FrozenTeacher.inputs`: ``(B, C, H, W)`` for the teacher."""
        return self.frozen_teacher.inputs(inputs)

    def run_teacher(self,
                    inputs: Tensor,
                    data_samples: Any = None) -> Dict[str, Any]:
        """:meth:`FrozenTeacher.forward`: the teacher's records (no grad)."""
        return self.frozen_teacher(inputs, data_samples)

    def record_features(
            self,
            inputs: Tensor,
            data_samples: Any = None) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """Student and teacher records of one batch, without gradients.

        For analysis tools: the student runs only as far as
        ``extract_feat`` when its recorders are all in the backbone/neck,
        else in ``tensor`` mode; the teacher as in training.

        Args:
            inputs: The preprocessed batch ``(B, C, H, W)``.
            data_samples: Its data samples.

        Returns:
            ``(student records, teacher records)``.
        """
        teacher = self.run_teacher(inputs, data_samples)
        recorder = self.student_recorder
        mode = choose_forward(self.student, recorder.paths.values())
        with torch.no_grad():
            student = record_forward(self.student, recorder, inputs,
                                     data_samples, mode,
                                     "the student's forward")
        return student, teacher

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

        Raises:
            FloatingPointError: A task or distillation loss is NaN/Inf
                (``check_finite``), naming them.
        """
        if self._random_teacher:
            self._random_teacher = False
            warn_random_teacher()
        masked = self.loss_bank.masked  # labels first: fail fast
        labels = stack_labels(data_samples, masked) if masked else None
        teacher = self.run_teacher(inputs, data_samples)
        with self.student_recorder as recorder:
            losses = dict(self.student.loss(inputs, data_samples))
            student = recorder.collect("the student's loss forward; record "
                                       'modules it runs')
        distill = self.compute_distill_losses(student, teacher, labels)
        for name in distill:
            if name in losses:
                raise ValueError(f'distill loss name {name!r} collides with a '
                                 'student loss; rename it')
        losses.update(distill)
        if self.check_finite:
            assert_finite(losses, distill)
        return losses

    def select_feature(self,
                       records: Dict[str, Any],
                       loss_name: str,
                       role: str,
                       level: Optional[int] = None) -> Tensor:
        """One input of a distillation loss; see
        :meth:`LossBank.select_feature` (nothing cached)."""
        return self.loss_bank.select_feature(records, loss_name, role, level)

    def distill_weight(self) -> float:
        """Multiplier of every distillation loss at the current iteration."""
        if self.distill_warmup_iters <= 0:
            return 1.0
        it = MessageHub.get_current_instance().get_info('iter', 0)
        return min(1.0, (it + 1) / self.distill_warmup_iters)

    def compute_distill_losses(
            self,
            student_records: Dict[str, Any],
            teacher_records: Dict[str, Any],
            labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Each distillation loss on its mapped features, weighted.

        Args:
            student_records: ``{recorder name: output}`` of the student.
            teacher_records: Same for the teacher.
            labels: ``(N, 1, H, W)`` segmentation labels, needed by the
                losses with a ``valid_mask`` (:func:`stack_labels`).

        Returns:
            ``{loss name: scalar}`` times :meth:`distill_weight`.
        """
        weight = self.distill_weight()
        out = {
            name: value * weight
            for name, value in self.loss_bank(student_records, teacher_records,
                                              labels).items()
        }
        return out

    # --------------------------------------------------------------- helpers
    def student_state_dict(self) -> Dict[str, Tensor]:
        """The student's weights alone, keyed as the stock student model."""
        return {
            k[len('student.'):]: v
            for k, v in self.state_dict().items() if k.startswith('student.')
        }
