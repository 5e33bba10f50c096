# Hinton KD on the decode-head logits (peer method), DeepLabV3 R101-D8
# teacher -> R18-D8 student (both output 21 VOC classes at stride 8).
#
# Mix into a config with
#     model = dict(..., distill={{_base_.kd_logits}})
#
# L_kd = tau^2 * mean over pixels of KL(softmax(z_t / tau) || softmax(z_s /
# tau)), the per-pixel KD of the segmentation KD literature.
# Hyperparameters: tau = 1, weight 1, from CIRKD (winycg/CIRKD, train_kd.py:
# --kd-temperature 1.0, train_scripts/train_kd: --lambda-kd 1.0), the
# protocol for this exact DeepLabV3 R101 -> R18 pair that DIST's
# segmentation code (hunto/DIST_KD) also uses. (tau = 4 is Hinton's usual
# classification setting, not the segmentation one.)
# Ignored pixels: KDLoss takes valid_mask (N, H, W); the distiller does not
# pass it yet, so ignore_index pixels (VOC borders) count like CIRKD's.
kd_logits = dict(
    student_recorders=dict(logits='decode_head.conv_seg'),
    teacher_recorders=dict(logits='decode_head.conv_seg'),
    distill_losses=dict(
        loss_kd=dict(type='mmswtat.KDLoss', tau=1.0, loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_kd=dict(student='logits', teacher='logits')))
