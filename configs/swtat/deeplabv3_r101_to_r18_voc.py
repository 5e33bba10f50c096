# Distil DeepLabV3 R101-D8 (VOC12aug, mIoU 78.7) into DeepLabV3 R18-D8 with
# the recipe that made the best student in our accuracy benchmark
# (docs/accuracy.md, 6 December 2026): CWD on the decode-head logits. Data,
# schedule and runtime are mmseg's own for the teacher config.
#
# Which measurement chose it (real digit scenes, 300-iteration students,
# same initialisation for every method, 5 seeds, paired): CWD +11.0 mIoU
# over the undistilled student; SW-TaT(head) + CWD and FitNet(head) + CWD
# within 0.1 mIoU of it (SW-TaT or FitNet add nothing measurable on top of
# CWD there); the best pure SW-TaT form +0.2 and FitNet on the same
# feature +3.1. All cost about 1.5x the undistilled step (the teacher's
# forward). So the recipe is CWD alone, the simplest of the three (one
# loss, no connector). Weight 3, tau 4: the fragment's, CIRKD's on this
# exact pair on real VOC (the benchmark's 300-iteration optimum was 9).
#
# SW-TaT stays one line away: distill=[{{_base_.swtat_head}},
# {{_base_.cwd_logits}}] (the earlier default), the _layer4 configs (pure
# SW-TaT + PM on layer4, the paper's placement), or
# deeplabv3_r101_to_r18_voc_embed.py.
# Everything but the distillation (data, schedule, teacher, student) is the
# layer4 config's.
_base_ = [
    './deeplabv3_r101_to_r18_voc_layer4.py',
    '../_base_/distill/cwd_logits_r101_to_r18.py',
]

# teacher_precision='auto': the teacher's no-grad forward in bf16 where the
# device runs it fast (CUDA with bf16, CPUs with avx512_bf16/amx_bf16), else
# fp32. Measured with the earlier recipe (SW-TaT(head) + CWD) on an
# avx512_bf16 CPU (docs/accuracy.md): 1.34x faster per step, mIoU -1.2 +-
# 4.0 paired over 3 seeds against the fp32 teacher, within the seed-to-seed
# spread. `distill` is a list (a recipe of one fragment): it replaces the
# layer4 config's SW-TaT fragment instead of merging into it.
model = dict(distill=[{{_base_.cwd_logits}}], teacher_precision='auto')
