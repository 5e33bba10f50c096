"""``predictions.png`` of the demo: what distillation changes in a mask."""
import os.path as osp
from typing import Dict, List

import numpy as np

#: Columns of the figure.
COLUMNS = ('image', 'ground truth', 'teacher', 'undistilled student',
           'distilled student')


def val_scenes(data_root: str, num: int) -> List[str]:
    """The first ``num`` validation scene ids of a digit-scene VOC root."""
    with open(osp.join(data_root, 'ImageSets', 'Segmentation',
                       'val.txt')) as f:
        return [line.strip() for line in f if line.strip()][:num]


def predict(config: str,
            checkpoint: str,
            images: List[str],
            model_key: str = 'model') -> List[np.ndarray]:
    """Label maps ``(H, W)`` of a segmentor config + checkpoint (mmseg's
    ``init_model`` / ``inference_model``); ``model_key='student'`` takes a
    distillation config's student (an exported checkpoint)."""
    from mmengine.config import Config
    from mmseg.apis import inference_model, init_model
    cfg = Config.fromfile(config)
    # the pipeline the model was tested with (inference_model reads
    # test_pipeline; configs written before it was set carry the VOC one)
    cfg.test_pipeline = cfg.test_dataloader.dataset.pipeline
    if model_key == 'student':
        cfg.model = cfg.model.student
    model = init_model(cfg, checkpoint, device='cpu')
    return [
        inference_model(model, img).pred_sem_seg.data[0].numpy()
        for img in images
    ]


def draw_predictions(configs: Dict[str, str], ckpts: Dict[str, str],
                     data_root: str, out: str, num: int) -> str:
    """Image, ground truth, teacher, undistilled and distilled student for
    ``num`` validation scenes, in the dataset's palette with a legend.

    Args:
        configs: ``teacher``, ``distilled`` (a distillation config) and
            ``undistilled`` config files.
        ckpts: Their checkpoints (``distilled``: the exported student).
        data_root: The digit-scene VOC root.
        out: The PNG.
        num: Scenes (rows).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from PIL import Image

    from mmswtat.benchmark.data.digit_scenes import (DIGIT_SCENE_CLASSES,
                                                     DIGIT_SCENE_PALETTE)
    ids = val_scenes(data_root, num)
    images = [osp.join(data_root, 'JPEGImages', f'{i}.jpg') for i in ids]
    truth = [
        np.array(
            Image.open(osp.join(data_root, 'SegmentationClass', f'{i}.png')))
        for i in ids
    ]
    preds = dict(
        teacher=predict(configs['teacher'], ckpts['teacher'], images),
        undistilled=predict(configs['undistilled'], ckpts['undistilled'],
                            images),
        distilled=predict(configs['distilled'], ckpts['distilled'], images,
                          'student'))
    palette = np.array(
        DIGIT_SCENE_PALETTE + [[255, 255, 255]] * 245,
        dtype=np.uint8)  # 255 (ignore) white
    fig, axes = plt.subplots(
        len(ids), len(COLUMNS), figsize=(2.0 * len(COLUMNS), 2.0 * len(ids)))
    axes = np.atleast_2d(axes)
    for r in range(len(ids)):
        panels = [
            np.array(Image.open(images[r]).convert('RGB')), palette[truth[r]],
            palette[preds['teacher'][r]], palette[preds['undistilled'][r]],
            palette[preds['distilled'][r]]
        ]
        for c, panel in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(panel, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(COLUMNS[c], fontsize=10)
    handles = [
        Patch(facecolor=np.array(rgb) / 255, edgecolor='grey', label=name)
        for name, rgb in zip(DIGIT_SCENE_CLASSES, DIGIT_SCENE_PALETTE)
    ]
    fig.legend(
        handles=handles,
        loc='lower center',
        ncol=len(handles) // 2 + 1,
        fontsize=8,
        frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
