"""Write a commented distillation config for a student/teacher config pair."""
import os.path as osp
import re
import sys
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

from mmengine.config import Config

from mmswtat.models.distillers.teacher import FEATURE_PREFIXES
from mmswtat.recipes import COMPONENTS, FRAGMENTS, SHIPPED_RECIPE, parse_recipe
from .match import Pair, Plan, choose_window, match
from .methods import (GENERATOR_COMPONENTS, KD_LOSS, METHODS, LossContext,
                      method_losses)
from .probe import ModelProbe, probe_model
from .render import comment_block, format_value

#: Written when no checkpoint is given or found: model build then fails
#: with a FileNotFoundError naming model.teacher_ckpt.
CKPT_PLACEHOLDER = 'PATH/TO/TEACHER_CHECKPOINT.pth'


def _connector_name(module: str, neck: bool) -> str:
    if neck:
        return 'fpn_proj'
    found = re.fullmatch(r'backbone\.layer(\d+)', module)
    return f's{found.group(1)}' if found else 'proj'


@dataclass(frozen=True)
class FeatureSite:
    """Where a feature component is written: the maps and their names.

    Attributes:
        pairs: The matched maps (one, or one per neck level).
        neck: Several levels of a neck.
        rec: Recorder name.
        suffix: Appended to the loss names.
        connector_name: Shared connector name where channels differ
            (default from the module path).
        logits: Classifier logits: adds Hinton KD on them.
    """
    pairs: Tuple[Pair, ...]
    neck: bool
    rec: str
    suffix: str = ''
    connector_name: Optional[str] = None
    logits: Optional[Pair] = None

    @property
    def channels(self) -> Tuple[int, int]:
        """``(student, teacher)`` channels of the maps."""
        return self.pairs[0].student.channels, self.pairs[0].teacher.channels

    @property
    def connector(self) -> Optional[str]:
        """The shared connector's name where the channels differ."""
        c_s, c_t = self.channels
        if c_s == c_t:
            return None
        return self.connector_name or _connector_name(
            self.pairs[0].student.module, self.neck)


def matched_site(plan: Plan) -> FeatureSite:
    """The matched backbone stage or neck levels (and classifier logits)."""
    neck = plan.kind == 'neck'
    return FeatureSite(
        tuple(plan.pairs), neck, 'fpn' if neck else 'feat', logits=plan.logits)


def head_site(plan: Plan) -> FeatureSite:
    """The decode heads' last features (connector ``sh``)."""
    return FeatureSite((plan.head, ), False, 'head', '_head', 'sh')


def _loss_context(site: FeatureSite, crop: Tuple[int, int], name: str,
                  task: str) -> LossContext:
    """The maps the component's losses see, windows chosen at ``crop``."""
    windows = [choose_window(p.teacher.size_at(crop))[:2] for p in site.pairs]
    weight = COMPONENTS[name].weight if task == 'seg' else 1.0
    return LossContext(site.channels[1], windows, site.neck, weight=weight)


def _feature_losses(site: FeatureSite, name: str, ctx: LossContext,
                    task: str) -> dict:
    """``distill_losses`` of the component (names suffixed)."""
    return {
        k + site.suffix: v
        for k, v in method_losses(name, ctx, task).items()
    }


def _feature_mappings(site: FeatureSite, losses: dict) -> dict:
    """``loss_forward_mappings`` of the component's losses."""
    connector, rec = site.connector, site.rec
    mappings = {}
    for loss in losses:
        student = rec if connector is None and not site.neck else dict(
            recorder=rec)
        teacher = rec
        if site.neck:
            student['index'] = [p.student.index for p in site.pairs]
            teacher = dict(
                recorder=rec, index=[p.teacher.index for p in site.pairs])
        if connector is not None:
            student['connector'] = connector
        mappings[loss] = dict(student=student, teacher=teacher)
    return mappings


def _feature_fragment(site: FeatureSite, crop: Tuple[int, int], name: str,
                      task: str) -> dict:
    """The ``distill=`` fragment of one feature component on ``site``."""
    first = site.pairs[0]
    distill = dict(
        student_recorders={site.rec: first.student.module},
        teacher_recorders={site.rec: first.teacher.module})
    if site.logits is not None:
        distill['student_recorders']['logits'] = site.logits.student.module
        distill['teacher_recorders']['logits'] = site.logits.teacher.module
    c_s, c_t = site.channels
    if site.connector is not None:
        distill['connectors'] = {
            site.connector:
            dict(
                type='mmswtat.ConvBNConnector',
                in_channels=c_s,
                out_channels=c_t)
        }
    losses = _feature_losses(site, name, _loss_context(site, crop, name, task),
                             task)
    mappings = _feature_mappings(site, losses)
    if site.logits is not None:
        losses['loss_kd'] = dict(KD_LOSS)
        mappings['loss_kd'] = dict(student='logits', teacher='logits')
    distill['distill_losses'] = losses
    distill['loss_forward_mappings'] = mappings
    return distill


def _connector_notes(site: FeatureSite) -> List[str]:
    """Why there is a connector, or none."""
    c_s, c_t = site.channels
    if site.connector is None:
        return [
            f'No connector: both sides have {c_t} channels; embed=False '
            "is the paper's plain inner product (Q = T, K = V = S).", ''
        ]
    return [
        f'Connector: the student has {c_s} channels and the teacher '
        f'{c_t}, so ONE shared 1x1 conv + BN connector ({site.connector!r}) '
        f'lifts the student map{"s of every level" if site.neck else ""} to '
        f'{c_t} channels; every loss uses its output (run once per '
        'step) with embed=False: Q = T, K = V = connector(S), target T '
        "(the paper's plain inner products).", ''
    ]


def _window_notes(site: FeatureSite, crop: Tuple[int, int]) -> List[str]:
    """The window and shift of each map, and why."""
    notes = [
        'Windows (in tokens of the teacher map at the training '
        f'crop {crop[0]}x{crop[1]}; the student map is '
        'resized to it):'
    ]
    for pair in site.pairs:
        why = choose_window(pair.teacher.size_at(crop))[2]
        level = f' level {pair.teacher.index}' if site.neck else ''
        notes.append(f'  stride {pair.teacher.stride}{level}: {why}.')
    return notes + [
        '  Two windows or more per side keep the attention local (one '
        'window = global TaT); 8x8 windows of 64 tokens cover about one '
        'object part, and memory is tokens*64 instead of tokens^2.', ''
    ]


def _structure_notes(site: FeatureSite, name: str, task: str, ctx: LossContext,
                     losses: dict) -> List[str]:
    """What the component's losses do on these maps (levels, merging)."""
    comp = COMPONENTS[name]
    notes = [f'Method {name!r}: {comp.comment}']
    if comp.builder == 'swtat' and task == 'cls':
        notes.append('  No patch-merging term on classification maps: the '
                     'window passes already reach most of a small map.')
    if site.neck and comp.builder in ('swtat', 'swtat_nopm'):
        weight = losses['loss_swtat' + site.suffix]['loss_weight']
        notes += [
            "  The shipped FPN form (configs/_base_/distill/swtat_fpn.py, "
            "measured in docs/detection.md): normalize='self' (each map "
            'standardised per channel with its own statistics, as PKD), '
            "window_size='auto' (half of each level, at most 8: the windows "
            f'above are not used), no global pass, loss_weight={weight:g} '
            f'on each of the {len(ctx.windows)} levels.'
        ]
    elif site.neck:
        notes += [
            f'  Each loss sums over the {len(ctx.windows)} levels, hence '
            f'loss_weight={ctx.level_weight} per level; scale=\'auto\' '
            '(1/sqrt(d)) because patch merging makes tokens up to '
            f'{ctx.channels}*4^k wide; num_merges=\'auto\' merges 2x2 until '
            'at most 1024 tokens remain on every level.'
        ]
    elif 'loss_pmtat' + site.suffix in losses:
        notes.append('  Patch merging: one 2x2 merge, then a global TaT on '
                     'the coarse tokens (the long-range part windows miss).')
    return notes


def _weight_notes(name: str, task: str, ctx: LossContext) -> List[str]:
    """Where the component's weight comes from."""
    comp = COMPONENTS[name]
    if not comp.tat:
        return [f'  Weight {ctx.weight:g} ({comp.source}).']
    if task == 'seg':
        return [
            f'  Weights: d = z = {ctx.weight:g} next to the task loss (a = 1,'
            ' from the student config), the accuracy benchmark\'s best for '
            'this structure (docs/accuracy.md; 1 and 3 fell below the '
            'undistilled student). The official TaT-seg VOC weights '
            'relative to a CE of weight 1 are 1.6 and 0.64; the raw terms '
            "follow the teacher's activation scale, so sweep 0.03-1 for "
            'another teacher. On that benchmark plain regression of the '
            'same feature (fitnet_head) helped more.'
        ]
    return [
        f'  Weights: d = z = {ctx.weight:g} next to the task loss (a = 1,'
        ' from the student config). As the shipped fragments (not '
        'measured for this task): sweep it if the distillation terms '
        'dominate the task loss.'
    ]


def _logit_notes(site: FeatureSite) -> List[str]:
    """Logit KD next to a classifier's feature loss (none otherwise)."""
    if site.logits is None:
        return []
    return [
        '', f'Logit KD on head.fc ({site.logits.teacher.channels} '
        f'classes): {KD_LOSS["type"]} with tau = '
        f'{KD_LOSS["tau"]} (tau^2 applied inside), weight '
        f'{KD_LOSS["loss_weight"]}.'
    ]


def _feature_notes(site: FeatureSite, crop: Tuple[int, int], name: str,
                   task: str) -> List[str]:
    """The comment lines explaining :func:`_feature_fragment`."""
    ctx = _loss_context(site, crop, name, task)
    losses = _feature_losses(site, name, ctx, task)
    return (_connector_notes(site) + _window_notes(site, crop) +
            _structure_notes(site, name, task, ctx, losses) +
            _weight_notes(name, task, ctx) + _logit_notes(site))


def _feature_part(site: FeatureSite, crop: Tuple[int, int], name: str,
                  task: str) -> Tuple[dict, List[str]]:
    """The fragment of one feature component on ``site``, and its notes.

    Args:
        site: The maps and names (:func:`matched_site`, :func:`head_site`).
        crop: The training crop.
        name: The feature component (:data:`LOSS_BUILDERS`).
        task: ``'seg'``, ``'det'`` or ``'cls'``.
    """
    return (_feature_fragment(site, crop, name,
                              task), _feature_notes(site, crop, name, task))


def _logit_part(name: str) -> Tuple[dict, List[str]]:
    """A dense logit component: its shipped fragment as it is (mmseg's
    ``decode_head.conv_seg`` on both sides; the losses need no channels)."""
    comp = COMPONENTS[name]
    file, key = comp.fragment
    cfg = Config.fromfile(_resolve(FRAGMENTS + file))
    part = cfg[key].to_dict()
    return part, [
        f'Method {name!r}: {comp.comment} From the shipped fragment '
        f'configs/_base_/distill/{file} ({key}): weight '
        f'{comp.published:g} ({comp.source}).'
    ]


def default_method(plan: Plan, task: str) -> str:
    """The recipe written when ``--method`` is not given.

    Segmentation pairs get the shipped recipe
    (:data:`mmswtat.recipes.SHIPPED_RECIPE`: the accuracy benchmark's best,
    docs/accuracy.md; the shipped VOC/COCO-Stuff configs), or SW-TaT + CWD
    on the matched backbone stage when the generator does not know the
    heads; detectors and classifiers SW-TaT + PM (their fragments; not
    measured).
    """
    if task == 'seg':
        shipped = SHIPPED_RECIPE['recipe']
        needs_head = any(c.placement == 'head' for c in parse_recipe(shipped))
        return shipped if plan.head is not None or not needs_head else \
            'swtat+cwd'
    return 'swtat'


def build_distill(plan: Plan, method: str,
                  task: str) -> Tuple[Union[dict, List[dict]], List[str]]:
    """The ``distill=`` of a plan and the comment lines explaining it.

    Args:
        plan: The matched maps.
        method: A recipe of :mod:`mmswtat.recipes` (``'swtat'``,
            ``'swtat_head+cwd'``...) whose components the generator writes
            for ``task`` (:data:`GENERATOR_COMPONENTS`).
        task: ``'seg'``, ``'det'`` or ``'cls'``.

    Returns:
        One fragment dict for one component, else a list of fragments (the
        distiller merges them), and the notes.

    Raises:
        ValueError: Unknown method or one the task cannot take, two feature
            components on the same map, or no head feature.
    """
    comps = parse_recipe(method, GENERATOR_COMPONENTS[task])
    same_map = [
        c.name for c in comps if c.kind == 'feature' and c.placement != 'head'
    ]
    if len(same_map) > 1:
        raise ValueError(f'method {method!r}: {same_map} all distil the '
                         'same matched map; keep one of them')
    parts, notes = [], []
    for comp in comps:
        if comp.kind == 'logit' and task == 'cls':
            if same_map:
                notes += [
                    '', "Method 'kd': classifiers get logit KD on "
                    'head.fc with their feature loss already.'
                ]
                continue
            part = dict(
                student_recorders=dict(logits=plan.logits.student.module),
                teacher_recorders=dict(logits=plan.logits.teacher.module),
                distill_losses=dict(loss_kd=dict(KD_LOSS)),
                loss_forward_mappings=dict(
                    loss_kd=dict(student='logits', teacher='logits')))
            more = [
                f'Logit KD on head.fc ({plan.logits.teacher.channels} '
                f'classes): {KD_LOSS["type"]} with tau = '
                f'{KD_LOSS["tau"]}, weight {KD_LOSS["loss_weight"]}.'
            ]
        elif comp.kind == 'logit':
            part, more = _logit_part(comp.name)
        elif comp.placement == 'head':
            if plan.head is None:
                raise ValueError(
                    f"method {comp.name!r} distils the decode head's last "
                    'feature, which the generator finds for mmseg heads '
                    'ending in bottleneck, fpn_bottleneck, conv_cat or convs '
                    '(ASPP, PSP, UPer, FCN) at one stride in both models; '
                    'write its recorders by hand (configs/_base_/distill/'
                    'swtat_head_r101_to_r18.py shows how)')
            part, more = _feature_part(
                head_site(plan), plan.crop, comp.name, task)
            more = [
                f'Placement: the decode head\'s last feature '
                f'({plan.head.student.module}), where the official '
                'TaT-seg code distils.'
            ] + more
        else:
            part, more = _feature_part(
                matched_site(plan), plan.crop, comp.name, task)
        parts.append(part)
        notes += ([''] if notes else []) + more
    if len(parts) > 1:
        notes += [
            '', f'Recipe {method!r}: a list of fragments, merged by the '
            'distiller name by name (shared names must be identical).'
        ]
    return (parts[0] if len(parts) == 1 else parts), notes


def _teacher_overrides(teacher: ModelProbe) -> dict:
    """Keep the teacher's ImageNet init off: its weights all come from
    teacher_ckpt."""
    over = {}
    if teacher.model_cfg.get('pretrained'):
        over['pretrained'] = None
    init = (teacher.model_cfg.get('backbone') or {}).get('init_cfg')
    if isinstance(init, dict) and init.get('type') == 'Pretrained':
        over['backbone'] = dict(init_cfg=None)
    return over


def find_checkpoint(cfg_path: str) -> Optional[str]:
    """The ``Weights`` URL of a ``scope::`` config in its metafile."""
    if '::' not in cfg_path:
        return None
    from mmengine.config.utils import (_get_cfg_metainfo,
                                       _get_package_and_cfg_path)
    from mmengine.utils import get_installed_path
    try:
        package, rel = _get_package_and_cfg_path(cfg_path)
        path = get_installed_path(package)
        return _get_cfg_metainfo(path, rel).get('Weights')
    except (ValueError, FileNotFoundError, AssertionError, KeyError):
        return None


def _where(path: str) -> str:
    return path if '::' in path else osp.abspath(path)


def _self_distillation_lines(student_cfg: str, teacher_cfg: str) -> List[str]:
    """The self-distillation note for the header (also said on stderr)."""
    note = self_distillation_note(student_cfg, teacher_cfg)
    if not note:
        return []
    print(f'[make_distill_config] {note}', file=sys.stderr)
    return ['', note]


def _teacher_checkpoint(teacher_cfg: str,
                        teacher_ckpt: Optional[str]) -> Optional[str]:
    """``teacher_ckpt``, else the teacher's metafile ``Weights``; says on
    stderr when there is none or the file does not exist (yet)."""
    ckpt = teacher_ckpt or find_checkpoint(teacher_cfg)
    if ckpt is None:
        print(
            f'[make_distill_config] no checkpoint for {teacher_cfg}: '
            f'teacher_ckpt is a placeholder, set it before training',
            file=sys.stderr)
    elif '://' not in ckpt and not osp.isfile(ckpt):
        print(
            f'[make_distill_config] --teacher-ckpt {ckpt!r} does not exist '
            '(yet): the config is written, but training stops at model '
            'build until that file is there (or set model.teacher_ckpt)',
            file=sys.stderr)
    return ckpt


def _probe_header(student_cfg: str, teacher_cfg: str, student: ModelProbe,
                  teacher: ModelProbe, crop: Tuple[int, int],
                  command: Optional[str]) -> List[str]:
    """The header's first lines: the command, both models, what was probed.
    """
    return [
        'Generated by tools/make_distill_config.py; edit freely.',
        f'  {command}' if command else '', '',
        f'Student: {student_cfg} ({student.scope}); the data, schedule and '
        'runtime below are its own (inherited).',
        f'Teacher: {teacher_cfg} ({teacher.scope}).',
        f'Training crop {crop[0]}x{crop[1]} (from the student '
        f"config's {student.crop_source}).", '',
        'Probed (random weights, one dummy batch; deepest module per stride, '
        'map sizes at the training crop):', '  student:'
    ] + [f'    {s}' for s in student.summary()
         ] + ['  teacher:'] + [f'    {s}' for s in teacher.summary()] + ['']


def _match_header(plan: Plan, method: str) -> List[str]:
    """How the maps were matched, when the recipe distils matched maps."""
    matched = any(c.kind == 'feature' and c.placement != 'head'
                  for c in parse_recipe(method, METHODS))
    if not matched:
        return []
    if plan.kind == 'neck':
        return [
            'Matched by stride: every neck level both have: ' +
            ', '.join(f'student neck[{p.student.index}] <- teacher'
                      f' neck[{p.teacher.index}] (stride '
                      f'{p.student.stride})' for p in plan.pairs) + '.'
        ]
    p = plan.pairs[0]
    return [
        f'Matched by stride: the deepest backbone stage of each at the '
        f'deepest common stride ({p.student.stride}): student '
        f'{p.student.module} <- teacher {p.teacher.module}.'
    ]


def _early_exit_note(distill: Union[dict, List[dict]]) -> str:
    """How far the teacher runs: to its last recorded module."""
    parts = distill if isinstance(distill, list) else [distill]
    recorded = list(
        dict.fromkeys(m for part in parts
                      for m in part['teacher_recorders'].values()))
    in_features = all(m.split('.')[0] in FEATURE_PREFIXES for m in recorded)
    last = recorded[0] if len(recorded) == 1 else \
        f'the last of {", ".join(recorded)}'
    return ('Teacher early exit: teacher_forward=\'auto\' runs the teacher ' +
            ('through extract_feat' if in_features else 'with mode=\'tensor\' '
             '(a recorded module is outside backbone/neck)') +
            f' and stops right after {last}; nothing after it runs.')


def _settings_lines(student_cfg: str, teacher_cfg: str,
                    ckpt: Optional[str]) -> List[str]:
    """``_base_``, imports, hooks and the config paths and checkpoint."""
    text = [f'_base_ = [{_where(student_cfg)!r}]']
    text.append("custom_imports = dict(imports=['mmswtat'], "
                'allow_failed_imports=False)')
    if 'custom_hooks' not in Config.fromfile(_resolve(student_cfg)):
        text += [
            '# Exact --resume: also restore the torch RNG state.',
            "custom_hooks = [dict(type='mmswtat.RNGStateHook')]"
        ]
    text += [
        '', f'student_cfg = {_where(student_cfg)!r}',
        f'teacher_cfg = {_where(teacher_cfg)!r}'
    ]
    ckpt_line = f'teacher_ckpt = {(ckpt or CKPT_PLACEHOLDER)!r}'
    if len(ckpt_line) > 79:
        ckpt_line += '  # noqa: E501'
    if ckpt is None:
        text.append('# SET ME: your trained teacher (a missing file stops '
                    'the run at model build).')
    return text + [ckpt_line, '']


def _model_text(teacher: ModelProbe, distill: Union[dict, List[dict]]) -> str:
    """``model = dict(...)``: the distiller, naming the variables above."""
    model = dict(
        _delete_=True,
        type='mmswtat.SingleTeacherDistiller',
        student=dict(cfg_path='STUDENT'),
        teacher=dict(cfg_path='TEACHER', **_teacher_overrides(teacher)),
        teacher_ckpt='CKPT',
        teacher_forward='auto',
        distill=distill)
    body = 'model = ' + format_value(model, 0, 'model = ')
    return body.replace("'STUDENT'", 'student_cfg').replace(
        "'TEACHER'", 'teacher_cfg').replace("'CKPT'", 'teacher_ckpt')


def make_distill_config(student_cfg: str,
                        teacher_cfg: str,
                        method: Optional[str] = None,
                        teacher_ckpt: Optional[str] = None,
                        command: Optional[str] = None) -> str:
    """Probe both configs, match their features and return the config text.

    Args:
        student_cfg: Student config file or ``scope::path``; the output
            inherits it (data, schedule, runtime).
        teacher_cfg: Teacher config file or ``scope::path``.
        method: A recipe (``'swtat'``, ``'swtat_head+cwd'``, ...) of the
            components :data:`~.methods.GENERATOR_COMPONENTS` lists for the
            pair's task; None: :func:`default_method`.
        teacher_ckpt: Teacher checkpoint path/URL; default: the teacher's
            metafile ``Weights``, else a placeholder that fails at build.
        command: The command line, written into the header.

    Raises:
        ValueError: Unknown method, unsupported config.
        MatchError: No features to pair (the message lists both sides).
    """
    if method is not None:
        parse_recipe(method, METHODS)  # before the (slow) probes
    student = probe_model(student_cfg, 'student')
    teacher = probe_model(teacher_cfg, 'teacher')
    plan = match(student, teacher)
    if method is None:
        method = default_method(plan, student.task)
    distill, notes = build_distill(plan, method, student.task)
    notes = notes + _self_distillation_lines(student_cfg, teacher_cfg)
    ckpt = _teacher_checkpoint(teacher_cfg, teacher_ckpt)
    header = _probe_header(student_cfg, teacher_cfg, student, teacher,
                           plan.crop, command)
    header += _match_header(plan, method) + [''] + notes
    header += ['', _early_exit_note(distill)]
    text = [comment_block(header), ''] + _settings_lines(
        student_cfg, teacher_cfg, ckpt) + [_model_text(teacher, distill)]
    return '\n'.join(text) + '\n'


def self_distillation_note(student_cfg: str,
                           teacher_cfg: str) -> Optional[str]:
    """A note when student and teacher are the same config, else ``None``.

    Self-distillation is legal (a trained model teaches a fresh copy of
    itself), but it is said out loud: a mistyped teacher path is the more
    common cause.
    """
    try:
        same = osp.realpath(_resolve(student_cfg)) == osp.realpath(
            _resolve(teacher_cfg))
    except FileNotFoundError:
        return None
    if not same:
        return None
    return (f'student and teacher are the same config ({student_cfg}): '
            'this is self-distillation (the trained model teaches a fresh '
            'copy of itself). That is legal; if you meant another teacher, '
            'give its config as TEACHER_CFG. teacher_ckpt must be a trained '
            'checkpoint of this config.')


def _resolve(path: str) -> str:
    from mmswtat.utils import resolve_config_path
    return resolve_config_path(path)
