"""Shared input handling of the peer (non-TaT) distillation losses."""
from typing import Optional, Tuple

from torch import Tensor

from mmswtat.utils.value_checks import ConfigTypeError, is_number
from .distill_loss import DistillLoss


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


class PeerLoss(DistillLoss):
    """Base of :class:`KDLoss`, :class:`ChannelWiseDivergence`,
    :class:`DISTLoss`, :class:`FeatureMSELoss` and :class:`PKDLoss`.

    The forward is :class:`DistillLoss`'s: check the inputs (one clear error
    each), then, with autocast disabled, detach the teacher, cast both
    inputs to fp32 (or wider), resize a dense student map bilinearly to the
    teacher's ``H x W``, :meth:`compute` and multiply by ``loss_weight``.

    Class attributes of a subclass:
        ranks: The accepted input ranks, e.g. ``(2, 4)``.
        masked: Whether ``valid_mask`` is accepted (dense inputs only).
        channel_fix: How to fix a channel mismatch, for the error message.

    Args:
        loss_weight: Multiplier of the loss (>= 0; checked by
            :class:`DistillLoss`, as every subclass's own hyperparameters
            are checked with
            :func:`~mmswtat.utils.value_checks.check_number`).
        init_cfg: mmengine init config.
    """

    ranks: Tuple[int, ...] = (2, 4)
    channel_fix: str = ('logits distillation needs the same class list '
                        '(set num_classes alike)')

    def check_inputs(self,
                     student: Tensor,
                     teacher: Tensor,
                     valid_mask: Optional[Tensor] = None) -> None:
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
        self.check_batch(student, teacher)
        if student.shape[1] != teacher.shape[1]:
            raise ValueError(
                f'{name}: the student has {student.shape[1]} channels and '
                f'the teacher {teacher.shape[1]}; {self.channel_fix}')
        self.check_mask(teacher, valid_mask)


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
