# Distil Faster R-CNN R101-FPN (COCO box AP 39.4) into Faster R-CNN R50-FPN
# (box AP 37.4 trained alone) with SW-TaT + patch merging at all five FPN
# levels (P2..P6). Data, 1x schedule and runtime are mmdet's stock ones; the
# student is mmdet's stock R50 config (ImageNet-pretrained backbone), which is
# also the undistilled baseline and the config with which an exported student
# is tested by mmdet's own tools/test.py. The teacher stops after its neck.
_base_ = [
    'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    '../_base_/distill/swtat_fpn.py',
]
custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)
# Exact --resume: also restore the torch RNG (dropout) state.
custom_hooks = [dict(type='mmswtat.RNGStateHook')]

student_cfg = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
teacher_cfg = 'mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py'
# mmdet/configs/faster_rcnn/metafile.yml, faster-rcnn_r101_fpn_1x_coco
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r101_fpn_1x_coco/faster_rcnn_r101_fpn_1x_coco_20200130-f513f705.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='mmswtat.SingleTeacherDistiller',
    student=dict(cfg_path=student_cfg),
    # The teacher's weights all come from teacher_ckpt.
    teacher=dict(cfg_path=teacher_cfg, backbone=dict(init_cfg=None)),
    teacher_ckpt=teacher_ckpt,
    distill={{_base_.swtat_fpn}})
