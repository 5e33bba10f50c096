# The student alone: DeepLabV3 R18-D8 on COCO-Stuff 10k (see the VOC one).
_base_ = 'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_coco-stuff10k-512x512.py'
model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))
