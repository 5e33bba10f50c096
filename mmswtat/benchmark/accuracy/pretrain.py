"""Digit-classification pretraining of a ResNetV1c backbone.

The analogue of the ImageNet-pretrained backbones of the official protocol
(and of mmseg's ``open-mmlab://resnet18_v1c``): a ResNetV1c (deep stem,
undilated) with a global-pool + linear head learns the 10 digit classes on
32x32 training-split digits over photo crops; the backbone weights are then
loaded by the segmentation model's ``pretrained=`` (which dilates layer3/4
with the same weights). Plain PyTorch: this only makes the initial weights.
"""
import time
from typing import Dict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmswtat.benchmark.data.digit_scenes import DigitSceneSettings, digit_crops
from .settings import NetSettings, PretrainSettings

#: mmseg's VOC preprocessor statistics (RGB), used for pretraining too.
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


def backbone_cfg(net: NetSettings, dilated: bool) -> dict:
    """mmseg ``ResNetV1c`` config (``MobileNetV2`` for a
    :class:`~.settings.MobileNetV2Settings`), D8-dilated or plain
    (pretraining; the weights are the same)."""
    if getattr(net, 'arch', 'resnet') == 'mobilenetv2':
        return dict(
            type='mmseg.MobileNetV2',
            widen_factor=net.widen_factor,
            strides=(1, 2, 2, 1, 1, 1, 1) if dilated else
            (1, 2, 2, 2, 1, 2, 1),
            dilations=(1, 1, 1, 2, 2, 4, 4) if dilated else (1, ) * 7,
            out_indices=(1, 2, 4, 6),
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=False)
    return dict(
        type='mmseg.ResNetV1c',
        depth=net.depth,
        base_channels=net.base_channels,
        stem_channels=net.stem_channels,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4) if dilated else (1, 1, 1, 1),
        strides=(1, 2, 1, 1) if dilated else (1, 2, 2, 2),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        contract_dilation=True)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 RGB -> normalised ``(N, 3, H, W)`` float."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def pretrain_backbone(net: NetSettings,
                      cfg: PretrainSettings,
                      data: DigitSceneSettings,
                      out_file: str,
                      log=print) -> Dict[str, float]:
    """Train ``net``'s backbone on digit classification; save its weights.

    Args:
        net: The network whose backbone is pretrained.
        cfg: Iterations, batch, learning rate, image count.
        data: The digit split (only training-split digits are used).
        out_file: Checkpoint path (``{'state_dict': backbone weights}``).
        log: Progress printer.

    Returns:
        ``{'train_acc': last 50 batches' accuracy, 'held_out_acc': ...,
        's_per_it': ...}``.
    """
    from mmseg.registry import MODELS
    torch.manual_seed(cfg.seed)
    images, labels = digit_crops(data, cfg.num_images, cfg.size, cfg.seed,
                                 cfg.plain_fraction)
    x_all, y_all = to_tensor(images), torch.from_numpy(labels)
    n_hold = max(1, len(x_all) // 10)
    x_hold, y_hold = x_all[:n_hold], y_all[:n_hold]
    x_tr, y_tr = x_all[n_hold:], y_all[n_hold:]
    backbone = MODELS.build(backbone_cfg(net, dilated=False))
    backbone.init_weights()
    head = nn.Linear(net.layer4_channels, 10)
    model = nn.ModuleDict(dict(backbone=backbone, head=head))
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: (1 - i / cfg.iters)**0.9)
    gen = torch.Generator().manual_seed(cfg.seed)
    correct, start = [], time.time()
    model.train()
    for it in range(cfg.iters):
        idx = torch.randint(len(x_tr), (cfg.batch_size, ), generator=gen)
        feat = backbone(x_tr[idx])[-1].mean((2, 3))
        logits = head(feat)
        loss = F.cross_entropy(logits, y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        correct.append((logits.argmax(1) == y_tr[idx]).float().mean().item())
        if (it + 1) % 100 == 0 or it + 1 == cfg.iters:
            log(f'[pretrain] {it + 1}/{cfg.iters} loss {loss.item():.3f} '
                f'acc(last 50) {np.mean(correct[-50:]):.3f}')
    s_per_it = (time.time() - start) / max(cfg.iters, 1)
    model.eval()
    with torch.no_grad():
        pred = head(backbone(x_hold)[-1].mean((2, 3))).argmax(1)
    held = (pred == y_hold).float().mean().item()
    torch.save({'state_dict': backbone.state_dict()}, out_file)
    return dict(
        train_acc=float(np.mean(correct[-50:])),
        held_out_acc=held,
        s_per_it=s_per_it)
