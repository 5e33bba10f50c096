"""Temperature-scaled KL divergence between teacher and student logits."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmswtat.registry import MODELS
from ..ops import resize_to


@MODELS.register_module()
class KLDivLoss(BaseModule):
    """``tau^2 * KL(softmax(z_t / tau) || softmax(z_s / tau))`` per sample/pixel.

    Classification logits ``(B, K)`` average over samples; dense logits
    ``(B, K, H, W)`` average over (valid) pixels, the student map being
    resized to the teacher's when sizes differ. Computed in fp32 with
    ``log_softmax`` on both sides (mmseg 1.2.2's ``KLDivLoss`` passes
    probabilities where ``F.kl_div`` wants log-probabilities).

    Args:
        tau: Softmax temperature.
        loss_weight: Multiplier of the loss.
    """

    def __init__(self,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if tau <= 0:
            raise ValueError(f'KLDivLoss: tau must be > 0, got {tau}')
        self.tau = float(tau)
        self.loss_weight = loss_weight

    def forward(self,
                student: Tensor,
                teacher: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            student: Student logits ``(B, K)`` or ``(B, K, H_s, W_s)``.
            teacher: Teacher logits of the same kind, ``(B, K[, H, W])``;
                detached.
            valid_mask: Dense only, ``(B, H, W)`` bool, True where a pixel
                counts (e.g. ``gt != ignore_index``).

        Returns:
            Scalar loss.
        """
        if student.dim() not in (2, 4) or teacher.dim() != student.dim():
            raise ValueError(
                'KLDivLoss expects logits (B, K) or (B, K, H, W) for both '
                f'models, got student {tuple(student.shape)} and teacher '
                f'{tuple(teacher.shape)}')
        if student.shape[1] != teacher.shape[1]:
            raise ValueError(
                f'KLDivLoss: the student predicts {student.shape[1]} classes '
                f'and the teacher {teacher.shape[1]}; logits distillation '
                'needs the same class list (set num_classes alike)')
        if student.shape[0] != teacher.shape[0]:
            raise ValueError(f'KLDivLoss: batch sizes differ, student '
                             f'{student.shape[0]} vs teacher '
                             f'{teacher.shape[0]}')
        with torch.autocast(student.device.type, enabled=False):
            dtype = torch.promote_types(student.dtype, torch.float32)
            teacher = teacher.detach().to(dtype)
            student = student.to(dtype)
            if student.dim() == 4:
                student = resize_to(student, teacher.shape[-2:])
            log_p_t = F.log_softmax(teacher / self.tau, dim=1)
            log_p_s = F.log_softmax(student / self.tau, dim=1)
            kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(1)  # (B[, H, W])
            if valid_mask is not None:
                if student.dim() != 4 or valid_mask.shape != kl.shape:
                    raise ValueError(
                        'KLDivLoss: valid_mask must be (B, H, W) matching '
                        f'dense teacher logits {tuple(teacher.shape)}, got '
                        f'{tuple(valid_mask.shape)}')
                mask = valid_mask.to(kl.dtype)
                loss = (kl * mask).sum() / mask.sum().clamp_min(1)
            else:
                loss = kl.mean()
            return loss * (self.tau**2 * self.loss_weight)
