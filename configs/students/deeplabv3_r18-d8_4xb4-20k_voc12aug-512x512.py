# The student alone: DeepLabV3 R18-D8 on VOC12aug with the teacher's data,
# schedule and runtime (heads as in mmseg's deeplabv3_r18-d8 Cityscapes
# config). A stock mmseg config: the baseline of the distillation, and the
# config with which an exported student is tested by mmseg's own tools.
_base_ = 'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py'
model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))
