"""Match a student's and a teacher's probed features by stride."""
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .probe import Feature, ModelProbe

#: Largest window side (tokens); 8x8 windows of 64 tokens, as in the paper.
MAX_WINDOW = 8


@dataclass
class Pair:
    """A student feature distilled towards a teacher feature."""
    student: Feature
    teacher: Feature


@dataclass
class Plan:
    """What to distil.

    Attributes:
        kind: ``'dense'`` (one backbone stage) or ``'neck'`` (every common
            level of the two necks).
        pairs: The matched maps (one for ``'dense'``).
        logits: Classifier logits (``head.fc``) for logit KD, else ``None``.
        head: The decode heads' last features (segmentors whose heads
            :func:`~.probe.head_feature_path` knows, at one stride), else
            ``None``.
        crop: Training ``(H, W)`` (the student config's, whose data the
            distillation config inherits).
    """
    kind: str
    pairs: List[Pair]
    logits: Optional[Pair]
    crop: Tuple[int, int]
    head: Optional[Pair] = None

    @property
    def channels(self) -> Tuple[int, int]:
        """``(C_student, C_teacher)`` shared by every pair."""
        return self.pairs[0].student.channels, self.pairs[0].teacher.channels


class MatchError(ValueError):
    """The two models have no features that can be paired."""


def _listing(probe: ModelProbe, role: str) -> str:
    lines = '\n'.join(f'    {line}' for line in probe.summary())
    return f'  {role} ({probe.cfg_path}):\n{lines}'


def _error(student: ModelProbe, teacher: ModelProbe, what: str) -> MatchError:
    return MatchError(f'{what}. Found:\n{_listing(student, "student")}\n'
                      f'{_listing(teacher, "teacher")}\nWrite the recorders '
                      'by hand (student_recorders/teacher_recorders in '
                      'distill=dict(...)) and add a mmswtat.ResizeConnector '
                      'on the teacher side where the strides differ.')


def _match_neck(student: ModelProbe, teacher: ModelProbe) -> List[Pair]:
    by_stride = {f.stride: f for f in teacher.neck}
    pairs = [
        Pair(f, by_stride[f.stride]) for f in student.neck
        if f.stride in by_stride
    ]
    if not pairs:
        raise _error(student, teacher,
                     'the necks have no output level of a common stride')
    for side in ('student', 'teacher'):
        widths = {getattr(p, side).channels for p in pairs}
        if len(widths) > 1:
            raise _error(
                student, teacher, f'the {side} neck levels have different '
                f'channel counts {sorted(widths)}; one shared connector '
                'cannot serve them all')
    return pairs


def _match_dense(student: ModelProbe, teacher: ModelProbe) -> Pair:
    """The deepest stage of each, at the deepest stride both have."""
    s_strides = {f.stride: f for f in student.stages}
    t_strides = {f.stride: f for f in teacher.stages}
    common = sorted(set(s_strides) & set(t_strides))
    deepest = min(student.stages[-1].stride, teacher.stages[-1].stride) \
        if student.stages and teacher.stages else None
    if deepest not in common:
        raise _error(
            student, teacher,
            'the backbones have no stage at a common stride (the shallower '
            f'of the two deepest strides is {deepest}, common strides: '
            f'{common or "none"})')
    return Pair(s_strides[deepest], t_strides[deepest])


def match(student: ModelProbe, teacher: ModelProbe) -> Plan:
    """Pair the features of two probed models.

    Detectors (both with a multi-level neck) are matched level by level at
    every stride both necks have; other models at the deepest backbone stage
    of each, at the deepest stride both reach; classifiers also pair their
    ``head.fc`` logits for KD.

    Raises:
        MatchError: Different task families, no common stride, no logits,
            or neck levels of mixed widths; the message lists what was found
            on each side.
    """
    if (student.task == 'cls') != (teacher.task == 'cls'):
        raise _error(
            student, teacher,
            f'a {student.task} student and a {teacher.task} teacher '
            'take different batches; pair two classifiers, or two '
            'dense (segmentation/detection) models')
    if student.task != teacher.task:
        raise _error(
            student, teacher,
            f'a {student.task} student and a {teacher.task} teacher '
            'are models of different tasks (the teacher runs on the '
            "student's data, and its features were learned for "
            'another task); pair two models of the same task (two '
            'segmentors or two detectors)')
    logits = None
    if student.task == 'cls':
        if student.logits is None or teacher.logits is None:
            raise _error(student, teacher, 'a classifier without head.fc')
        if student.logits.channels != teacher.logits.channels:
            raise _error(
                student, teacher, f'the classifiers predict '
                f'{student.logits.channels} and {teacher.logits.channels} '
                'classes; logit KD needs the same classes')
        logits = Pair(student.logits, teacher.logits)
    if student.neck and teacher.neck:
        return Plan('neck', _match_neck(student, teacher), logits,
                    student.crop)
    head = None
    if student.head is not None and teacher.head is not None and \
            student.head.stride == teacher.head.stride:
        head = Pair(student.head, teacher.head)
    return Plan('dense', [_match_dense(student, teacher)], logits,
                student.crop, head)


def choose_window(size: Tuple[int, int]) -> Tuple[int, int, str]:
    """Window and shift (tokens) for an ``(H, W)`` map, and why.

    The largest window of 8, 4 or 2 tokens that still gives at least two
    windows along the short side (the last one zero-padded and masked when
    it does not divide); shift = half a window so the second pass links
    neighbouring windows. A map too small for two windows of 2 gets one
    window covering it, no shift: global TaT.
    """
    short = min(size)
    window = MAX_WINDOW
    while window > 2 and -(-short // window) < 2:
        window //= 2
    if -(-short // window) < 2:
        return short, 0, f'{size[0]}x{size[1]} is too small for two ' \
            'windows: one window, no shift (global TaT)'
    per_side = [-(-s // window) for s in size]
    pad = '' if all(s % window == 0 for s in size) else \
        ', the last ones zero-padded and masked'
    return window, window // 2, (
        f'{size[0]}x{size[1]} -> {per_side[0]}x{per_side[1]} windows of '
        f'{window}x{window}{pad}; shift {window // 2} (half a window)')
