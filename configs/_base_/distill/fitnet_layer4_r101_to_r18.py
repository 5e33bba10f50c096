# FitNet (Romero et al., ICLR 2015) hint on ResNet `layer4` (peer method),
# DeepLabV3 R101-D8 teacher (2048 ch) -> R18-D8 student (512 ch).
#
# Mix into a config with
#     model = dict(..., distill={{_base_.fitnet_layer4}})
#
# L = mean over elements of (s4(S) - T)^2, with the same shared 1x1 conv +
# BN connector `s4` (512 -> 2048) as swtat_layer4 uses, so FitNet and SW-TaT
# see the same student projection of the same layer.
# Hyperparameters: weight 1, from CIRKD's FitNet for this pair (winycg/
# CIRKD losses/fitnet.py: a 1x1 conv regressor and the element mean of the
# squared error on the last backbone feature; its scripts give no VOC
# weight). MMRazor's FitNet config (ImageNet, R50 -> R18) uses weight 10 on
# an L2 loss of L2-normalised features summed per sample, a different scale.
# Like raw SW-TaT, the value follows the teacher's activation magnitude.
fitnet_layer4 = dict(
    student_recorders=dict(feat='backbone.layer4'),
    teacher_recorders=dict(feat='backbone.layer4'),
    connectors=dict(
        s4=dict(
            type='mmswtat.ConvBNConnector', in_channels=512,
            out_channels=2048)),
    distill_losses=dict(
        loss_fitnet=dict(type='mmswtat.FeatureMSELoss', loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_fitnet=dict(
            student=dict(recorder='feat', connector='s4'), teacher='feat')))
