# The paper's segmentation benchmark: COCO-Stuff 10k (171 classes).
# Teacher: mmseg's DeepLabV3 R101-D8 20k COCO-Stuff10k (mIoU 35.73).
# Pure SW-TaT + patch merging on backbone layer4 (the paper's placement; the
# shipped recipe is deeplabv3_r101_to_r18_cocostuff10k.py).
_base_ = [
    'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_coco-stuff10k-512x512.py',
    '../_base_/distill/swtat_layer4_r101_to_r18.py',
]
custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)
# Exact --resume: also restore the torch RNG (dropout) state.
custom_hooks = [dict(type='mmswtat.RNGStateHook')]

teacher_cfg = 'mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-20k_coco-stuff10k-512x512.py'  # noqa: E501
student_cfg = 'mmswtat::students/deeplabv3_r18-d8_4xb4-20k_coco-stuff10k-512x512.py'  # noqa: E501
teacher_ckpt = 'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x512_4x4_20k_coco-stuff10k/deeplabv3_r101-d8_512x512_4x4_20k_coco-stuff10k_20210821_043025-c49752cb.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='mmswtat.SingleTeacherDistiller',
    # Student: DeepLabV3 R18-D8 (ImageNet-pretrained backbone), the same
    # config that trains the undistilled baseline.
    student=dict(cfg_path=student_cfg),
    teacher=dict(cfg_path=teacher_cfg, pretrained=None),
    teacher_ckpt=teacher_ckpt,
    distill={{_base_.swtat_layer4}})
