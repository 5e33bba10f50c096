# FitNet (Romero et al., ICLR 2015) hint on the decode head's last feature
# (peer method), DeepLabV3 R101-D8 teacher (ASPP head, 512 ch) -> R18-D8
# student (128 ch): the same recorder `head` (`decode_head.bottleneck`) and
# the same shared 1x1 conv + BN connector `sh` (128 -> 512) as swtat_head,
# so FitNet and SW-TaT see the same student projection of the same map.
# It is SW-TaT with the attention removed (window 1, no global pass).
#
# Mix into a config with
#     model = dict(..., distill={{_base_.fitnet_head}})
# or combine it with SW-TaT on the same feature (the recorder and the
# connector are shared, by name):
#     model = dict(...,
#                  distill=[{{_base_.swtat_head}}, {{_base_.fitnet_head}}])
#
# L = mean over elements of (sh(S) - T)^2. Weight 1: CIRKD's FitNet for this
# pair (winycg/CIRKD losses/fitnet.py), the sweep's centre; the accuracy
# benchmark's measurement is in docs/accuracy.md.
fitnet_head = dict(
    student_recorders=dict(head='decode_head.bottleneck'),
    teacher_recorders=dict(head='decode_head.bottleneck'),
    connectors=dict(
        sh=dict(
            type='mmswtat.ConvBNConnector', in_channels=128,
            out_channels=512)),
    distill_losses=dict(
        loss_fitnet_head=dict(type='mmswtat.FeatureMSELoss', loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_fitnet_head=dict(
            student=dict(recorder='head', connector='sh'), teacher='head')))
