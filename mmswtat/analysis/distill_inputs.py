"""A distillation checkpoint, one image, and the inputs of its losses.

The library side of ``tools/analysis/visualize_distill.py``: build the
distiller of a config and load a ``tools/train.py`` checkpoint into it, put
one image through the config's test pipeline and the model's preprocessor,
run teacher and student up to their recorded layers and pair the features
each distillation loss receives. Errors are raised with a message that names
the fix; the tool prints them.
"""
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config
from torch import Tensor

from mmswtat.models.losses import BaseTaTLoss
from mmswtat.utils import build_runner_model
from mmswtat.utils.checkpoint import (extract_state_dict, load_checkpoint_file,
                                      load_state, student_weights)

LossInput = Tuple[str, BaseTaTLoss, Tensor, Tensor]


def build_distiller(cfg: Config, checkpoint: str, device: str):
    """The config's distiller with ``checkpoint`` loaded, in eval mode.

    Args:
        cfg: A distillation config.
        checkpoint: A ``tools/train.py`` checkpoint of it (``student.*`` and
            ``distill_losses.*`` keys).
        device: Where to put the model.

    Raises:
        FileNotFoundError, RuntimeError: Building failed (e.g. the teacher
            weights cannot be loaded).
        ValueError: ``checkpoint`` is not a distillation checkpoint of this
            config.
    """
    model = build_runner_model(cfg)
    state = extract_state_dict(
        load_checkpoint_file(checkpoint, 'distillation'), checkpoint,
        'distillation')
    student_weights(
        state, checkpoint, 'a plain or exported student '
        'checkpoint cannot show the distillation losses')
    try:
        load_state(
            model,
            state,
            checkpoint,
            'distillation',
            fix='Use the config it was trained with (and the same '
            '--cfg-options).')
    except RuntimeError as e:
        raise ValueError(str(e)) from None
    return model.to(device).eval()


def image_pipeline(cfg: Config) -> list:
    """The config's test (or val) pipeline without annotation loading.

    Raises:
        ValueError: The config has no such pipeline.
    """
    for loader in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        while 'pipeline' not in dataset and 'dataset' in dataset:
            dataset = dataset['dataset']
        if dataset.get('pipeline'):
            pipeline = dataset['pipeline']
            break
    else:
        pipeline = cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError('the config has no test_dataloader/val_dataloader '
                         'pipeline to load the image with')
    return [t for t in pipeline if 'Annotations' not in str(t.get('type'))]


def load_image(cfg: Config, model, image: str):
    """Preprocessed batch of one image and the picture of it the model saw.

    Returns:
        ``(inputs (1, 3, H_in, W_in), data_samples, picture (H_in, W_in, 3)
        uint8 RGB)``.
    """
    from mmengine.dataset import Compose
    data = Compose(image_pipeline(cfg))(dict(img_path=image))
    batch = model.data_preprocessor(
        dict(inputs=[data['inputs']], data_samples=[data['data_samples']]),
        training=False)
    inputs = batch['inputs']
    raw = data['inputs'].cpu().numpy().transpose(1, 2, 0)
    raw = raw[..., ::-1] if raw.shape[-1] == 3 else np.repeat(
        raw[..., :1], 3, -1)  # the pipeline loads BGR
    picture = np.zeros((*inputs.shape[-2:], 3), np.uint8)
    h, w = min(raw.shape[0], picture.shape[0]), min(raw.shape[1],
                                                    picture.shape[1])
    picture[:h, :w] = raw[:h, :w]
    return inputs, batch['data_samples'], picture


def record_features(model, inputs: Tensor, data_samples) -> Tuple[dict, dict]:
    """Run the teacher and the student up to their recorded layers.

    Returns:
        ``(student records, teacher records)``.

    Raises:
        RuntimeError: A recorder was not reached
            (:meth:`SingleTeacherDistiller.record_features`).
    """
    return model.record_features(inputs, data_samples)


def loss_inputs(model,
                student_rec: dict,
                teacher_rec: dict,
                wanted: Optional[List[str]] = None,
                log: Callable[[str], None] = print) -> List[LossInput]:
    """The (student, teacher) features of every TaT-type loss and level.

    Args:
        model: The distiller.
        student_rec, teacher_rec: From :func:`record_features`.
        wanted: Only these distillation losses (default: all).
        log: Where skipped (not TaT-type) losses are reported.

    Returns:
        ``[(folder name, loss module, student, teacher), ...]``, the folder
        name ``<loss>`` or ``<loss>_level<i>`` for a multi-level loss.

    Raises:
        ValueError: ``wanted`` names a loss the config does not have.
    """
    names = list(model.distill_losses)
    if wanted:
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise ValueError(f'--losses {unknown} are not distillation '
                             f'losses of this config; it has {names}')
        names = [n for n in names if n in wanted]
    out = []
    with torch.no_grad():
        for item in model.loss_bank.loss_inputs(student_rec, teacher_rec,
                                                names):
            folder = item.name if item.level is None else \
                f'{item.name}_level{item.level}'
            if not isinstance(item.module, BaseTaTLoss):
                log(f'{folder}: {type(item.module).__name__} is not a '
                    'TaT-type loss, skipped')
                continue
            out.append((folder, item.module, item.student, item.teacher))
    return out
