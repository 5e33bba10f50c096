# Distil Mask R-CNN R101-FPN (COCO box AP 40.0, mask AP 36.1) into Mask R-CNN
# R50-FPN (box AP 38.2, mask AP 34.7 trained alone) with SW-TaT + patch
# merging at all five FPN levels (P2..P6); evaluated with bbox and segm mAP.
# Data, 1x schedule and runtime are mmdet's stock ones; the student is
# mmdet's stock R50 config, also the undistilled baseline and the config for
# mmdet's own tools/test.py on an exported student. The teacher stops after
# its neck.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/distill/swtat_fpn.py',
]
custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)
# Exact --resume: also restore the torch RNG (dropout) state.
custom_hooks = [dict(type='mmswtat.RNGStateHook')]

student_cfg = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
teacher_cfg = 'mmdet::mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py'
# mmdet/configs/mask_rcnn/metafile.yml, mask-rcnn_r101_fpn_1x_coco
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r101_fpn_1x_coco/mask_rcnn_r101_fpn_1x_coco_20200204-1efe0ed5.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='mmswtat.SingleTeacherDistiller',
    student=dict(cfg_path=student_cfg),
    teacher=dict(cfg_path=teacher_cfg, backbone=dict(init_cfg=None)),
    teacher_ckpt=teacher_ckpt,
    distill={{_base_.swtat_fpn}})
