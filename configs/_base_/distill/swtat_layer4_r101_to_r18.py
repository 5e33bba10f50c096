# SW-TaT + patch-merging distillation of ResNet `layer4`, for dilated (D8)
# backbones: ResNet-101 teacher (2048 ch) -> ResNet-18 student (512 ch).
#
# Mix into any config with
#     model = dict(..., distill={{_base_.swtat_layer4}})
#
# Windows. A 512x512 crop gives a 64x64 layer4 map (stride 8). 8x8 windows
# (64 tokens each, 64 windows) cover a 64x64-pixel patch, about one object
# part in VOC; the shifted pass (shift 4 = half a window) links neighbouring
# windows so no border is left without cross-window attention. Attention
# memory is B*N*64 instead of B*N^2 (N = 4096): 64x less than global TaT.
# Patch merging: 'auto' merges 2x2 until at most 1024 tokens remain (64x64 ->
# 32x32 here; one setting also serves other crop sizes) and runs a global
# TaT on them, for the long-range part that windows cannot see.
#
# Weights (the paper's L = a*L_CE + d*L_SW + z*L_PM, a = 1 from mmseg's
# decode head): d = z = 1. With the default 1x1 conv+BN embeddings both terms
# start at the scale of the teacher's mean squared activation, of the order
# of the CE loss; raise them (up to ~5) if the distillation terms plateau
# while CE still falls. `scale=1.0` is the paper's plain inner product; try
# scale='auto' (1/sqrt(d)) if the attention saturates.
swtat_layer4 = dict(
    student_recorders=dict(feat='backbone.layer4'),
    teacher_recorders=dict(feat='backbone.layer4'),
    distill_losses=dict(
        loss_swtat=dict(
            type='mmswtat.SWTaTLoss',
            student_channels=512,
            teacher_channels=2048,
            window_size=8,
            shift_size=4,
            loss_weight=1.0),
        loss_pmtat=dict(
            type='mmswtat.PatchMergeTaTLoss',
            student_channels=512,
            teacher_channels=2048,
            num_merges='auto',
            max_tokens=1024,
            loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_swtat=dict(student='feat', teacher='feat'),
        loss_pmtat=dict(student='feat', teacher='feat')))
