# ResNet-18 (CIFAR stem) on CIFAR-100 alone: mmpretrain's ResNet-50 CIFAR-100
# config (data, 200-epoch schedule, runtime) with a depth-18 backbone, as
# mmpretrain's resnet18_8xb16_cifar10.py is for CIFAR-10. The undistilled
# baseline, the student of configs/swtat/resnet_cifar100.py and the config an
# exported student is tested with by mmpretrain's own tools/test.py.
_base_ = 'mmpretrain::resnet/resnet50_8xb16_cifar100.py'
model = dict(backbone=dict(depth=18), head=dict(in_channels=512))
