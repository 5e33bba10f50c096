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
# Weights: d = z = 0.1. Not "the official alpha": the official TaT-seg code
# divides its CE by the batch size twice, so its VOC weights relative to a
# CE of weight 1 are 1.6 (patch-group) and 0.64 (anchor), 9.6 on
# COCO-Stuff. Measured on the accuracy benchmark's digit scenes
# (docs/accuracy.md, 6 December 2026; 300-iteration students, seed 0 sweep
# over global pass x window x weight): this structure gains +1.2 / +1.1 at
# 0.1 / 0.3 and loses -1.6 / -2.9 at 1 / 3 (near the official relative
# weight); every form with attention (windows of 2 or 4, a patch-merging or
# an anchor pass) is at or below the undistilled student from weight 1 up,
# while plain regression of the same feature (window 1, no global pass =
# FitNet, fitnet_head) gains +2.1 / +4.1 at 1 / 3. Over 5 seeds (paired):
# this structure at 0.1 -0.8 +- 2.1, the sweep's best SW-TaT form (patch
# merging, window 1, 0.1) +0.2 +- 1.3, FitNet on this feature at 3
# +3.1 +- 1.1: for feature distillation on this pair use fitnet_head (or
# the shipped recipe, CWD: configs/swtat/deeplabv3_r101_to_r18_voc.py).
# The structure stays the paper's (windows, shifted windows, patch
# merging); variants are one call away:
# mmswtat.recipes.swtat_variant(swtat_head, global_pass='anchor').
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
