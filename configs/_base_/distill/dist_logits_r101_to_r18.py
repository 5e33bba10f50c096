# DIST (Huang et al., NeurIPS 2022) on the decode-head logits (peer method),
# DeepLabV3 R101-D8 teacher -> R18-D8 student.
#
# Mix into a config with
#     model = dict(..., distill={{_base_.dist_logits}})
#
# L = beta * (1 - mean_pixel rho(p_s, p_t)) + gamma * (1 - mean_class
# rho(p_s[:, c], p_t[:, c])), rho the Pearson correlation, p = softmax over
# classes; one row per pixel of the whole batch.
# Hyperparameters: beta = gamma = 1, tau = 1, weight 1, from the official
# code (hunto/DIST_KD segmentation/train_kd.py: DIST() with its defaults
# beta=1, gamma=1, no temperature; --lambda-kd 1.), which reached 77.10 mIoU
# on Cityscapes for this pair. The official run also applies 0.4 * DIST to
# the auxiliary head's logits; add it with a second loss on
# 'auxiliary_head.conv_seg' if wanted.
dist_logits = dict(
    student_recorders=dict(logits='decode_head.conv_seg'),
    teacher_recorders=dict(logits='decode_head.conv_seg'),
    distill_losses=dict(
        loss_dist=dict(
            type='mmswtat.DISTLoss',
            beta=1.0,
            gamma=1.0,
            tau=1.0,
            loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_dist=dict(student='logits', teacher='logits')))
