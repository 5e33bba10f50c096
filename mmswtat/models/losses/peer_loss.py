"""Shared input handling of the peer (non-TaT) distillation losses."""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmswtat.utils.value_checks import (ConfigTypeError, check_number,
                                        is_number)
from ..ops import resize_to


def check_temperature(name: str, arg: str, value: float) -> float:
    """``value`` as a float if it is a finite number > 0, else a clear error.

    Raises:
        ConfigTypeError: Not a number (e.g. ``'auto'`` or ``True``).
        ValueError: A number that is not finite and > 0.
    """
    if is_number(value) and 0 < value < float('inf'):
        return float(value)
    raise (ValueError if is_number(value) else ConfigTypeError)(
        f'{name}: {arg} must be a positive number (the temperature divides '
        f'the logits), got {value!r}; e.g. {arg}=1.0')


class PeerLoss(BaseModule):
    """Base of :class:`KDLoss`, :class:`ChannelWiseDivergence`,
    :class:`DISTLoss`, :class:`FeatureMSELoss` and :class:`PKDLoss`.

    :meth:`forward` checks the inputs (one clear error each), then, with
    autocast disabled: detaches the teacher, casts both inputs to fp32 (or
    wider), resizes a dense student map bilinearly to the teacher's ``H x W``,
    calls :meth:`compute` and multiplies by ``loss_weight``.

    Class attributes of a subclass:
        ranks: The accepted input ranks, e.g. ``(2, 4)``.
        masked: Whether ``valid_mask`` is accepted (dense inputs only).
        channel_fix: How to fix a channel mismatch, for the error message.

    Args:
        loss_weight: Multiplier of the loss (>= 0; checked here, as every
            subclass's own hyperparameters are checked with
            :func:`~mmswtat.utils.value_checks.check_number`).
        init_cfg: mmengine init config.
    """

    ranks: Tuple[int, ...] = (2, 4)
    masked: bool = False
    channel_fix: str = ('logits distillation needs the same class list '
                        '(set num_classes alike)')

    def __init__(self,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.loss_weight = check_number(type(self).__name__, 'loss_weight',
                                        loss_weight, minimum=0)

    def check_inputs(self, student: Tensor, teacher: Tensor,
                     valid_mask: Optional[Tensor]) -> None:
        """Raise one clear error for inputs this loss cannot take."""
        name = type(self).__name__
        shapes = tuple('(N, C)' if r == 2 else '(N, C, H, W)'
                       for r in self.ranks)
        for role, x in (('student', student), ('teacher', teacher)):
            if not isinstance(x, Tensor) or x.dim() not in self.ranks:
                got = tuple(x.shape) if isinstance(x, Tensor) else type(x)
                raise ValueError(
                    f'{name} expects {" or ".join(shapes)} {role} inputs, got '
                    f'{got}; record a module whose output has that form')
        if student.dim() != teacher.dim():
            raise ValueError(
                f'{name}: student {tuple(student.shape)} and teacher '
                f'{tuple(teacher.shape)} differ in rank; record matching '
                'outputs (both logits or both feature maps)')
        if student.shape[0] != teacher.shape[0]:
            raise ValueError(f'{name}: batch sizes differ, student '
                             f'{student.shape[0]} vs teacher '
                             f'{teacher.shape[0]}')
        if student.shape[1] != teacher.shape[1]:
            raise ValueError(
                f'{name}: the student has {student.shape[1]} channels and '
                f'the teacher {teacher.shape[1]}; {self.channel_fix}')
        if valid_mask is None:
            return
        if not self.masked:
            raise ValueError(f'{name} takes no valid_mask; drop it')
        want = (teacher.shape[0], *teacher.shape[2:])
        if teacher.dim() != 4 or not isinstance(valid_mask, Tensor) \
                or valid_mask.dtype != torch.bool \
                or tuple(valid_mask.shape) != want:
            got = (f'{valid_mask.dtype} {tuple(valid_mask.shape)}'
                   if isinstance(valid_mask, Tensor) else type(valid_mask))
            raise ValueError(
                f'{name}: valid_mask must be a bool (N, H, W) tensor on the '
                f'grid of dense teacher logits {tuple(teacher.shape)}, got '
                f'{got}; build it with mmswtat.models.ops.'
                'valid_mask_from_labels(gt, ignore_index, logits.shape[-2:])')

    def compute(self, student: Tensor, teacher: Tensor,
                valid_mask: Optional[Tensor]) -> Tensor:
        """The unweighted loss on checked, fp32, same-size inputs."""
        raise NotImplementedError

    def forward(self,
                student: Tensor,
                teacher: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Compute the weighted loss.

        Args:
            student: ``(N, C)`` or ``(N, C, H_s, W_s)`` (see ``ranks``); a
                dense map is resized to the teacher's size.
            teacher: ``(N, C)`` or ``(N, C, H, W)``; detached.
            valid_mask: ``(N, H, W)`` bool where the loss accepts one.

        Returns:
            Scalar loss (fp32 or wider).
        """
        self.check_inputs(student, teacher, valid_mask)
        with torch.autocast(student.device.type, enabled=False):
            dtype = torch.promote_types(student.dtype, torch.float32)
            teacher = teacher.detach().to(dtype)
            student = student.to(dtype)
            if student.dim() == 4:
                student = resize_to(student, teacher.shape[-2:])
            return self.compute(student, teacher,
                                valid_mask) * self.loss_weight


class TemperedPeerLoss(PeerLoss):
    """A :class:`PeerLoss` with a softmax temperature ``tau`` (> 0).

    Args:
        tau: Temperature.
        loss_weight: Multiplier of the loss.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss_weight, init_cfg)
        self.tau = check_temperature(type(self).__name__, 'tau', tau)

    def extra_repr(self) -> str:
        return f'tau={self.tau}, loss_weight={self.loss_weight}'
