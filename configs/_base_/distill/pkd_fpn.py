# PKD (Cao et al., "PKD: General Distillation Framework for Object Detectors
# via Pearson Correlation Coefficient", NeurIPS 2022) on the FPN levels of an
# mmdet detector (peer method), R101 -> R50 (256 channels on both sides, as
# in every stock mmdet FPN config, so no connector is needed).
#
# Mix into a detector config with
#     model = dict(..., distill={{_base_.pkd_fpn}})
#
# L = loss_weight * mean (S' - T')^2 / 2 per level, S' and T' each channel
# standardised over N*H*W (mmswtat.PKDLoss): 1 - Pearson correlation up to
# constants, so only the teacher's pattern is imitated, not its magnitude.
#
# Source: MMRazor, configs/distill/mmdet/pkd/
# pkd_fpn_faster-rcnn_r101_faster-rcnn_r50_2x_coco.py (Faster R-CNN R101 ->
# R50 2x, 40.3 bbox mAP): one PKDLoss per level on the first four FPN
# outputs (`data_idx` 0..3: P2..P5; the fifth, P6, is left out),
# loss_weight=6 each. MMRazor's RetinaNet X101 -> R50 config
# (pkd_fpn_retina_x101_retina_r50_2x_coco.py, 40.8 mAP) keeps the same four
# levels (P3..P6 there) at loss_weight=10. Here `index=[0, 1, 2, 3]` makes
# one loss module per level, each at the published weight, as MMRazor's four
# separate losses.
pkd_fpn = dict(
    student_recorders=dict(fpn='neck'),
    teacher_recorders=dict(fpn='neck'),
    distill_losses=dict(
        loss_pkd=dict(type='mmswtat.PKDLoss', loss_weight=6.0)),
    loss_forward_mappings=dict(
        loss_pkd=dict(
            student=dict(recorder='fpn', index=[0, 1, 2, 3]),
            teacher=dict(recorder='fpn', index=[0, 1, 2, 3]))))
