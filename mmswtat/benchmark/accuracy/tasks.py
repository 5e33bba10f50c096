"""The benchmark's task switch: what differs between segmentation and
detection, behind one interface the harness (:mod:`.runs`, :mod:`.bench`,
:mod:`.report`) calls.

A task knows its data writer, its models and run configs, its methods and
their weights, and the figures its test reports. Everything else (caching,
pretraining, the same student initialisation for every method, seeds,
sweeps, reuse, reports) is shared.
"""
import abc
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

from mmswtat.benchmark.data.digit_det_scenes import write_digit_detection
from mmswtat.benchmark.data.digit_scenes import write_digit_scenes
from mmswtat.recipes import recipe_label
from . import det_configs, methods
from .configs import distiller_model, run_config, seg_model
from .settings import BenchmarkSettings


class Task(abc.ABC):
    """What the harness asks of a task (:class:`SegTask`,
    :class:`DetTask`).

    Attributes:
        name: ``settings.task`` of its settings.
        metrics: Figures of a test; the first ranks the methods.
        shown: Figures shown in the report (mean ± std each).
        title: The report's heading.
        data_kind: The cache name of its data.
        runs_with_backbone: Whether the student's run config names its
            pretrained backbone.
    """
    name: str
    metrics: Tuple[str, ...]
    shown: Tuple[str, ...]
    title: str
    data_kind: str
    runs_with_backbone: bool

    # ---------------------------------------------------------------- data
    @abc.abstractmethod
    def write_data(self, settings, directory: str) -> str:
        """Write the task's data under ``directory``; returns its root."""

    @abc.abstractmethod
    def data_root(self, directory: str) -> str:
        """The data root that :meth:`write_data` returns."""

    # -------------------------------------------------------------- models
    @abc.abstractmethod
    def model(self,
              settings,
              role: str,
              backbone: Optional[str] = None) -> dict:
        """The ``role`` network's config (``backbone``: pretrained
        weights)."""

    @abc.abstractmethod
    def teacher_key(self, settings) -> dict:
        """What the trained teacher depends on beyond data and
        pretraining."""

    @abc.abstractmethod
    def student_key(self, settings) -> dict:
        """What a student initialisation depends on beyond its network,
        data and pretraining."""

    @abc.abstractmethod
    def run_config(self,
                   model: dict,
                   settings,
                   train,
                   data_root: str,
                   work_dir: str,
                   seed: int,
                   save_checkpoint: bool = False,
                   load_from: Optional[str] = None):
        """A complete runner config of ``model``."""

    @abc.abstractmethod
    def distiller(self,
                  settings,
                  distill,
                  teacher_ckpt: str,
                  student_ckpt: str,
                  backbone: Optional[str] = None) -> dict:
        """The distiller's model config."""

    # ------------------------------------------------------------- methods
    @abc.abstractmethod
    def check_methods(self, names: Sequence[str]) -> None:
        """Raise one clear error for an unknown method name."""

    @abc.abstractmethod
    def distill_config(self, name: str, settings, weight: Optional[float],
                       knobs: dict) -> Union[None, dict, list]:
        """The ``distill=`` of a method (None for ``'none'``)."""

    @abc.abstractmethod
    def published_weight(self, name: str) -> Optional[float]:
        """The sweep's centre weight of a method (None for ``'none'``)."""

    @property
    @abc.abstractmethod
    def default_methods(self) -> Tuple[str, ...]:
        """The table's methods."""

    @property
    @abc.abstractmethod
    def method_knobs(self) -> Dict[str, Sequence[dict]]:
        """The sweep's knob variants per method."""

    @property
    @abc.abstractmethod
    def structure_knobs(self) -> Dict[str, Sequence[dict]]:
        """``--structure-sweep``: SW-TaT's forms per method, each crossed
        with every weight factor."""

    @abc.abstractmethod
    def label(self, name: str, knobs: Optional[dict] = None) -> str:
        """A method's label in the reports (a ``global_pass`` knob names
        the pass, :meth:`mmswtat.recipes.Component.label`)."""

    @abc.abstractmethod
    def weight_label(self,
                     name: str,
                     weight: Optional[float],
                     knobs: Optional[dict] = None) -> str:
        """A setting's weight as the reports print it."""

    # --------------------------------------------------------------- score
    @abc.abstractmethod
    def scores(self, metrics: Dict[str, float]) -> Dict[str, float]:
        """The record's figures from ``runner.test()``'s metrics."""


class SegTask(Task):
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
        return run_config(model, settings, train, data_root, work_dir, seed,
                          save_checkpoint, load_from)

    def distiller(self,
                  settings,
                  distill,
                  teacher_ckpt: str,
                  student_ckpt: str,
                  backbone: Optional[str] = None) -> dict:
        return distiller_model(settings, distill, teacher_ckpt, student_ckpt)

    # ------------------------------------------------------------- methods
    def check_methods(self, names: Sequence[str]) -> None:
        methods.check_methods(names)

    def distill_config(self, name: str, settings, weight: Optional[float],
                       knobs: dict) -> Union[None, dict, list]:
        return methods.distill_config(name, settings, weight, knobs)

    def published_weight(self, name: str) -> Optional[float]:
        return methods.published_weight(name)

    @property
    def default_methods(self) -> Tuple[str, ...]:
        return methods.DEFAULT_METHODS

    @property
    def method_knobs(self) -> Dict[str, Sequence[dict]]:
        return methods.METHOD_KNOBS

    @property
    def structure_knobs(self) -> Dict[str, Sequence[dict]]:
        """``--structure-sweep``: SW-TaT's forms per method, each crossed
        with every weight factor."""
        return methods.STRUCTURE_FORMS

    def label(self, name: str, knobs: Optional[dict] = None) -> str:
        return recipe_label(name, 'seg', knobs)

    def weight_label(self,
                     name: str,
                     weight: Optional[float],
                     knobs: Optional[dict] = None) -> str:
        return methods.weight_label(name, weight, knobs)

    # --------------------------------------------------------------- score
    def scores(self, metrics: Dict[str, float]) -> Dict[str, float]:
        """The record's figures from ``runner.test()``'s metrics."""
        return {k: metrics.get(k) for k in self.metrics}


class DetTask(Task):
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
        write_digit_detection(directory, settings.data,
                              det_configs.fpn_levels(settings.nets))
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
        return det_configs.det_model(
            getattr(settings, role), settings.nets, backbone)

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
        return det_configs.det_run_config(model, settings.nets, train,
                                          data_root, work_dir, seed,
                                          save_checkpoint, load_from,
                                          settings.log_level)

    def distiller(self,
                  settings,
                  distill,
                  teacher_ckpt: str,
                  student_ckpt: str,
                  backbone: Optional[str] = None) -> dict:
        return det_configs.det_distiller_model(settings.nets, distill,
                                               teacher_ckpt, student_ckpt,
                                               backbone)

    def check_methods(self, names: Sequence[str]) -> None:
        det_configs.check_det_methods(names)

    def distill_config(self, name: str, settings, weight: Optional[float],
                       knobs: dict) -> Optional[dict]:
        return det_configs.det_distill_config(name, settings.nets, weight,
                                              knobs)

    def published_weight(self, name: str) -> Optional[float]:
        return det_configs.det_published_weight(name)

    @property
    def default_methods(self) -> Tuple[str, ...]:
        return det_configs.DET_METHODS

    @property
    def method_knobs(self) -> Dict[str, Sequence[dict]]:
        return det_configs.DET_METHOD_KNOBS

    @property
    def structure_knobs(self) -> Dict[str, Sequence[dict]]:
        """``--structure-sweep``: the FPN SW-TaT forms per method."""
        return det_configs.DET_STRUCTURE_FORMS

    def label(self, name: str, knobs: Optional[dict] = None) -> str:
        return recipe_label(name, 'det', knobs)

    def weight_label(self,
                     name: str,
                     weight: Optional[float],
                     knobs: Optional[dict] = None) -> str:
        return '' if weight is None else f'{weight:g}'

    def scores(self, metrics: Dict[str, float]) -> Dict[str, float]:
        return {k: 100 * v for k, v in det_configs.det_scores(metrics).items()}


TASKS = dict(seg=SegTask(), det=DetTask())


def task_of(settings) -> Task:
    """The task of a settings object (``settings.task``: ``'seg'`` for
    :class:`~.settings.BenchmarkSettings`)."""
    return TASKS[getattr(settings, 'task', 'seg')]


def metric_of(meta: dict) -> str:
    """The ranking figure of a report's ``meta`` (older reports: mIoU)."""
    return (meta.get('metrics') or ['mIoU'])[0]


__all__ = [
    'BenchmarkSettings', 'DetTask', 'SegTask', 'TASKS', 'Task', 'task_of',
    'metric_of'
]
