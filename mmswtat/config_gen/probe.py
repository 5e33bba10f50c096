"""Probe a model config: build it offline and record its feature maps.

The model is built with random weights (pretrained/init_cfg checkpoints
stripped, nothing is downloaded) and runs one dummy batch; forward hooks
record the output of every direct child of the backbone, the neck's output
levels and, for classifiers, the logits of ``head.fc``. Strides do not depend
on the input size, so the batch is at most ``PROBE_SIDE`` pixels square and
the map sizes at the training crop are computed as ``ceil(crop / stride)``
(exact for the zero-padded "same" convolutions of CNN backbones).
"""
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict

#: Largest side of the probe batch (strides up to 256 are measured exactly).
PROBE_SIDE = 256
#: Scope -> task family.
TASKS = {'mmseg': 'seg', 'mmdet': 'det', 'mmpretrain': 'cls'}


@dataclass
class Feature:
    """One recorded output.

    Attributes:
        module: Module path, e.g. ``'backbone.layer4'`` or ``'neck'``.
        channels: ``C`` of the ``(B, C, H, W)`` map (classes for logits).
        stride: Input pixels per map cell (0 for logits).
        index: Level of a tuple output (necks), else ``None``.
    """
    module: str
    channels: int
    stride: int
    index: Optional[int] = None

    def size_at(self, crop: Tuple[int, int]) -> Tuple[int, int]:
        """``(H, W)`` of this map for a ``crop = (H, W)`` input."""
        return (math.ceil(crop[0] / self.stride),
                math.ceil(crop[1] / self.stride))

    def describe(self, crop: Tuple[int, int]) -> str:
        where = self.module + ('' if self.index is None else f'[{self.index}]')
        if not self.stride:
            return f'{where}: {self.channels} logits'
        h, w = self.size_at(crop)
        return (f'{where}: {self.channels} ch, stride {self.stride} '
                f'({h}x{w} at {crop[0]}x{crop[1]})')


@dataclass
class ModelProbe:
    """What one model config offers for distillation.

    Attributes:
        cfg_path: The config as given (file or ``scope::path``).
        scope: ``default_scope`` of the config (``'mmseg'`` ...).
        task: ``'seg'``, ``'det'`` or ``'cls'``.
        crop: Training input ``(H, W)`` read from the config.
        crop_source: Where ``crop`` was read, for the comments.
        stages: Deepest direct child of the backbone at each stride, in
            forward order (so the last one is the deepest stage).
        neck: The neck's output levels when it returns a tuple of maps.
        logits: ``head.fc`` of a classifier.
        head: The decode head's last feature (the classifier's input) of a
            segmentor, when :func:`head_feature_path` knows the head.
        model_cfg: The model config (with ``_scope_``), as the distiller
            would load it.
    """
    cfg_path: str
    scope: str
    task: str
    crop: Tuple[int, int]
    crop_source: str
    stages: List[Feature] = field(default_factory=list)
    neck: List[Feature] = field(default_factory=list)
    logits: Optional[Feature] = None
    head: Optional[Feature] = None
    model_cfg: Dict[str, Any] = field(default_factory=dict)

    def summary(self) -> List[str]:
        """One line per recorded feature (used in errors and comments)."""
        lines = [f.describe(self.crop) for f in self.stages]
        lines += [f.describe(self.crop) for f in self.neck]
        if self.logits is not None:
            lines.append(self.logits.describe(self.crop))
        if self.head is not None:
            lines.append(self.head.describe(self.crop) + ' (head feature)')
        return lines


def _train_pipelines(cfg: Config) -> List[list]:
    out = []
    stack = [(cfg.get('train_dataloader') or {}).get('dataset') or {}]
    while stack:
        ds = stack.pop()
        if ds.get('pipeline'):
            out.append(ds['pipeline'])
        stack.extend(ds.get('datasets') or [])
        if isinstance(ds.get('dataset'), dict):
            stack.append(ds['dataset'])
    return out


def _pair(value: Any, wh: bool) -> Tuple[int, int]:
    """``int`` or ``(a, b)`` -> ``(H, W)``; ``wh``: the pair is (W, H)."""
    if isinstance(value, int):
        return value, value
    a, b = (int(v) for v in value)
    return (b, a) if wh else (a, b)


def training_crop(cfg: Config, task: str) -> Tuple[Tuple[int, int], str]:
    """The training input size ``(H, W)`` of a config and where it was read.

    mmseg: ``crop_size`` (``(H, W)``), else the preprocessor's ``size``, else
    ``RandomCrop``. mmdet: the largest ``Resize``/``RandomResize`` scale
    (``(W, H)``, the long side first). mmpretrain: ``RandomResizedCrop``
    ``scale`` or ``RandomCrop`` ``crop_size``.

    Raises:
        ValueError: Nothing in the config gives the size.
    """
    if task == 'seg':
        if cfg.get('crop_size'):
            return _pair(cfg.crop_size, False), 'crop_size'
        size = (cfg.get('data_preprocessor') or {}).get('size')
        if size:
            return _pair(size, False), 'data_preprocessor.size'
    for pipeline in _train_pipelines(cfg):
        for t in pipeline:
            kind = t.get('type', '')
            if task == 'seg' and kind == 'RandomCrop':
                return _pair(t['crop_size'], False), 'RandomCrop.crop_size'
            if task == 'det' and kind in ('Resize', 'RandomResize',
                                          'RandomChoiceResize'):
                scale = t.get('scale') or t.get('scales')
                if isinstance(scale, (list, tuple)) and scale and \
                        isinstance(scale[0], (list, tuple)):
                    scale = max(scale, key=lambda s: s[0] * s[1])
                if scale:
                    h, w = _pair(scale, True)
                    return (min(h, w), max(h, w)), f'{kind}.scale'
            if task == 'cls' and kind == 'RandomResizedCrop':
                return _pair(t['scale'], False), 'RandomResizedCrop.scale'
            if task == 'cls' and kind == 'RandomCrop':
                return _pair(t['crop_size'], False), 'RandomCrop.crop_size'
    raise ValueError(
        'cannot read the training input size of this config (looked for '
        'crop_size, data_preprocessor.size and the train pipeline\'s '
        'RandomCrop/Resize/RandomResizedCrop); set crop_size = (H, W) in it')


def strip_pretrained(model_cfg: Any) -> Any:
    """A copy of a model config that loads no checkpoint when initialised:
    ``pretrained=None`` and every ``init_cfg`` of type ``Pretrained`` gone."""
    if isinstance(model_cfg, dict):
        out = {}
        for key, value in model_cfg.items():
            if key == 'pretrained':
                value = None
            elif key == 'init_cfg' and isinstance(value, dict) and \
                    value.get('type') == 'Pretrained':
                value = None
            out[key] = strip_pretrained(value)
        return out
    if isinstance(model_cfg, (list, tuple)):
        return type(model_cfg)(strip_pretrained(v) for v in model_cfg)
    return model_cfg


def head_feature_path(model: nn.Module) -> Optional[str]:
    """The module whose output the decode head's classifier reads.

    mmseg's ASPPHead/PSPHead/DepthwiseSeparableASPPHead end in
    ``bottleneck``, UPerHead in ``fpn_bottleneck``, FCNHead in ``conv_cat``
    (``concat_input=True``) or the last of ``convs``. Each is an mmcv
    ConvModule, so ``<path>.bn`` is the pre-activation feature (record it
    with ``clone=True``). None for other heads.
    """
    head = getattr(model, 'decode_head', None)
    if head is None:
        return None
    for name in ('bottleneck', 'fpn_bottleneck'):
        if isinstance(getattr(head, name, None), nn.Module):
            return f'decode_head.{name}'
    if getattr(head, 'concat_input', False) and hasattr(head, 'conv_cat'):
        return 'decode_head.conv_cat'
    convs = getattr(head, 'convs', None)
    if isinstance(convs, nn.Sequential) and len(convs):
        return f'decode_head.convs.{len(convs) - 1}'
    return None


def _is_map(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and x.dim() == 4


def _record(model: nn.Module, task: str, side: Tuple[int, int]):
    """Run one batch; return backbone children outputs (in forward order),
    the neck output, the head.fc output and the decode head's last
    feature."""
    backbone_out: List[Tuple[str, torch.Tensor]] = []
    seen: Dict[str, Any] = {}
    handles = []
    for name, child in model.backbone.named_children():

        def hook(mod, args, out, name=name):
            if _is_map(out):
                backbone_out.append((f'backbone.{name}', out))

        handles.append(child.register_forward_hook(hook))
    head_path = head_feature_path(model) if task == 'seg' else None
    for path in ('neck', 'head.fc', head_path):
        if path is None:
            continue
        try:
            module = model.get_submodule(path)
        except AttributeError:
            continue
        handles.append(
            module.register_forward_hook(
                lambda mod, args, out, path=path: seen.__setitem__(path, out)))
    x = torch.randn(1, 3, *side)
    try:
        with torch.no_grad():
            if task == 'cls' or head_path is not None:
                model(x, mode='tensor')
            else:
                model.extract_feat(x)
    finally:
        for h in handles:
            h.remove()
    head = seen.get(head_path) if head_path else None
    return (backbone_out, seen.get('neck'), seen.get('head.fc'),
            (head_path, head) if _is_map(head) else None)


def _stride(side: Tuple[int, int], out: torch.Tensor) -> int:
    return max(1, round(side[0] / out.shape[-2]))


def probe_model(cfg_path: str, role: str = 'model') -> ModelProbe:
    """Build ``cfg_path``'s model offline and record its feature maps.

    Args:
        cfg_path: Local config file or ``scope::path``.
        role: ``'student'``/``'teacher'`` (messages).

    Raises:
        ValueError: Unknown codebase, no backbone, unreadable crop.
    """
    from mmswtat.models.distillers import load_model_cfg
    from mmswtat.registry import MODELS
    from mmswtat.utils import resolve_config_path
    cfg = Config.fromfile(resolve_config_path(cfg_path))
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(
            f'{role} config {cfg_path!r}: default_scope {scope!r} is not '
            f'one of {sorted(TASKS)}; give an mmseg, mmdet or mmpretrain '
            'config')
    task = TASKS[scope]
    crop, source = training_crop(cfg, task)
    model_cfg = load_model_cfg(dict(cfg_path=cfg_path), role)
    model = MODELS.build(ConfigDict(strip_pretrained(model_cfg)))
    model.eval()
    if not hasattr(model, 'backbone'):
        raise ValueError(f'{role} model {cfg_path!r} has no backbone; the '
                         'generator handles backbone(+neck) models')
    side = tuple(min(c, PROBE_SIDE) for c in crop)
    side = (max(side), max(side))
    stages_out, neck_out, logits, head = _record(model, task, side)
    by_stride: Dict[int, Feature] = {}
    for path, out in stages_out:
        stride = _stride(side, out)
        by_stride.pop(stride, None)  # keep the last (deepest) per stride
        by_stride[stride] = Feature(path, int(out.shape[1]), stride)
    probe = ModelProbe(
        cfg_path,
        scope,
        task,
        crop,
        source,
        stages=list(by_stride.values()),
        model_cfg=model_cfg)
    if isinstance(neck_out, (tuple, list)) and neck_out and all(
            _is_map(o) for o in neck_out):
        probe.neck = [
            Feature('neck', int(o.shape[1]), _stride(side, o), i)
            for i, o in enumerate(neck_out)
        ]
    if task == 'cls' and isinstance(logits, torch.Tensor):
        probe.logits = Feature('head.fc', int(logits.shape[-1]), 0)
    if head is not None:
        probe.head = Feature(head[0], int(head[1].shape[1]),
                             _stride(side, head[1]))
    del model
    return probe
