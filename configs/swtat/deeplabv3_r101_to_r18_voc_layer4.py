# Distil DeepLabV3 R101-D8 (VOC12aug, mIoU 78.7) into DeepLabV3 R18-D8 with
# pure SW-TaT + patch-merging on backbone layer4 (the paper's placement; the
# shipped deeplabv3_r101_to_r18_voc.py until the accuracy benchmark chose
# the head + CWD recipe, docs/accuracy.md). Data, schedule and runtime are
# mmseg's own for the teacher config; the teacher stops after its backbone.
_base_ = [
    'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py',
    '../_base_/distill/swtat_layer4_r101_to_r18.py',
]
custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)
# Exact --resume: also restore the torch RNG (dropout) state.
custom_hooks = [dict(type='mmswtat.RNGStateHook')]

teacher_cfg = 'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py'
student_cfg = 'mmswtat::students/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py'  # noqa: E501
teacher_ckpt = 'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x512_20k_voc12aug/deeplabv3_r101-d8_512x512_20k_voc12aug_20200617_010932-8d13832f.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='mmswtat.SingleTeacherDistiller',
    # Student: DeepLabV3 R18-D8 (ImageNet-pretrained backbone), the same
    # config that trains the undistilled baseline.
    student=dict(cfg_path=student_cfg),
    teacher=dict(cfg_path=teacher_cfg, pretrained=None),
    teacher_ckpt=teacher_ckpt,
    distill={{_base_.swtat_layer4}})
