# Classification distillation for mmpretrain ImageClassifiers with a ResNet
# backbone: SW-TaT on backbone `layer4` + Hinton KD (KL divergence) on the
# logits of `head.fc`. Both ResNet-34 and ResNet-18 end in 512 channels.
#
# SW-TaT in the paper's form: plain inner products between the raw teacher
# and student layer4 features (`embed=False`: Q = T, K = V = S, target T);
# both have 512 channels, so no connector is needed (`embed=True` adds
# learned 1x1 conv + BN query/key/value embeddings).
#
# Mix into a classification config with
#     model = dict(..., distill={{_base_.swtat_cls_layer4_kd}})
# A config inheriting that one can change single values by a dict merge,
# e.g. model = dict(distill=dict(distill_losses=dict(loss_kd=dict(tau=4.0)))).
#
# Windows (ImageNet, 224x224 input -> 7x7 layer4 map, stride 32).
#   window 4, shift 2: the 7x7 map is zero-padded to 8x8 and cut into 2x2 =
#   4 windows (4x4, 4x3, 3x4, 3x3 real tokens; padded keys are masked out).
#   The shifted pass rolls by 2 (half a window) so that the centre row and
#   column, which the plain pass splits, are attended across; with only 4
#   windows the union of both passes lets every token reach every token within
#   a distance of about 3 cells, i.e. most of the image. That keeps the
#   patch-group ("local") character of SW-TaT on a map too small for the 8x8
#   windows used on segmentation maps. Costs are negligible at 49 tokens.
#   window 7 (or any >= 7) clamps to the map: one window, no shift, i.e.
#   plain global TaT -- the setting of the original TaT paper at this size.
#   At other input sizes the same settings clamp/pad automatically (e.g. a
#   160px input gives 5x5 maps: 4 padded windows; 128px: 4x4, one window).
#
# Loss weights (the paper's L = a*L_task + b*L_KL + e*L_SW):
#   a = 1   the student's own CrossEntropyLoss (head.loss.loss_weight=1, from
#           mmpretrain's config, logged as `loss`).
#   b = 1   `loss_kd`, KDLoss with tau = 1 (the usual ImageNet temperature
#           for ResNet-34 -> ResNet-18 logit KD; tau^2 is applied inside).
#   e = 1   `loss_swtat`; it starts at the scale of the teacher's mean
#           squared layer4 activation.
# These are starting points, not values reproduced here (no ImageNet run was
# made with this repository); raise e (up to ~5) if `loss_swtat` plateaus
# while `loss` still falls.
swtat_cls_layer4_kd = dict(
    student_recorders=dict(feat='backbone.layer4', logits='head.fc'),
    teacher_recorders=dict(feat='backbone.layer4', logits='head.fc'),
    distill_losses=dict(
        loss_swtat=dict(
            type='mmswtat.SWTaTLoss',
            student_channels=512,
            teacher_channels=512,
            window_size=4,
            shift_size=2,
            embed=False,
            loss_weight=1.0),
        loss_kd=dict(type='mmswtat.KDLoss', tau=1.0, loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_swtat=dict(student='feat', teacher='feat'),
        loss_kd=dict(student='logits', teacher='logits')))
