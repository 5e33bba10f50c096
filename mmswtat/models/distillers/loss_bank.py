"""The distillation losses and connectors, and what each loss is fed."""
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence

import torch.nn as nn
from torch import Tensor

from mmswtat.registry import MODELS
from .checks import (ROLES, check_connector_input, check_connector_widths,
                     check_masked, check_teacher_connector, named)
from .distill_spec import (DistillSpec, FeatureRef, LossRoute, connector_key,
                           per_level_configs)
from .recorder import pick_level
from .valid_mask import level_mask


class LossInput(NamedTuple):
    """One loss module and its two inputs.

    Attributes:
        name: The loss's name in ``distill_losses``.
        level: Level of a multi-level loss, else ``None``.
        module: The loss module of that level.
        student: Student map after its connector, ``(B, C_s, H, W)``.
        teacher: Teacher map after its connector, ``(B, C_t, H', W')``.
        valid_mask: ``(B, H', W')`` bool when the loss's mapping asks for
            one and labels were given (``valid_mask.py``), else ``None``.
    """
    name: str
    level: Optional[int]
    module: nn.Module
    student: Tensor
    teacher: Tensor
    valid_mask: Optional[Tensor] = None


def _build(cfgs: List[dict], multi: bool, where: str) -> nn.Module:
    modules = []
    for level, cfg in enumerate(cfgs):
        with named(f'{where} (level {level})' if multi else where):
            modules.append(MODELS.build(cfg))
    return nn.ModuleList(modules) if multi else modules[0]


class LossBank(nn.Module):
    """Losses and connectors of a :class:`DistillSpec`, and their inputs.

    Holds ``distill_losses`` (``{loss: module}``, an ``nn.ModuleList`` per
    level for a multi-level loss) and ``connectors`` (the shared ones by
    name, and those a loss owns under :func:`connector_key`).

    Args:
        spec: The checked distillation settings.
    """

    def __init__(self, spec: DistillSpec) -> None:
        super().__init__()
        self.routes: Dict[str, LossRoute] = dict(spec.routes)
        losses: Dict[str, nn.Module] = {}
        modules = {
            name: _build([cfg], False, f'connectors[{name!r}]')
            for name, cfg in spec.connectors.items()
        }
        for name, route in self.routes.items():
            losses[name] = _build(
                per_level_configs(name, spec.losses[name], route), route.multi,
                f'distill_losses[{name!r}]')
            for level, module in enumerate(
                    losses[name] if route.multi else [losses[name]]):
                if hasattr(module, 'owner'):  # named in its warnings
                    module.owner = f'distill loss {name!r}' + (
                        f' (level {level})' if route.multi else '')
                if route.valid_mask is not None:
                    check_masked(name, module)
            for role in ROLES:
                ref = route.side(role)
                if isinstance(ref.connector, dict):
                    modules[connector_key(name, role)] = _build(
                        per_level_configs(f'{name} {role} connector',
                                          ref.connector, route), route.multi,
                        f'loss_forward_mappings[{name!r}][{role!r}] '
                        'connector')
                if role == 'teacher' and ref.connector is not None:
                    where = f'loss_forward_mappings[{name!r}][{role!r}]'
                    check_teacher_connector(
                        modules[self._key(name, role)],
                        f'{where}: shared connector {ref.connector!r}'
                        if ref.shared else f'{where}: connector')
        self.distill_losses = nn.ModuleDict(losses)
        self.connectors = nn.ModuleDict(modules)
        check_connector_widths(self.routes, self.distill_losses,
                               self._connector)
        self._warn_zero_weights()

    def _warn_zero_weights(self) -> None:
        """Say out loud that a loss with ``loss_weight=0`` does nothing."""
        zero = [
            name for name, loss in self.distill_losses.items() if all(
                getattr(m, 'loss_weight', None) == 0
                for m in (loss if isinstance(loss, nn.ModuleList) else [loss]))
        ]
        if not zero:
            return
        from mmengine.logging import print_log
        everything = len(zero) == len(self.distill_losses)
        print_log(
            f'distill losses {zero} have loss_weight=0: they are computed '
            'but add nothing to the training loss' +
            (' (nothing is distilled; the student trains on its task '
             'losses alone)' if everything else '') +
            '. Set a loss_weight > 0, or remove them from distill_losses '
            'and loss_forward_mappings',
            logger='current',
            level=30)

    @property
    def masked(self) -> List[str]:
        """The losses whose mapping asks for a ``valid_mask``."""
        return [n for n, r in self.routes.items() if r.valid_mask is not None]

    def _key(self, name: str, role: str) -> str:
        """Key in ``connectors`` of the connector of a loss's side."""
        ref = self.routes[name].side(role)
        return ref.connector if ref.shared else connector_key(name, role)

    def _connector(self, name: str, role: str) -> nn.Module:
        """The connector (or ``ModuleList`` of them) of a loss's side."""
        return self.connectors[self._key(name, role)]

    def select_feature(self,
                       records: Dict[str, Any],
                       name: str,
                       role: str,
                       level: Optional[int] = None,
                       cache: Optional[Dict[tuple, Tensor]] = None) -> Tensor:
        """One input of a loss: the recorded level, through its connector.

        This is the one place where a level of a tuple output is picked:
        first the recorder's own ``index``, then the mapping's.

        Args:
            records: ``{recorder name: module output}`` of ``role``'s model.
            name: The loss.
            role: ``'student'`` or ``'teacher'``.
            level: Level of a multi-level loss, else ``None``.
            cache: Outputs of shared connectors by ``(connector, role,
                recorder, index)``; an entry is reused and a new one added.
                ``None``: nothing is shared beyond this call.

        Returns:
            The feature map ``(B, C, H, W)`` the loss gets.
        """
        ref: FeatureRef = self.routes[name].side(role)
        rec = ref.recorder
        index = self.routes[name].levels[level or 0][ROLES.index(role)]
        feat = pick_level(records[rec.name], rec.index,
                          f'{role} recorder {rec.name!r} ({rec.module!r})')
        if index is None and isinstance(feat, (tuple, list)):
            raise ValueError(
                f'distill loss {name!r}: {role} feature {rec.name!r} is a '
                f'tuple of {len(feat)} levels; pick levels with index=i or '
                f'index=[0, ..., {len(feat) - 1}] in loss_forward_mappings')
        what = f'distill loss {name!r}: {role} feature {rec.name!r}'
        parent, feat = feat, pick_level(feat, index, what)
        if ref.connector is None:
            return feat
        module = self._connector(name, role)
        if not ref.shared:  # owned by this loss and side
            module = module if level is None else module[level]
            check_connector_input(
                module, feat, f'the {role} connector of distill loss '
                f"{name!r}{'' if level is None else f' (level {level})'}")
            return module(feat)
        check_connector_input(
            module, feat, f'shared connector '
            f'{ref.connector!r} ({role} feature '
            f'{rec.name!r}, distill loss {name!r})')
        if index is not None and index < 0:
            index += len(parent)
        key = (ref.connector, role, rec.name, index)
        cache = {} if cache is None else cache
        if key not in cache:
            cache[key] = module(feat)
        return cache[key]

    def loss_inputs(self,
                    student: Dict[str, Any],
                    teacher: Dict[str, Any],
                    names: Optional[Sequence[str]] = None,
                    labels: Optional[Tensor] = None) -> Iterator[LossInput]:
        """The inputs of every loss and level, in ``distill_losses`` order.

        A shared connector runs once per ``(role, recorder, index)`` within
        one call (its output is reused by every loss that reads it); the
        outputs are dropped when the iteration ends.

        Args:
            student: The student's records ``{recorder name: output}``.
            teacher: The teacher's records.
            names: Only these losses (default: all).
            labels: ``(N, 1, H, W)`` segmentation labels
                (:func:`~.valid_mask.stack_labels`): the masked losses get
                their ``valid_mask`` from them (one per ignore index and map
                size). ``None``: no masks (every ``valid_mask`` is ``None``).

        Yields:
            :class:`LossInput` per loss and level.
        """
        cache: Dict[tuple, Tensor] = {}
        masks: Dict[tuple, Tensor] = {}
        for name, modules in self.distill_losses.items():
            if names is not None and name not in names:
                continue
            ignore = self.routes[name].valid_mask
            for level in self.routes[name].level_ids():
                s_feat = self.select_feature(student, name, 'student', level,
                                             cache)
                t_feat = self.select_feature(teacher, name, 'teacher', level,
                                             cache)
                yield LossInput(
                    name, level, modules if level is None else modules[level],
                    s_feat, t_feat,
                    None if ignore is None or labels is None else level_mask(
                        name, ignore, labels, t_feat, masks))

    def forward(self,
                student: Dict[str, Any],
                teacher: Dict[str, Any],
                labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """``{loss name: sum over its levels}`` (scalars, unweighted).

        ``labels``: see :meth:`loss_inputs`; required when a loss asks for
        a ``valid_mask``.
        """
        if labels is None and self.masked:
            raise ValueError(
                f'distill losses {self.masked} ask for a valid_mask; pass '
                'the batch labels (labels=stack_labels(data_samples, ...), '
                '(N, 1, H, W)) or remove valid_mask from their '
                'loss_forward_mappings entries')
        out: Dict[str, Tensor] = {}
        for item in self.loss_inputs(student, teacher, labels=labels):
            with named(f'distill loss {item.name!r}' + (
                    '' if item.level is None else f' (level {item.level})')):
                value = item.module(item.student, item.teacher) \
                    if item.valid_mask is None else item.module(
                        item.student, item.teacher,
                        valid_mask=item.valid_mask)
            out[item.name] = out[item.name] + value if item.name in out \
                else 0. + value
        return out
