# Distil ResNet-34 (ImageNet-1k top-1 73.62 / top-5 91.59, mmpretrain model
# zoo) into ResNet-18 (stock mmpretrain baseline 69.90 / 89.43) with SW-TaT on
# backbone layer4 + KL divergence on the logits:
#     L = a * CE + b * KL(tau) + e * SW-TaT,   a = b = e = 1, tau = 1
# (see configs/_base_/distill/swtat_cls_layer4_kd.py for the windows and the
# weights). Data, pipeline, schedule (SGD lr 0.1, 100 epochs, steps at
# 30/60/90, batch 8x32) and runtime are mmpretrain's own for ResNet-18, i.e.
# those of the undistilled baseline.
_base_ = [
    'mmpretrain::resnet/resnet18_8xb32_in1k.py',
    '../_base_/distill/swtat_cls_layer4_kd.py',
]
custom_imports = dict(imports=['mmswtat'], allow_failed_imports=False)
# Exact --resume: also restore the torch RNG (dropout) state.
custom_hooks = [dict(type='mmswtat.RNGStateHook')]

student_cfg = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
teacher_cfg = 'mmpretrain::resnet/resnet34_8xb32_in1k.py'
# From mmpretrain's configs/resnet/metafile.yml (resnet34_8xb32_in1k).
teacher_ckpt = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet34_8xb32_in1k_20210831-f257d4e6.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='mmswtat.SingleTeacherDistiller',
    # The stock mmpretrain ResNet-18 config, unchanged: an exported student
    # is tested with it by mmpretrain's own tools/test.py.
    student=dict(cfg_path=student_cfg),
    teacher=dict(cfg_path=teacher_cfg),
    teacher_ckpt=teacher_ckpt,
    # 'auto' runs the teacher with mode='tensor' (head.fc is recorded, which
    # extract_feat does not reach); it stops right after head.fc.
    teacher_forward='auto',
    distill={{_base_.swtat_cls_layer4_kd}})
