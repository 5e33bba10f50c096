"""Datasets of mmswtat.

Nothing here is registered: training uses the stock OpenMMLab dataset
classes. :mod:`mmswtat.datasets.synthetic` writes tiny learnable datasets in
their real on-disk formats (numpy and Pillow only, no OpenMMLab import);
:mod:`mmswtat.datasets.digit_scenes` builds segmentation scenes from real
data that scikit-learn ships (handwritten digits on photographs), in the VOC
layout, for the accuracy benchmark; :mod:`mmswtat.datasets.digit_det_scenes`
annotates the same kind of scenes with boxes, in COCO format, for detection.
"""
