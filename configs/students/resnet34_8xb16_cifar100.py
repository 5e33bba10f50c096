# ResNet-34 (CIFAR stem) on CIFAR-100 alone: mmpretrain's ResNet-50 CIFAR-100
# config with a depth-34 backbone. mmpretrain ships no CIFAR-100 ResNet-34
# weights: train the teacher of configs/swtat/resnet_cifar100.py with it,
#     python tools/train.py configs/students/resnet34_8xb16_cifar100.py
# (it is also the ResNet-34 baseline).
_base_ = 'mmpretrain::resnet/resnet50_8xb16_cifar100.py'
model = dict(backbone=dict(depth=34), head=dict(in_channels=512))
