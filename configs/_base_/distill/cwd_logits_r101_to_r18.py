# Channel-wise distillation (CWD, Shu et al., ICCV 2021) on the decode-head
# logits (peer method), DeepLabV3 R101-D8 teacher -> R18-D8 student.
#
# Mix into a config with
#     model = dict(..., distill={{_base_.cwd_logits}})
#
# L_cwd = tau^2 / (N C) * sum_{n,c} KL(softmax_hw(z_t,nc / tau) ||
# softmax_hw(z_s,nc / tau)): each class map is a distribution over pixels.
# Hyperparameters: tau = 4, weight 3, from CIRKD (winycg/CIRKD, train_kd.py:
# CriterionCWD(norm_type='channel', divergence='kl', temperature=4.);
# train_scripts/train_kd/train_cwd.sh: --lambda-cwd-logit 3.), run on this
# exact DeepLabV3 R101 -> R18 pair. The CWD authors' mmseg code
# (pppppM/mmsegmentation-distiller) and MMRazor's config use tau = 1,
# weight 5 for PSPNet R101 -> R18 on Cityscapes; same loss, same N*C
# normalisation.
cwd_logits = dict(
    student_recorders=dict(logits='decode_head.conv_seg'),
    teacher_recorders=dict(logits='decode_head.conv_seg'),
    distill_losses=dict(
        loss_cwd=dict(
            type='mmswtat.ChannelWiseDivergence', tau=4.0, loss_weight=3.0)),
    loss_forward_mappings=dict(
        loss_cwd=dict(student='logits', teacher='logits')))
