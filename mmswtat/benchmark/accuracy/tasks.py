"""The benchmark's task switch: what differs between segmentation and
detection, behind one interface the harness (:mod:`.runs`, :mod:`.bench`,
:mod:`.report`) calls.

A task knows its data writer, its models and run configs, its methods and
their weights, and the figures its test reports. Everything else (caching,
pretraining, the same student initialisation for every method, seeds,
sweeps, reuse, reports) is shared.
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

from .settings import BenchmarkSettings


class SegTask:
    """Semantic segmentation: DeepLabV3 ResNet-D8 on the VOC digit scenes,
    scored by mIoU."""
    name = 'seg'
    #: Figures of a test; the first ranks the methods.
    metrics: Tuple[str, ...] = ('mIoU', 'aAcc', 'mAcc')
    #: Figures shown in the report (mean ± std each).
    shown: Tuple[str, ...] = ('mIoU', )
    title = 'digit scenes'
    #: Whether the student's run config names its pretrained backbone (its
    #: weights come from the shared initialisation either way). The
    #: segmentor's ``pretrained=`` changes nothing but the random stream.
    runs_with_backbone = False

    # ---------------------------------------------------------------- data
    def write_data(self, settings, directory: str) -> str:
        from mmswtat.datasets.digit_scenes import write_digit_scenes
        write_digit_scenes(osp.join(directory, 'VOC'), settings.data)
        return osp.join(directory, 'VOC')

    def data_root(self, directory: str) -> str:
        return osp.join(directory, 'VOC')

    data_kind = 'digit-scenes'

    # -------------------------------------------------------------- models
    def model(
        self,
        settings,
        role: str,
        backbone: Optional[str] = None,
    ) -> dict:
        """The ``role`` network's config (``backbone``: pretrained
        weights)."""
        from .configs import seg_model
        return seg_model(
            getattr(settings, role), settings.data.size, backbone,
            settings.background_weight)

    def teacher_key(self, settings) -> dict:
        """What the trained teacher depends on beyond data and pretraining.
        """
        return dict(
            net=settings.teacher.__dict__,
            train=settings.teacher_train.__dict__,
            background_weight=settings.background_weight)

    def student_key(self, settings) -> dict:
        """What a student initialisation depends on beyond its network,
        data and pretraining (nothing for segmentation: keys as before)."""
        return {}

    def run_config(self,
                   model: dict,
                   settings,
                   train,
                   data_root: str,
                   work_dir: str,
                   seed: int,
                   save_checkpoint: bool = False,
                   load_from: Optional[str] = None):
        from .configs import run_config
        return run_config(model, settings, train, data_root, work_dir, seed,
                          save_checkpoint, load_from)

    def distiller(self,
                  settings,
                  distill,
                  teacher_ckpt: str,
                  student_ckpt: str,
                  backbone: Optional[str] = None) -> dict:
        from .configs import distiller_model
        return distiller_model(settings, distill, teacher_ckpt, student_ckpt)

    # ------------------------------------------------------------- methods
    def check_methods(self, names: Sequence[str]) -> None:
        from .methods import check_methods
        check_methods(names)

    def distill_config(self, name: str, settings, weight: Optional[float],
                       knobs: dict) -> Union[None, dict, list]:
        from .methods import distill_config
        return distill_config(name, settings, weight, knobs)

    def published_weight(self, name: str) -> Optional[float]:
        from .methods import published_weight
        return published_weight(name)

    @property
    def default_methods(self) -> Tuple[str, ...]:
        from .methods import DEFAULT_METHODS
        return DEFAULT_METHODS

    @property
    def method_knobs(self) -> Dict[str, Sequence[dict]]:
        from .bench import METHOD_KNOBS
        return METHOD_KNOBS

    @property
    def structure_knobs(self) -> Dict[str, Sequence[dict]]:
        """``--structure-sweep``: SW-TaT's forms per method, each crossed
        with every weight factor."""
        from .bench import STRUCTURE_METHODS, SWTAT_STRUCTURE
        return {m: SWTAT_STRUCTURE for m in STRUCTURE_METHODS}

    def label(self, name: str) -> str:
        from .methods import method_label
        return method_label(name)

    def weight_label(self,
                     name: str,
                     weight: Optional[float],
                     knobs: Optional[dict] = None) -> str:
        from .methods import weight_label
        return weight_label(name, weight, knobs)

    # --------------------------------------------------------------- score
    def scores(self, metrics: Dict[str, float]) -> Dict[str, float]:
        """The record's figures from ``runner.test()``'s metrics."""
        return {k: metrics.get(k) for k in self.metrics}


class DetTask:
    """Object detection: the stock RetinaNet R50-FPN shrunk
    (:mod:`.det_configs`) on the COCO-format digit scenes, scored by
    ``CocoMetric``'s bbox mAP (in percent, as mmdet's tables print it)."""
    name = 'det'
    metrics: Tuple[str, ...] = ('bbox_mAP', 'bbox_mAP_50')
    shown: Tuple[str, ...] = ('bbox_mAP', 'bbox_mAP_50')
    title = 'digit detection scenes'
    data_kind = 'digit-det-scenes'
    #: A pretrained RetinaNet backbone keeps the stock frozen stem, layer1
    #: and BN statistics, so the backbone is named in every student config.
    runs_with_backbone = True

    def write_data(self, settings, directory: str) -> str:
        from mmswtat.datasets.digit_det_scenes import write_digit_detection
        from .det_configs import fpn_levels
        write_digit_detection(directory, settings.data,
                              fpn_levels(settings.nets))
        return directory

    def data_root(self, directory: str) -> str:
        return directory

    def model(
        self,
        settings,
        role: str,
        backbone: Optional[str] = None,
    ) -> dict:
        """The detector of ``role``. With ``backbone``, the stock frozen
        stem and layer1 and frozen BN statistics hold (:func:`.det_configs.
        det_model`); the student is always built so, teacher-taught or not.
        """
        from .det_configs import det_model
        return det_model(getattr(settings, role), settings.nets, backbone)

    @staticmethod
    def _nets(settings) -> dict:
        return dict(
            neck_channels=settings.neck_channels,
            anchor_scale=settings.anchor_scale,
            frozen=settings.frozen)

    def teacher_key(self, settings) -> dict:
        return dict(
            net=settings.teacher.__dict__,
            nets=self._nets(settings),
            train=settings.teacher_train.__dict__)

    def student_key(self, settings) -> dict:
        return dict(task=self.name, nets=self._nets(settings))

    def run_config(self,
                   model: dict,
                   settings,
                   train,
                   data_root: str,
                   work_dir: str,
                   seed: int,
                   save_checkpoint: bool = False,
                   load_from: Optional[str] = None):
        from .det_configs import det_run_config
        return det_run_config(model, settings.nets, train, data_root, work_dir,
                              seed, save_checkpoint, load_from,
                              settings.log_level)

    def distiller(self,
                  settings,
                  distill,
                  teacher_ckpt: str,
                  student_ckpt: str,
                  backbone: Optional[str] = None) -> dict:
        from .det_configs import det_distiller_model
        return det_distiller_model(settings.nets, distill, teacher_ckpt,
                                   student_ckpt, backbone)

    def check_methods(self, names: Sequence[str]) -> None:
        from .det_configs import check_det_methods
        check_det_methods(names)

    def distill_config(self, name: str, settings, weight: Optional[float],
                       knobs: dict) -> Optional[dict]:
        from .det_configs import det_distill_config
        return det_distill_config(name, settings.nets, weight, knobs)

    def published_weight(self, name: str) -> Optional[float]:
        from .det_configs import det_published_weight
        return det_published_weight(name)

    @property
    def default_methods(self) -> Tuple[str, ...]:
        from .det_configs import DET_METHODS
        return DET_METHODS

    @property
    def method_knobs(self) -> Dict[str, Sequence[dict]]:
        from .det_configs import DET_METHOD_KNOBS
        return DET_METHOD_KNOBS

    @property
    def structure_knobs(self) -> Dict[str, Sequence[dict]]:
        """``--structure-sweep``: the FPN SW-TaT forms
        (:data:`~.det_configs.DET_SWTAT_FORMS`) of method ``swtat``."""
        from .det_configs import DET_SWTAT_FORMS
        return dict(swtat=DET_SWTAT_FORMS)

    def label(self, name: str) -> str:
        from .det_configs import DET_LABELS
        return DET_LABELS[name]

    def weight_label(self,
                     name: str,
                     weight: Optional[float],
                     knobs: Optional[dict] = None) -> str:
        return '' if weight is None else f'{weight:g}'

    def scores(self, metrics: Dict[str, float]) -> Dict[str, float]:
        from .det_configs import det_scores
        return {k: 100 * v for k, v in det_scores(metrics).items()}


TASKS = dict(seg=SegTask(), det=DetTask())


def task_of(settings) -> Union[SegTask, DetTask]:
    """The task of a settings object (``settings.task``: ``'seg'`` for
    :class:`~.settings.BenchmarkSettings`)."""
    return TASKS[getattr(settings, 'task', 'seg')]


def metric_of(meta: dict) -> str:
    """The ranking figure of a report's ``meta`` (older reports: mIoU)."""
    return (meta.get('metrics') or ['mIoU'])[0]


__all__ = [
    'BenchmarkSettings', 'DetTask', 'SegTask', 'TASKS', 'task_of', 'metric_of'
]
