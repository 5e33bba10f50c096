"""The frozen teacher: its weights, its inputs and how far it runs."""
import logging
from typing import Any, Dict, Iterable, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor

from mmswtat.registry import MODELS
from mmswtat.utils.checkpoint import load_weights
from .distill_spec import check_teacher_forward
from .model_config import load_model_cfg
from .precision import (check_teacher_precision, resolve_teacher_precision,
                        teacher_autocast, to_fp32)
from .recorder import FeatureRecorder, StopForward

FEATURE_PREFIXES = ('backbone', 'neck')


def normalisation(pre: nn.Module) -> Optional[Tuple[Tensor, Tensor, bool]]:
    """``(mean, std, converts BGR<->RGB)`` of an image preprocessor, or None.

    Reads mmengine's ``ImgDataPreprocessor`` family (mmdet, mmpretrain) and
    mmseg's ``SegDataPreProcessor``; ``None`` for anything else. ``mean`` and
    ``std`` are float64 vectors ``(C,)``.
    """
    if not hasattr(pre, '_enable_normalize'):
        return None
    conv = bool(
        getattr(pre, '_channel_conversion',
                getattr(pre, 'channel_conversion', False)))
    if pre._enable_normalize:
        return (pre.mean.detach().flatten().double(),
                pre.std.detach().flatten().double(), conv)
    return torch.zeros(
        3, dtype=torch.float64), torch.ones(
            3, dtype=torch.float64), conv


def choose_forward(model: nn.Module,
                   paths: Iterable[str],
                   mode: str = 'auto') -> str:
    """The forward that reaches ``paths``: ``'extract_feat'`` or ``'tensor'``.

    ``'auto'`` picks ``extract_feat`` when every path lies in the backbone or
    neck and the model has it (it stops before the heads), else ``mode=
    'tensor'``; any other ``mode`` is returned as is.
    """
    if mode != 'auto':
        return mode
    in_features = all(p.split('.')[0] in FEATURE_PREFIXES for p in paths)
    return ('extract_feat'
            if in_features and hasattr(model, 'extract_feat') else 'tensor')


def not_reached_fix(mode: str) -> str:
    """What the teacher's ``mode`` forward is, and the fix, for a teacher
    recorder it never reaches (the ``fix`` of :func:`record_forward`)."""
    if mode == 'tensor':  # already the fullest forward the teacher runs
        return ("the teacher's 'tensor' forward (the inference path: "
                'backbone, neck and decode head); modules used only by the '
                'loss forward (an auxiliary head, loss modules) never run in '
                'the teacher: record a module of that path')
    return (f"the teacher's {mode!r} forward; set teacher_forward='tensor' "
            '(it also runs the heads) or record modules that this forward '
            'runs')


def record_forward(model: nn.Module, recorder: FeatureRecorder, inputs: Tensor,
                   data_samples: Any, mode: str, fix: str) -> Dict[str, Any]:
    """Run ``model`` inside ``with recorder:`` and return its records.

    Args:
        model: The recorded model.
        recorder: Its recorder (early exit if ``stop_when_done``).
        inputs: Its preprocessed batch ``(B, C, H, W)``.
        data_samples: The batch's data samples (``tensor`` mode).
        mode: ``'extract_feat'`` or ``'tensor'``.
        fix: End of the error message when a recorder did not fire.

    Returns:
        ``{recorder name: module output}``.
    """
    with recorder:
        try:
            if mode == 'extract_feat':
                model.extract_feat(inputs)
            else:
                model(inputs, data_samples, mode='tensor')
        except StopForward:
            pass
        return recorder.collect(fix)


def build_teacher(cfg: Union[str, dict],
                  ckpt: Optional[str] = None,
                  strict: bool = True,
                  weights_only: bool = True) -> nn.Module:
    """Build a teacher config and load its checkpoint.

    Args:
        cfg: Model config or ``dict(cfg_path=...)`` (:func:`load_model_cfg`).
        ckpt: Checkpoint path or URL (CPU, ``weights_only``); ``None`` keeps
            random weights (tests only; :func:`warn_random_teacher`).
        strict: Missing/unexpected keys are an error.
        weights_only: Safe unpickling.
    """
    model = MODELS.build(load_model_cfg(cfg, 'teacher'))
    if ckpt is not None:
        load_weights(model, ckpt, 'teacher', strict, weights_only)
    return model


def warn_random_teacher() -> None:
    """The warning for distilling from a teacher without ``teacher_ckpt``
    (logged at the first training step, not when testing the student)."""
    print_log(
        'SingleTeacherDistiller: teacher_ckpt is None, the teacher keeps '
        'its initial (random) weights: fine for tests, useless for '
        'distillation. Set model.teacher_ckpt.',
        logger='current',
        level=logging.WARNING)


class FrozenTeacher(nn.Module):
    """A teacher run without gradients, in eval mode, only as far as needed.

    Args:
        model: The teacher model; frozen here (``requires_grad_(False)``,
            always ``eval()``).
        paths: ``{recorder name: module path}`` to record.
        forward: ``'auto'``, ``'extract_feat'`` or ``'tensor'``
            (:func:`choose_forward`).
        student_preprocessor: The preprocessor whose batches the teacher
            gets; when the teacher's own normalises differently,
            :meth:`inputs` re-normalises them. ``None``: as is.
        precision: ``'fp32'``, ``'bf16'``, ``'fp16'`` (GPU only) or
            ``'auto'`` (bf16 where the device runs it fast, else fp32): the
            autocast of the teacher's forward (``precision.py``); resolved
            and logged once per device type, at the first forward.
        clone: Recorder names whose outputs are copied when recorded
            (:class:`FeatureRecorder`).
        calls: ``{name: k}``: which call of a module that runs several
            times to record (:class:`FeatureRecorder`).

    Calling it (:meth:`forward`) returns the teacher's records.
    """

    def __init__(self,
                 model: nn.Module,
                 paths: Dict[str, str],
                 forward: str = 'auto',
                 student_preprocessor: Optional[nn.Module] = None,
                 precision: str = 'fp32',
                 clone: Iterable[str] = (),
                 calls: Optional[Dict[str, int]] = None) -> None:
        super().__init__()
        self.precision = check_teacher_precision(precision)
        self._resolved: Dict[str, str] = {}  # device type -> precision
        model.requires_grad_(False)
        self.model = model
        self.recorder = FeatureRecorder(
            model,
            paths,
            'teacher',
            stop_when_done=True,
            clone=clone,
            calls=calls)
        self.mode = choose_forward(model, self.recorder.paths.values(),
                                   check_teacher_forward(forward))
        self._flip = False
        self.register_buffer('_scale', None, persistent=False)
        self.register_buffer('_shift', None, persistent=False)
        if student_preprocessor is not None:
            self._setup_inputs(student_preprocessor,
                               getattr(model, 'data_preprocessor', None))
        self.train(False)

    def train(self, mode: bool = True) -> 'FrozenTeacher':
        """Always eval: BN, dropout and drop-path stay in inference mode."""
        return super().train(False)

    def _setup_inputs(self, student_pre: nn.Module,
                      teacher_pre: Optional[nn.Module]) -> None:
        """Re-normalisation of the student's batch for the teacher, if needed.

        The batch is preprocessed once, by the student's preprocessor. When
        the teacher's own preprocessor normalises differently (e.g. a
        caffe-style BGR teacher and an RGB student), :meth:`inputs` undoes
        the student's normalisation and applies the teacher's: ``x_t =
        flip(x_s) * scale + shift`` with per-channel ``scale = std_s /
        std_t`` and ``shift = (mean_s - mean_t) / std_t`` (``flip``: reverse
        the channels when exactly one side converts BGR <-> RGB). Kept as
        non-persistent buffers ``(C, 1, 1)`` (not in checkpoints).
        """
        specs = [normalisation(p) for p in (student_pre, teacher_pre)]
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
        self._flip = flip
        self._scale = (std_s / std_t).float().view(-1, 1, 1)
        self._shift = ((mean_s - mean_t) / std_t).float().view(-1, 1, 1)
        print_log(
            'SingleTeacherDistiller: the teacher normalises its inputs '
            'differently from the student (teacher: mean '
            f'{mean_t.tolist()}, std {std_t.tolist()}, BGR<->RGB {conv_t}; '
            f'student: BGR<->RGB {conv_s}); the teacher gets the '
            "student's batch re-normalised to its own statistics.",
            logger='current',
            level=logging.INFO)

    def inputs(self, inputs: Tensor) -> Tensor:
        """The student's preprocessed batch as the teacher expects it.

        Args:
            inputs: ``(B, C, H, W)`` from the student's preprocessor.

        Returns:
            ``inputs`` itself when both normalise alike; else the batch
            re-normalised for the teacher, ``(B, C, H, W)`` of the same
            dtype (padding, if any, is transformed like the image).
        """
        if self._scale is None:
            return inputs
        if self._flip:
            inputs = inputs.flip(1)
        return inputs * self._scale + self._shift

    def forward(self,
                inputs: Tensor,
                data_samples: Any = None) -> Dict[str, Any]:
        """Run the teacher (no grad) until every recorder fired.

        Args:
            inputs: The student's preprocessed batch ``(B, C, H, W)``.
            data_samples: The batch's data samples (``tensor`` mode).

        Returns:
            ``{recorder name: module output}`` (empty without recorders;
            the teacher does not run then), bf16/fp16 outputs of a
            reduced-precision forward cast to fp32.
        """
        if not self.recorder.names:
            return {}
        device = inputs.device.type
        with torch.no_grad(), teacher_autocast(
                self.resolved_precision(device), device):
            records = record_forward(self.model, self.recorder,
                                     self.inputs(inputs), data_samples,
                                     self.mode, not_reached_fix(self.mode))
        return to_fp32(records)

    def resolved_precision(self, device_type: str) -> str:
        """``'fp32'``, ``'bf16'`` or ``'fp16'``: :attr:`precision` on
        ``device_type`` (:func:`resolve_teacher_precision`, logged once)."""
        if device_type not in self._resolved:
            self._resolved[device_type] = resolve_teacher_precision(
                self.precision, device_type)
        return self._resolved[device_type]
