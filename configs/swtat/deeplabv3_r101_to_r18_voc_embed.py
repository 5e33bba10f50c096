# deeplabv3_r101_to_r18_voc_layer4.py with learned query/key/value
# embeddings per loss (embed=True: Q = phi_q(T), K = phi_k(S),
# V = phi_v(S), 1x1 conv + BN each; the target stays the raw teacher T)
# instead of the paper's plain inner products through one shared
# connector. Costs more per step (see docs/performance.md); everything else
# is the same.
_base_ = ['./deeplabv3_r101_to_r18_voc_layer4.py']

model = dict(distill={{_base_.swtat_layer4_embed}})
