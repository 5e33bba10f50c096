"""Shared machinery of the target-aware (TaT) feature losses."""
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from mmswtat.registry import MODELS
from mmswtat.utils.value_checks import (ConfigTypeError, check_bool,
                                        check_number)
from ..ops import (REFERENCE_SIZE, PassLayout, check_reduction,
                   ineffective_passes, pass_error, resolve_attention_impl,
                   resolve_scale)
from ..ops.target_aware import Scale
from ..ops.tat_normalize import TAT_NORMALIZE, tat_normalize
from .distill_loss import DistillLoss

QKVT = Tuple[Tensor, Tensor, Tensor, Tensor]
#: At most this many "cannot take effect" warnings per loss (multi-scale
#: inputs change the map size often).
MAX_SIZE_WARNINGS = 3


class BaseTaTLoss(DistillLoss):
    """Base of :class:`TaTLoss`, :class:`SWTaTLoss` and
    :class:`PatchMergeTaTLoss`.

    The student map ``S`` is resized (bilinear) to the teacher's ``H x W``;
    the teacher map ``T`` is detached. With ``embed=True``, ``Q = phi_q(T)``,
    ``K = phi_k(S)``, ``V = phi_v(S)`` (``query='teacher'``, the paper) or
    ``Q = phi_q(S)``, ``K = phi_k(T)``, ``V = phi_v(S)`` (``query='student'``,
    the official TaT code's orientation); with ``embed=False`` the maps are
    used as they are. The regression target is always the raw teacher ``T``.
    Everything runs in fp32 (or wider), with autocast disabled (the forward
    is :class:`DistillLoss`'s; :meth:`compute` is the TaT part).

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
            activation) or ``'self'`` (query, key, value and target each
            standardised per channel with its own statistics, as PKD);
            see :mod:`mmswtat.models.ops.tat_normalize`.
        loss_weight: Multiplier of the loss (>= 0).
        init_cfg: mmengine init config.

    Every hyperparameter is checked here (type, range, meaning), for every
    subclass: one error naming the class and the key (``scale`` and
    ``attn_impl`` by :func:`~mmswtat.models.ops.resolve_scale` and
    :func:`~mmswtat.models.ops.resolve_attention_impl`, their one check).
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
        name = type(self).__name__
        for arg, value in (('student_channels', student_channels),
                           ('teacher_channels',
                            teacher_channels), ('num_heads', num_heads)):
            check_number(name, arg, value, positive=True, integer=True)
        if teacher_channels % num_heads:
            raise ValueError(
                f'{name}: teacher_channels={teacher_channels} cannot be split '
                f'into num_heads={num_heads} equal groups; choose a num_heads '
                f'that divides {teacher_channels}')
        check_bool(name, 'embed', embed)
        if connector is not None and not isinstance(connector, dict):
            raise ConfigTypeError(
                f'{name}: connector must be a module config dict (e.g. '
                f"dict(type='mmswtat.ConvBNConnector')) or None, got "
                f'{connector!r}')
        if query not in ('teacher', 'student'):
            raise ValueError(f"{name}: query must be 'teacher' or 'student', "
                             f'got {query!r}')
        if not embed and student_channels != teacher_channels:
            raise ValueError(
                f'{name}: embed=False needs student_channels == '
                f'teacher_channels, got {student_channels} vs '
                f'{teacher_channels}; set embed=True to learn the projection')
        # Checked (and set, below) by the setters; checked here first so that
        # the errors come in the order of the arguments, loss_weight last.
        resolve_scale(scale, name)
        resolve_attention_impl(attn_impl, name)
        if normalize not in TAT_NORMALIZE:
            raise ValueError(f'{name}: normalize must be one of '
                             f'{TAT_NORMALIZE}, got {normalize!r}')
        super().__init__(loss_weight, init_cfg)
        self.scale = scale
        self.attn_impl = attn_impl
        self.normalize = normalize
        self.student_channels = student_channels
        self.teacher_channels = teacher_channels
        self.num_heads = num_heads
        self.embed = embed
        self.query = query
        self._checked_sizes = set()
        self._size_warnings = 0
        if embed:
            cfg = dict(type='mmswtat.ConvBNConnector')
            cfg.update(connector or {})
            q_in, k_in = ((teacher_channels,
                           student_channels) if query == 'teacher' else
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

    @property
    def scale(self) -> Scale:
        """The logit scale as given (validated and resolved when set)."""
        return self._scale

    @scale.setter
    def scale(self, value: Scale) -> None:
        self._scale_factor = resolve_scale(value, type(self).__name__)
        self._scale = value

    @property
    def attn_impl(self) -> str:
        """The attention implementation as given (checked when set)."""
        return self._attn_impl

    @attn_impl.setter
    def attn_impl(self, value: str) -> None:
        self._impl = resolve_attention_impl(value, type(self).__name__)
        self._attn_impl = value

    # ------------------------------------------------------------------ input
    def check_inputs(self,
                     student: Tensor,
                     teacher: Tensor,
                     valid_mask: Optional[Tensor] = None) -> None:
        """Raise one clear error for inputs this loss cannot take.

        Args:
            student: ``(B, C_s, H_s, W_s)``.
            teacher: ``(B, C_t, H, W)``.
            valid_mask: Must be ``None`` (a TaT loss takes no mask).
        """
        name = type(self).__name__
        for role, x, channels, arg in (('student', student,
                                        self.student_channels,
                                        'student_channels'),
                                       ('teacher', teacher,
                                        self.teacher_channels,
                                        'teacher_channels')):
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
        self.check_batch(student, teacher)
        self.check_mask(teacher, valid_mask)

    def project(self, student: Tensor, teacher: Tensor) -> QKVT:
        """Resize, detach, cast up and embed.

        Args:
            student: ``(B, C_s, H_s, W_s)``.
            teacher: ``(B, C_t, H, W)``.

        Returns:
            ``(Q, K, V, T)``, each ``(B, C_t, H, W)`` in fp32 or wider.
        """
        self.check_inputs(student, teacher)
        return self._project(student, teacher)

    def _project(self, student: Tensor, teacher: Tensor) -> QKVT:
        """:meth:`project` on inputs already checked."""
        return self._embed(*self.prepare(student, teacher))

    def _embed(self, student: Tensor, teacher: Tensor) -> QKVT:
        """``(Q, K, V, T)`` of prepared maps (:meth:`DistillLoss.prepare`:
        detached, fp32 or wider, the student on the teacher's grid)."""
        if not self.embed:
            q_src = teacher if self.query == 'teacher' else student
            k_src = student if self.query == 'teacher' else teacher
            return q_src, k_src, student, teacher
        q_src, k_src = ((teacher, student) if self.query == 'teacher' else
                        (student, teacher))
        return (self.query_embed(q_src), self.key_embed(k_src),
                self.value_embed(student), teacher)

    # ------------------------------------------------------------------- math
    def pass_layouts(self, height: int, width: int) -> List[PassLayout]:
        """The passes this loss runs on a ``height x width`` teacher map.

        The one description of the loss's passes: :meth:`passes` computes
        exactly these, and :mod:`mmswtat.analysis` draws and inspects them.
        A new TaT-type loss implements this method (e.g. with
        :func:`~mmswtat.models.ops.window_pass` or
        :func:`~mmswtat.models.ops.global_pass`) and nothing else.

        Args:
            height: Teacher map height ``H``.
            width: Teacher map width ``W``.

        Returns:
            One :class:`~mmswtat.models.ops.PassLayout` per pass, in the
            order (and with the names) of :meth:`error_maps`.
        """
        raise NotImplementedError(
            f'{type(self).__name__} does not describe its passes; implement '
            'pass_layouts(height, width) returning one PassLayout per pass')

    def check_map_size(self, height: int, width: int) -> List[str]:
        """Warn once per map size about windows/shifts without effect.

        Compares :meth:`pass_layouts` on this map with the passes as
        configured (:func:`~mmswtat.models.ops.ineffective_passes`): a
        window that covers the map in both directions turns the pass into
        global TaT, a shift along a side one window spans is dropped.
        Continuing is legitimate (the same loss may see larger maps, e.g.
        at another input size or FPN level), so this is a warning, said
        at the build-time dry run and on the first step at each new size
        (at most :data:`MAX_SIZE_WARNINGS` times per loss).

        Args:
            height: Teacher map height ``H``.
            width: Teacher map width ``W``.

        Returns:
            The notes of this size (empty when all settings take effect, or
            when the size was checked before).
        """
        if (height, width) in self._checked_sizes:
            return []
        self._checked_sizes.add((height, width))
        notes = ineffective_passes(
            self.pass_layouts(height, width),
            self.pass_layouts(REFERENCE_SIZE, REFERENCE_SIZE))
        if notes and self._size_warnings < MAX_SIZE_WARNINGS:
            self._size_warnings += 1
            from mmengine.logging import print_log
            settings = ', '.join(f'{k}={getattr(self, k)}'
                                 for k in ('window_size', 'shift_size')
                                 if hasattr(self, k))
            windows = [
                n for n in notes
                if 'single tokens' not in n and 'merges nothing' not in n
            ]
            fix = ('. Set window_size smaller than the map (e.g. half of '
                   f'it: {max(1, height // 2)}x{max(1, width // 2)}, '
                   'shift_size half the window)' +
                   (', or use TaTLoss if global attention is what you '
                    'want' if any('global window' in n for n in notes) else
                    ' along that side, or shift_size 0 there')
                   if windows else '')
            print_log(
                f'{self.owner}: {settings or "its windows"} cannot take '
                f'effect on the {height}x{width} teacher map: ' +
                '; '.join(notes) + fix +
                (' (further map sizes are not reported)'
                 if self._size_warnings == MAX_SIZE_WARNINGS else ''),
                logger='current',
                level=30)
        return notes

    def pass_inputs(self, query: Tensor, key: Tensor, value: Tensor,
                    target: Tensor) -> QKVT:
        """The maps the passes attend over (the projected maps themselves;
        :class:`AnchorTaTLoss` pools them first), ``(B, C_t, H, W)`` in."""
        return query, key, value, target

    def passes(self,
               query: Tensor,
               key: Tensor,
               value: Tensor,
               target: Tensor,
               reduction: str = 'map') -> List[Tuple[str, Tensor, int]]:
        """Run the passes of :meth:`pass_layouts` on projected maps.

        Args:
            query, key, value, target: ``(B, C_t, H, W)`` from
                :meth:`project`.
            reduction: ``'map'`` for per-position error maps, ``'sum'`` for
                their sums only (cheaper; what :meth:`forward` uses).

        Returns:
            ``[(name, error, numel), ...]``: ``error`` is a ``(B, H', W')``
            map on the pass grid or its sum, ``numel = B * C' * H' * W'``
            (``C' = C_t * 4**merges``); the loss is the mean over passes of
            ``sum(error) / numel``.
        """
        check_reduction(reduction)
        b, c, h, w = target.shape
        self.check_map_size(h, w)
        maps = self.pass_inputs(query, key, value, target)
        out = []
        for layout in self.pass_layouts(h, w):
            err = pass_error(*maps, layout, self.num_heads, self._scale_factor,
                             reduction, self._impl)
            hm, wm = layout.grid
            out.append((layout.name, err, b * c * layout.cell**2 * hm * wm))
        return out

    def error_maps(self, student: Tensor,
                   teacher: Tensor) -> Dict[str, Tensor]:
        """Per-position squared errors of each pass, for inspection.

        Args:
            student: ``(B, C_s, H_s, W_s)``.
            teacher: ``(B, C_t, H, W)``.

        Returns:
            ``{pass_name: (B, H', W')}`` (fp32, with the graph).
        """
        self.check_inputs(student, teacher)
        with torch.autocast(student.device.type, enabled=False):
            *maps, div = tat_normalize(*self._project(student, teacher),
                                       self.normalize)
            return {
                name: err / div
                for name, err, _ in self.passes(*maps, reduction='map')
            }

    def compute(self,
                student: Tensor,
                teacher: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """The unweighted loss: the mean over passes of ``sum(error) /
        numel``, on prepared maps (see :class:`DistillLoss`)."""
        *maps, div = tat_normalize(*self._embed(student, teacher),
                                   self.normalize)
        passes = self.passes(*maps, reduction='sum')
        loss = sum(err.sum() / numel for _, err, numel in passes)
        return loss / div / len(passes)

    def extra_repr(self) -> str:
        return (f'student_channels={self.student_channels}, '
                f'teacher_channels={self.teacher_channels}, '
                f'num_heads={self.num_heads}, scale={self.scale}, '
                f'embed={self.embed}, query={self.query!r}, '
                f'attn_impl={self.attn_impl!r}, '
                f'normalize={self.normalize!r}, '
                f'loss_weight={self.loss_weight}')
