"""Random raw segmentation batches, as an mmseg dataloader yields them."""
from typing import Dict

import torch


def random_seg_batch(batch: int,
                     size: int,
                     num_classes: int,
                     seed: int = 0,
                     ignore_rows: int = 0) -> Dict[str, list]:
    """uint8 ``(3, size, size)`` images and ``SegDataSample`` labels.

    Args:
        batch: Number of samples.
        size: Square image side.
        num_classes: Labels are drawn from ``[0, num_classes)``.
        seed: Seed of the generator (images, then labels, per sample).
        ignore_rows: Top rows labelled 255 (ignored), as VOC borders are.

    Returns:
        ``dict(inputs=[...], data_samples=[...])`` for a data preprocessor.
    """
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(
            torch.randint(
                0, 256, (3, size, size), generator=g, dtype=torch.uint8))
        label = torch.randint(0, num_classes, (1, size, size), generator=g)
        label[:, :ignore_rows] = 255
        sample = SegDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size)))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
