# Distil RetinaNet R101-FPN (COCO box AP 38.5) into RetinaNet R50-FPN (box AP
# 36.5 trained alone) with SW-TaT + patch merging at all five FPN levels
# (P3..P7, strides 8..128). Data, 1x schedule and runtime are mmdet's stock
# ones; the student is mmdet's stock R50 config, also the undistilled
# baseline and the config for mmdet's own tools/test.py on an exported
# student. The teacher stops after its neck (its head never runs).
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/distill/swtat_fpn.py',
]
custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)
# Exact --resume: also restore the torch RNG (dropout) state.
custom_hooks = [dict(type='mmswtat.RNGStateHook')]

student_cfg = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
teacher_cfg = 'mmdet::retinanet/retinanet_r101_fpn_1x_coco.py'
# mmdet/configs/retinanet/metafile.yml, retinanet_r101_fpn_1x_coco
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_1x_coco/retinanet_r101_fpn_1x_coco_20200130-7a93545f.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='mmswtat.SingleTeacherDistiller',
    student=dict(cfg_path=student_cfg),
    teacher=dict(cfg_path=teacher_cfg, backbone=dict(init_cfg=None)),
    teacher_ckpt=teacher_ckpt,
    distill={{_base_.swtat_fpn}})
