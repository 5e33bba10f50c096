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
# Ignored pixels: CIRKD's CriterionKD (losses/kd.py) averages the KL over
# every pixel, ignore_index ones (VOC borders, crop padding) included, so
# this fragment does too. To skip them, add valid_mask=True (the student
# decode head's ignore_index) or valid_mask=dict(ignore_index=255) to the
# loss_kd mapping entry below: the KL is then averaged over the pixels whose
# gt_sem_seg label is not ignored (nearest-resized to the logits' grid).
kd_logits = dict(
    student_recorders=dict(logits='decode_head.conv_seg'),
    teacher_recorders=dict(logits='decode_head.conv_seg'),
    distill_losses=dict(
        loss_kd=dict(type='mmswtat.KDLoss', tau=1.0, loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_kd=dict(student='logits', teacher='logits')))
