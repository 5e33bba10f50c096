# Distil DeepLabV3 R101-D8 (VOC12aug, mIoU 78.7) into DeepLabV3 R18-D8 with
# the recipe that made the best student in our accuracy benchmark
# (docs/accuracy.md, issue 19): SW-TaT + patch merging on the decode head's
# last feature (`decode_head.bottleneck`, where the official TaT-seg code
# distils) plus CWD on the logits. Data, schedule and runtime are mmseg's own
# for the teacher config.
#
# Which measurement chose it: on real digit scenes (300-iteration students,
# same initialisation for every method), SW-TaT(head) + CWD was the best
# SW-TaT recipe and the best method of the table; pure SW-TaT on the head
# beat pure SW-TaT on layer4; see docs/accuracy.md for the numbers, the
# seeds and where CWD alone is as good.
# Weights: each fragment's published one (SW-TaT d = z = 0.1, the official
# TaT-seg VOC alpha; CWD 3, tau 4, CIRKD on this exact pair). The
# benchmark's short schedule preferred 3x both (0.3 + 9); that is a
# 300-iteration optimum on a toy task, so the shipped config keeps the
# weights measured on this pair by their authors.
#
# Pure SW-TaT stays one line away: deeplabv3_r101_to_r18_voc_layer4.py (the
# paper's backbone placement, this package's earlier default), or
#     distill={{_base_.swtat_head}}
# for SW-TaT on the head alone.
# Everything but the distillation (data, schedule, teacher, student) is the
# layer4 config's.
_base_ = [
    './deeplabv3_r101_to_r18_voc_layer4.py',
    '../_base_/distill/swtat_head_r101_to_r18.py',
    '../_base_/distill/cwd_logits_r101_to_r18.py',
]

# A recipe: a list of fragments, merged by the distiller name by name.
# teacher_precision='auto': the teacher's no-grad forward in bf16 where the
# device runs it fast (CUDA with bf16, CPUs with avx512_bf16/amx_bf16), else
# fp32. Measured with this recipe on an avx512_bf16 CPU (docs/accuracy.md):
# 1.34x faster per step, mIoU -1.2 +- 4.0 paired over 3 seeds against the
# fp32 teacher, within the recipe's seed-to-seed spread.
model = dict(
    distill=[{{_base_.swtat_head}}, {{_base_.cwd_logits}}],
    teacher_precision='auto')
