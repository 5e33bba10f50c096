# FitNet (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015) hint
# at every level of an mmdet FPN neck (peer method), R101 -> R50 (256
# channels on both sides, as in every stock mmdet FPN config).
#
# Mix into a detector config with
#     model = dict(..., distill={{_base_.fitnet_fpn}})
#
# L = loss_weight * mean over elements of (r(S) - T)^2 per level, r the
# FitNet regressor: a 1x1 conv + BN connector (`fr`, 256 -> 256), shared by
# the five levels as the FPN's own heads are shared. `index=[0, 1, 2, 3, 4]`
# makes one loss module per level; the log shows their sum.
#
# Weight: 1 per level, the element-mean FitNet weight of this project's
# segmentation fragment (CIRKD's FitNet); neither MMRazor nor mmdet ships a
# FitNet-on-FPN detection config, so no published detection weight exists.
# The detection benchmark sweeps 0.3..10 around it (docs/detection.md).
fitnet_fpn = dict(
    student_recorders=dict(fpn='neck'),
    teacher_recorders=dict(fpn='neck'),
    connectors=dict(
        fr=dict(
            type='mmswtat.ConvBNConnector', in_channels=256,
            out_channels=256)),
    distill_losses=dict(
        loss_fitnet=dict(type='mmswtat.FeatureMSELoss', loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_fitnet=dict(
            student=dict(
                recorder='fpn', index=[0, 1, 2, 3, 4], connector='fr'),
            teacher=dict(recorder='fpn', index=[0, 1, 2, 3, 4]))))
