"""The one template of every distillation loss's forward."""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmswtat.utils.value_checks import check_number
from ..ops import resize_to


class DistillLoss(BaseModule):
    """Base of :class:`BaseTaTLoss` and :class:`PeerLoss`: the forward.

    :meth:`forward` checks the inputs (:meth:`check_inputs`, one clear error
    naming the class), then, with autocast disabled, detaches the teacher,
    casts both inputs to fp32 (or wider: the student's dtype promoted with
    fp32), resizes a dense student map bilinearly to the teacher's ``H x W``
    (:meth:`prepare`), calls :meth:`compute` and multiplies by
    ``loss_weight``.

    Class attributes of a subclass:
        masked: Whether ``valid_mask`` is accepted (:meth:`check_mask`).

    Args:
        loss_weight: Multiplier of the loss (>= 0).
        init_cfg: mmengine init config.
    """

    masked: bool = False

    def __init__(self,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.loss_weight = check_number(
            type(self).__name__, 'loss_weight', loss_weight, minimum=0)
        #: Who this loss is in messages; the distiller sets its config
        #: name, e.g. ``"distill loss 'loss_swtat' (level 0)"``.
        self.owner = type(self).__name__

    # ------------------------------------------------------------------ input
    def check_inputs(self,
                     student: Tensor,
                     teacher: Tensor,
                     valid_mask: Optional[Tensor] = None) -> None:
        """Raise one clear error for inputs this loss cannot take.

        Args:
            student: The student input.
            teacher: The teacher input.
            valid_mask: ``(N, H, W)`` bool where the loss accepts one.
        """
        raise NotImplementedError

    def check_batch(self, student: Tensor, teacher: Tensor) -> None:
        """Student and teacher must have the same batch size."""
        if student.shape[0] != teacher.shape[0]:
            raise ValueError(f'{type(self).__name__}: batch sizes differ, '
                             f'student {student.shape[0]} vs teacher '
                             f'{teacher.shape[0]}')

    def check_mask(self, teacher: Tensor,
                   valid_mask: Optional[Tensor]) -> None:
        """``valid_mask`` is ``None``, or a loss that takes one gets a bool
        ``(N, H, W)`` tensor on the grid of dense teacher logits."""
        if valid_mask is None:
            return
        name = type(self).__name__
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

    # ------------------------------------------------------------------- math
    @staticmethod
    def prepare(student: Tensor, teacher: Tensor) -> Tuple[Tensor, Tensor]:
        """Detach the teacher, cast both to the student's dtype promoted
        with fp32, resize a dense student map to the teacher's ``H x W``.

        Returns:
            ``(student, teacher)``.
        """
        dtype = torch.promote_types(student.dtype, torch.float32)
        teacher = teacher.detach().to(dtype)
        student = student.to(dtype)
        if student.dim() == 4:
            student = resize_to(student, teacher.shape[-2:])
        return student, teacher

    def compute(self, student: Tensor, teacher: Tensor,
                valid_mask: Optional[Tensor]) -> Tensor:
        """The unweighted loss on checked, prepared inputs
        (:meth:`prepare`), with autocast disabled."""
        raise NotImplementedError

    def forward(self,
                student: Tensor,
                teacher: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Compute the weighted loss.

        Args:
            student: The student input (see the subclass); a dense map is
                resized to the teacher's size.
            teacher: The teacher input; detached.
            valid_mask: ``(N, H, W)`` bool where the loss accepts one.

        Returns:
            Scalar loss (fp32 or wider).
        """
        self.check_inputs(student, teacher, valid_mask)
        with torch.autocast(student.device.type, enabled=False):
            return self.compute(*self.prepare(student, teacher),
                                valid_mask) * self.loss_weight
