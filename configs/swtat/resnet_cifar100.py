# Distil a ResNet-34 into a ResNet-18 on CIFAR-100 (mmpretrain ResNet_CIFAR:
# 3x3 stride-1 stem, no max-pool) with SW-TaT on backbone layer4 + KL
# divergence on the logits:
#     L = a * CE + b * KL(tau) + e * SW-TaT,   a = b = e = 1, tau = 4.
# The teacher is your own: mmpretrain has no CIFAR-100 ResNet-34 weights.
# Train it first (200 epochs, ~1 GPU-hour),
#     python tools/train.py configs/students/resnet34_8xb16_cifar100.py
# and point teacher_ckpt at the result (the default below is where that
# command puts it), or pass --cfg-options model.teacher_ckpt=PATH.
# Data, pipeline, schedule (SGD lr 0.1, wd 5e-4, 200 epochs, steps at
# 60/120/160, batch 8x16) and runtime are mmpretrain's CIFAR-100 ones, as in
# the undistilled student baseline configs/students/resnet18_8xb16_cifar100.py.
#
# Windows. A 32x32 image gives a 4x4 layer4 map (stride 8). Window 2, shift 1:
# four 2x2 windows of 4 tokens and a pass shifted by one cell that joins the
# 2x2 blocks across the centre lines (window 4 would clamp to the map: global
# TaT, as in the original TaT paper).
# Weights: a = 1 (the student's CrossEntropyLoss from mmpretrain's config,
# logged as `loss`); b = 1 with tau = 4, the usual CIFAR-100 KD temperature
# (tau^2 = 16 is applied inside KDLoss, so `loss_kd` is of the order of
# CE); e = 1 for `loss_swtat`. Starting points, not tuned here.
_base_ = '../students/resnet18_8xb16_cifar100.py'
custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)
# Exact --resume: also restore the torch RNG (dropout) state.
custom_hooks = [dict(type='mmswtat.RNGStateHook')]

student_cfg = 'mmswtat::students/resnet18_8xb16_cifar100.py'
teacher_cfg = 'mmswtat::students/resnet34_8xb16_cifar100.py'
teacher_ckpt = 'work_dirs/resnet34_8xb16_cifar100/epoch_200.pth'

model = dict(
    _delete_=True,
    type='mmswtat.SingleTeacherDistiller',
    student=dict(cfg_path=student_cfg),
    teacher=dict(cfg_path=teacher_cfg),
    teacher_ckpt=teacher_ckpt,
    teacher_forward='auto',  # mode='tensor', stopped after head.fc
    student_recorders=dict(feat='backbone.layer4', logits='head.fc'),
    teacher_recorders=dict(feat='backbone.layer4', logits='head.fc'),
    distill_losses=dict(
        loss_swtat=dict(
            type='mmswtat.SWTaTLoss',
            student_channels=512,
            teacher_channels=512,
            window_size=2,
            shift_size=1,
            embed=False,  # the paper's plain inner products (512 = 512)
            loss_weight=1.0),
        loss_kd=dict(type='mmswtat.KDLoss', tau=4.0, loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_swtat=dict(student='feat', teacher='feat'),
        loss_kd=dict(student='logits', teacher='logits')))
