# SW-TaT + patch-merging distillation of the decode head's last feature
# (the feature the classifier `conv_seg` reads), DeepLabV3 R101-D8 teacher
# -> R18-D8 student. This is where the official TaT-seg code distils
# (sihaoevery/TaT-seg: DeepLabV3+ `decoder.last_conv`, before its final
# ReLU), not a backbone stage.
#
# Mix into a config with
#     model = dict(..., distill={{_base_.swtat_head}})
# or combine it with a logit loss (a recipe: a list of fragments, merged
# name by name by the distiller):
#     model = dict(..., distill=[{{_base_.swtat_head}}, {{_base_.cwd_logits}}])
# and with the layer4 fragment for both placements:
#     model = dict(...,
#                  distill=[{{_base_.swtat_layer4}}, {{_base_.swtat_head}}])
# (names differ from swtat_layer4's -- recorder `head`, connector `sh`,
# losses `loss_*_head` -- so the fragments combine without clashes).
#
# Which module. mmseg's ASPPHead and PSPHead end in `bottleneck`, an mmcv
# ConvModule (conv -> bn -> ReLU(inplace=True)): `decode_head.bottleneck` is
# the post-ReLU feature, `decode_head.bottleneck.bn` the pre-activation one.
# FCNHead ends in `conv_cat` (concat_input=True) or the last of `convs`
# (`decode_head.convs.1` for num_convs=2): the same `.bn` suffix gives the
# pre-activation feature. The BN output is changed in place by the ReLU
# that follows, so the pre-activation recorders need `clone=True` (the
# recorder refuses an output modified after recording).
#
# Channels. The heads differ: the R101 VOC config's ASPP head has
# channels=512, the R18 student config (mmseg's own R18 DeepLabV3 setting)
# channels=128. So, unlike what one might expect from the shared ASPP
# design, a connector is needed: one shared 1x1 conv + BN `sh` (128 -> 512),
# used by both losses (embed=False, the paper's plain inner products, as
# swtat_layer4). The map is stride 8 like layer4 (64x64 at a 512 crop):
# the same 8x8 windows, shift 4, one 2x2 patch merge.
#
# Weights: d = z = 0.1, the official TaT-seg VOC alpha, as swtat_layer4,
# and the best of the accuracy benchmark's sweep for this placement (0.03 /
# 0.1 / 0.3 on seed 0: +-0.0 / +2.6 / +1.4 mIoU). Measured there
# (docs/accuracy.md, 3 seeds): +1.90 +- 0.58 mIoU over the undistilled
# student, paired, and +1.75 +- 1.09 over the same loss on layer4.
# The pre-activation variant scored lower on seed 0 (+0.1 vs +2.6).
swtat_head = dict(
    student_recorders=dict(head='decode_head.bottleneck'),
    teacher_recorders=dict(head='decode_head.bottleneck'),
    connectors=dict(
        sh=dict(
            type='mmswtat.ConvBNConnector', in_channels=128,
            out_channels=512)),
    distill_losses=dict(
        loss_swtat_head=dict(
            type='mmswtat.SWTaTLoss',
            student_channels=512,
            teacher_channels=512,
            window_size=8,
            shift_size=4,
            embed=False,
            loss_weight=0.1),
        loss_pmtat_head=dict(
            type='mmswtat.PatchMergeTaTLoss',
            student_channels=512,
            teacher_channels=512,
            num_merges=1,
            embed=False,
            loss_weight=0.1)),
    loss_forward_mappings=dict(
        loss_swtat_head=dict(
            student=dict(recorder='head', connector='sh'), teacher='head'),
        loss_pmtat_head=dict(
            student=dict(recorder='head', connector='sh'), teacher='head')))

# The pre-activation feature (the official code's choice): the BN output of
# the head's bottleneck, copied before the in-place ReLU.
swtat_head_preact = dict(
    swtat_head,
    student_recorders=dict(
        head=dict(module='decode_head.bottleneck.bn', clone=True)),
    teacher_recorders=dict(
        head=dict(module='decode_head.bottleneck.bn', clone=True)))
