# Distil a Faster R-CNN R101-FPN teacher into Faster R-CNN R50-FPN on PASCAL
# VOC 07+12 (mmdet's stock VOC config: trainval 07+12, test 07, 11-point
# mAP) with SW-TaT + patch merging at all five FPN levels (P2..P6).
#
# mmdet's model zoo has no R101 VOC detector: the teacher checkpoint is YOUR
# OWN. Train it with the stock VOC config and an R101 backbone, e.g.
#   python tools/train.py mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py \
#     --work-dir work_dirs/faster-rcnn_r101_fpn_1x_voc0712 --cfg-options \
#     model.backbone.depth=101 \
#     model.backbone.init_cfg.checkpoint=torchvision://resnet101
# which writes the placeholder path below; or pass your file with
#   --cfg-options model.teacher_ckpt=/path/to/teacher.pth
# A missing file stops the run at model build with a FileNotFoundError that
# names model.teacher_ckpt.
_base_ = [
    'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py',
    '../_base_/distill/swtat_fpn.py',
]
custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)
# Exact --resume: also restore the torch RNG (dropout) state.
custom_hooks = [dict(type='mmswtat.RNGStateHook')]

student_cfg = 'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py'
# PLACEHOLDER: your R101 VOC teacher (see above).
teacher_ckpt = 'work_dirs/faster-rcnn_r101_fpn_1x_voc0712/epoch_4.pth'

model = dict(
    _delete_=True,
    type='mmswtat.SingleTeacherDistiller',
    student=dict(cfg_path=student_cfg),
    # The stock VOC model (20 classes) with an R101 backbone; its weights all
    # come from teacher_ckpt.
    teacher=dict(
        cfg_path=student_cfg, backbone=dict(depth=101, init_cfg=None)),
    teacher_ckpt=teacher_ckpt,
    distill={{_base_.swtat_fpn}})
