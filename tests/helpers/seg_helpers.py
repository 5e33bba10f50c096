"""Tiny mmseg models and batches for distiller tests (no data on disk)."""
import torch

from mmswtat.testing import random_seg_batch

SIZE = 32


def tiny_seg_model(depth: int = 18, base: int = 8, num_classes: int = 4):
    """A narrow DeepLab-like EncoderDecoder config (ResNetV1c D8 + FCN
    head)."""
    expansion = 1 if depth in (18, 34) else 4
    norm = dict(type='BN', requires_grad=True)
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255,
            size=(SIZE, SIZE)),
        backbone=dict(
            type='ResNetV1c',
            depth=depth,
            base_channels=base,
            stem_channels=base,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            dilations=(1, 1, 2, 4),
            strides=(1, 2, 1, 1),
            norm_cfg=norm,
            contract_dilation=True),
        decode_head=dict(
            type='FCNHead',
            in_channels=base * 8 * expansion,
            in_index=3,
            channels=16,
            num_convs=1,
            concat_input=False,
            dropout_ratio=0.1,
            num_classes=num_classes,
            norm_cfg=norm,
            align_corners=False,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def seg_batch(batch: int = 2, num_classes: int = 4, seed: int = 0) -> dict:
    """A raw batch as an mmseg dataloader yields it."""
    return random_seg_batch(batch, SIZE, num_classes, seed)


def distiller_cfg(**overrides) -> dict:
    """A SW-TaT distiller R50-ish teacher -> R18 student, tiny widths."""
    cfg = dict(
        type='mmswtat.SingleTeacherDistiller',
        student=tiny_seg_model(18),
        teacher=tiny_seg_model(50),
        student_recorders=dict(feat='backbone.layer4'),
        teacher_recorders=dict(feat='backbone.layer4'),
        distill_losses=dict(
            loss_swtat=dict(
                type='mmswtat.SWTaTLoss',
                student_channels=64,
                teacher_channels=256,
                window_size=2,
                shift_size=1),
            loss_pmtat=dict(
                type='mmswtat.PatchMergeTaTLoss',
                student_channels=64,
                teacher_channels=256,
                num_merges=1)),
        loss_forward_mappings=dict(
            loss_swtat=dict(student='feat', teacher='feat'),
            loss_pmtat=dict(student='feat', teacher='feat')))
    cfg.update(overrides)
    return cfg


def build_distiller(cfg: dict):
    """Build a distiller config with a fixed seed, in train mode."""
    from mmswtat.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.train()
    return model


def preprocessed_seg_batch(model, seed: int = 0) -> dict:
    """:func:`seg_batch` through the model's data preprocessor (training)."""
    return model.data_preprocessor(seg_batch(seed=seed), True)


def build_tiny_distiller(**overrides):
    """:func:`distiller_cfg` with ``overrides``, built with a fixed seed."""
    from mmswtat.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(distiller_cfg(**overrides))


def seg_loss_step(model, seed: int = 0) -> dict:
    """One ``mode='loss'`` forward on :func:`preprocessed_seg_batch`."""
    return model(**preprocessed_seg_batch(model, seed), mode='loss')


def distill_state(tmp_path, name='distill.pth', **save):
    """A tiny distiller's training checkpoint: (model, path)."""
    from mmswtat.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(distiller_cfg())
    path = tmp_path / name
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(iter=1), **save), path)
    return model, str(path)
