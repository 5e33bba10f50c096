"""Shared machinery of the target-aware (TaT) feature losses."""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmswtat.registry import MODELS
from ..connectors import resize_to
from ..ops import resolve_scale
from ..ops.target_aware import ATTENTION_IMPLS, Scale
from ..ops.tat_normalize import TAT_NORMALIZE, tat_normalize

QKVT = Tuple[Tensor, Tensor, Tensor, Tensor]


def _fp32_or_wider(x: Tensor) -> Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


class BaseTaTLoss(BaseModule):
    """Base of :class:`TaTLoss`, :class:`SWTaTLoss`, :class:`PatchMergeTaTLoss`.

    The student map ``S`` is resized (bilinear) to the teacher's ``H x W``;
    the teacher map ``T`` is detached. With ``embed=True``, ``Q = phi_q(T)``,
    ``K = phi_k(S)``, ``V = phi_v(S)`` (``query='teacher'``, the paper) or
    ``Q = phi_q(S)``, ``K = phi_k(T)``, ``V = phi_v(S)`` (``query='student'``,
    the official TaT code's orientation); with ``embed=False`` the maps are
    used as they are. The regression target is always the raw teacher ``T``.
    Everything runs in fp32 (or wider), with autocast disabled.

    Args:
        student_channels: ``C_s``.
        teacher_channels: ``C_t``.
        num_heads: Channel groups (must divide ``C_t``).
        scale: Logit scale; ``1.0`` (paper) or ``'auto'`` (``1/sqrt(d)``).
        embed: Learn the embeddings ``phi`` (else ``C_s`` must equal ``C_t``).
        query: ``'teacher'`` or ``'student'``, see above.
        connector: Config of each ``phi`` without its channel counts.
        attn_impl: ``'auto'`` (default, explicit matmuls), ``'matmul'`` or
            ``'sdpa'``; same values, see
            :func:`~mmswtat.models.ops.resolve_attention_impl`.
        normalize: Loss scale: ``'none'`` (default, the paper's raw
            ``||R - T||^2``), ``'channel'`` (value and target standardised
            per sample and channel with the teacher's statistics) or
            ``'teacher_rms'`` (loss divided by the teacher's mean squared
            activation); see :mod:`mmswtat.models.ops.tat_normalize`.
        loss_weight: Multiplier of the loss.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 num_heads: int = 1,
                 scale: Scale = 1.0,
                 embed: bool = True,
                 query: str = 'teacher',
                 connector: Optional[dict] = None,
                 attn_impl: str = 'auto',
                 normalize: str = 'none',
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        for arg, value in (('student_channels', student_channels),
                           ('teacher_channels', teacher_channels)):
            if isinstance(value, bool) or not isinstance(value, int) \
                    or value <= 0:
                raise ValueError(f'{name}: {arg} must be a positive int, '
                                 f'got {value!r}')
        if isinstance(num_heads, bool) or not isinstance(num_heads, int) \
                or num_heads <= 0 or teacher_channels % num_heads:
            raise ValueError(
                f'{name}: teacher_channels={teacher_channels} cannot be split '
                f'into num_heads={num_heads} equal groups; choose a num_heads '
                f'that divides {teacher_channels}')
        if query not in ('teacher', 'student'):
            raise ValueError(f"{name}: query must be 'teacher' or 'student', "
                             f'got {query!r}')
        if not embed and student_channels != teacher_channels:
            raise ValueError(
                f'{name}: embed=False needs student_channels == '
                f'teacher_channels, got {student_channels} vs '
                f'{teacher_channels}; set embed=True to learn the projection')
        resolve_scale(scale)
        if attn_impl not in ATTENTION_IMPLS:
            raise ValueError(f'{name}: attn_impl must be one of '
                             f'{ATTENTION_IMPLS}, got {attn_impl!r}')
        self.attn_impl = attn_impl
        if normalize not in TAT_NORMALIZE:
            raise ValueError(f'{name}: normalize must be one of '
                             f'{TAT_NORMALIZE}, got {normalize!r}')
        self.normalize = normalize
        self.student_channels = student_channels
        self.teacher_channels = teacher_channels
        self.num_heads = num_heads
        self.scale = scale
        self.embed = embed
        self.query = query
        self.loss_weight = loss_weight
        if embed:
            cfg = dict(type='mmswtat.ConvBNConnector')
            cfg.update(connector or {})
            q_in, k_in = ((teacher_channels, student_channels)
                          if query == 'teacher' else
                          (student_channels, teacher_channels))
            self.query_embed = MODELS.build(
                dict(cfg, in_channels=q_in, out_channels=teacher_channels))
            self.key_embed = MODELS.build(
                dict(cfg, in_channels=k_in, out_channels=teacher_channels))
            self.value_embed = MODELS.build(
                dict(
                    cfg,
                    in_channels=student_channels,
                    out_channels=teacher_channels))

    # ------------------------------------------------------------------ input
    def check_inputs(self, student: Tensor, teacher: Tensor) -> None:
        """Raise one clear error for inputs this loss cannot take.

        Args:
            student: ``(B, C_s, H_s, W_s)``.
            teacher: ``(B, C_t, H, W)``.
        """
        name = type(self).__name__
        for role, x, channels, arg in (
            ('student', student, self.student_channels, 'student_channels'),
            ('teacher', teacher, self.teacher_channels, 'teacher_channels')):
            if not isinstance(x, Tensor) or x.dim() != 4:
                shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
                raise ValueError(
                    f'{name} expects 4-D (B, C, H, W) {role} features, got '
                    f'{shape}; record a feature map (not a vector or a '
                    f'tuple of levels)')
            if x.shape[1] != channels:
                raise ValueError(
                    f'{name}: {arg}={channels} but the {role} feature has '
                    f'{x.shape[1]} channels (shape {tuple(x.shape)}); set '
                    f'{arg}={x.shape[1]} or record another layer')
        if student.shape[0] != teacher.shape[0]:
            raise ValueError(f'{name}: batch sizes differ, student '
                             f'{student.shape[0]} vs teacher '
                             f'{teacher.shape[0]}')

    def project(self, student: Tensor, teacher: Tensor) -> QKVT:
        """Resize, detach, cast up and embed.

        Returns:
            ``(Q, K, V, T)``, each ``(B, C_t, H, W)`` in fp32 or wider.
        """
        self.check_inputs(student, teacher)
        teacher = _fp32_or_wider(teacher.detach())
        student = _fp32_or_wider(student)
        student = resize_to(student, teacher.shape[-2:])
        if not self.embed:
            q_src = teacher if self.query == 'teacher' else student
            k_src = student if self.query == 'teacher' else teacher
            return q_src, k_src, student, teacher
        q_src, k_src = ((teacher, student) if self.query == 'teacher' else
                        (student, teacher))
        return (self.query_embed(q_src), self.key_embed(k_src),
                self.value_embed(student), teacher)

    # ------------------------------------------------------------------- math
    def passes(self, query: Tensor, key: Tensor, value: Tensor,
               target: Tensor,
               reduction: str = 'map') -> List[Tuple[str, Tensor, int]]:
        """The passes of this loss on projected maps.

        Args:
            query, key, value, target: From :meth:`project`.
            reduction: ``'map'`` for per-position error maps, ``'sum'`` for
                their sums only (cheaper; what :meth:`forward` uses).

        Returns:
            ``[(name, error, numel), ...]``: ``error`` is a ``(B, H', W')``
            map or its sum, ``numel = B * C * H' * W'``; the loss is the
            mean over passes of ``sum(error) / numel``.
        """
        raise NotImplementedError

    def error_maps(self, student: Tensor,
                   teacher: Tensor) -> Dict[str, Tensor]:
        """Per-position squared errors of each pass, for inspection.

        Returns:
            ``{pass_name: (B, H', W')}`` (fp32, with the graph).
        """
        self.check_inputs(student, teacher)
        with torch.autocast(student.device.type, enabled=False):
            *maps, div = tat_normalize(*self.project(student, teacher),
                                       self.normalize)
            return {
                name: err / div
                for name, err, _ in self.passes(*maps, reduction='map')
            }

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        """Compute the weighted loss.

        Args:
            student: ``(B, C_s, H_s, W_s)``; resized to the teacher's size.
            teacher: ``(B, C_t, H, W)``; detached.

        Returns:
            Scalar loss (fp32 or wider).
        """
        self.check_inputs(student, teacher)
        with torch.autocast(student.device.type, enabled=False):
            *maps, div = tat_normalize(*self.project(student, teacher),
                                       self.normalize)
            passes = self.passes(*maps, reduction='sum')
            loss = sum(err.sum() / numel for _, err, numel in passes)
            return loss / div * (self.loss_weight / len(passes))

    def extra_repr(self) -> str:
        return (f'student_channels={self.student_channels}, '
                f'teacher_channels={self.teacher_channels}, '
                f'num_heads={self.num_heads}, scale={self.scale}, '
                f'embed={self.embed}, query={self.query!r}, '
                f'attn_impl={self.attn_impl!r}, '
                f'normalize={self.normalize!r}, '
                f'loss_weight={self.loss_weight}')
