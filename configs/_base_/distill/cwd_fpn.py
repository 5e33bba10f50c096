# Channel-wise distillation (CWD, Shu et al., ICCV 2021) on the FPN levels
# of an mmdet detector (peer method), R101 -> R50 (256 channels on both
# sides, as in every stock mmdet FPN config, so no connector is needed).
#
# Mix into a detector config with
#     model = dict(..., distill={{_base_.cwd_fpn}})
#
# L = loss_weight * tau^2 / (N C) * sum_{n,c} KL(softmax_hw(T_nc / tau) ||
# softmax_hw(S_nc / tau)) per level: each channel of each FPN map becomes a
# distribution over its positions (mmswtat.ChannelWiseDivergence).
#
# Source: MMRazor, configs/distill/mmdet/cwd/
# cwd_fpn_retina_r101_retina_r50_1x_coco.py (RetinaNet R101 -> R50 1x; it
# takes its distiller from cwd_fpn_frcnn_r101_frcnn_r50_1x_coco.py): one
# ChannelWiseDivergence per level on all five FPN outputs (`data_idx`
# 0..4), tau=1, loss_weight=10 each. Here `index=[0, 1, 2, 3, 4]` makes one
# loss module per level, each at the published weight.
cwd_fpn = dict(
    student_recorders=dict(fpn='neck'),
    teacher_recorders=dict(fpn='neck'),
    distill_losses=dict(
        loss_cwd=dict(
            type='mmswtat.ChannelWiseDivergence', tau=1.0, loss_weight=10.0)),
    loss_forward_mappings=dict(
        loss_cwd=dict(
            student=dict(recorder='fpn', index=[0, 1, 2, 3, 4]),
            teacher=dict(recorder='fpn', index=[0, 1, 2, 3, 4]))))
