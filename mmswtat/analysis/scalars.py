"""Read mmengine's ``vis_data/scalars.json`` logs into plottable series.

mmengine's ``LocalVisBackend`` writes one JSON object per line to
``WORK_DIR/<timestamp>/vis_data/scalars.json``: training lines (``lr``,
``loss``, every loss entry, ``iter``/``epoch``, ``step`` = iteration) and
validation lines (the metrics, ``step`` = iteration for iteration-based
loops, epoch for epoch-based ones). Each ``tools/train.py`` run (or resume)
starts a new timestamp folder.
"""
import glob
import json
import os.path as osp
import re
import sys
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

SCALARS = osp.join('vis_data', 'scalars.json')
#: Bookkeeping entries of validation lines, not metrics.
NON_METRIC_KEYS = frozenset(
    {'data_time', 'time', 'step', 'iter', 'epoch', 'memory', 'lr'})
#: Metrics plotted first when present (mmseg, mmdet, mmpretrain).
PRIMARY_METRICS = ('mIoU', 'coco/bbox_mAP', 'coco/segm_mAP', 'accuracy/top1',
                   'pascal_voc/mAP', 'mAP')

Series = Tuple[np.ndarray, np.ndarray]


@dataclass
class RunLog:
    """The scalars of one work dir.

    Attributes:
        label: Name used in legends.
        files: The ``scalars.json`` files read, oldest first.
        train: ``{key: (steps, values)}`` of the training lines.
        val: ``{metric: (steps, values)}``, steps in iterations.
        distill_keys: Keys that are distillation losses (from the config
            dumped next to the log, or given).
    """
    label: str
    files: List[str]
    train: Dict[str, Series] = field(default_factory=dict)
    val: Dict[str, Series] = field(default_factory=dict)
    distill_keys: List[str] = field(default_factory=list)

    @property
    def loss_keys(self) -> List[str]:
        """Every logged loss except the total ``loss``."""
        return [k for k in self.train if 'loss' in k and k != 'loss']

    @property
    def task_keys(self) -> List[str]:
        """The codebase's own losses (``decode.loss_ce``, ``loss_cls``...)."""
        return [k for k in self.loss_keys if k not in self.distill_keys]


def _timestamp_dirs(work_dir: str) -> List[str]:
    found = glob.glob(osp.join(glob.escape(work_dir), '*', SCALARS))
    return sorted(
        found, key=lambda p: osp.basename(osp.dirname(osp.dirname(p))))


def find_scalar_files(path: str, run: str = 'latest') -> List[str]:
    """The ``scalars.json`` files of a work dir.

    Args:
        path: A work dir (``WORK_DIR/<timestamp>/vis_data/scalars.json``
            inside), one ``<timestamp>`` folder, or a ``scalars.json`` file.
        run: ``'latest'`` (the newest run with records), ``'all'`` (every
            run, oldest first: a resumed training continues the curves) or a
            timestamp folder name.

    Returns:
        Paths, oldest first.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no log, with what
            was looked for.
    """
    if not osp.exists(path):
        raise FileNotFoundError(f'{path!r} does not exist; give the '
                                '--work-dir of a tools/train.py run')
    if osp.isfile(path):
        return [path]
    if osp.isfile(osp.join(path, SCALARS)):
        return [osp.join(path, SCALARS)]
    files = [f for f in _timestamp_dirs(path) if osp.getsize(f) > 0]
    if not files:
        raise FileNotFoundError(
            f'no <timestamp>/{SCALARS} with records under {path!r}. Is it '
            'the work dir of a training run (tools/test.py writes none), '
            "and is LocalVisBackend among visualizer.vis_backends?")
    if run == 'all':
        return files
    if run == 'latest':
        return files[-1:]
    chosen = [
        f for f in files if osp.basename(osp.dirname(osp.dirname(f))) == run
    ]
    if not chosen:
        names = [osp.basename(osp.dirname(osp.dirname(f))) for f in files]
        raise FileNotFoundError(f'no run {run!r} under {path!r}; runs: '
                                f'{names} (or use latest / all)')
    return chosen


def read_records(files: Iterable[str]) -> List[dict]:
    """Every JSON line of the files, in order. A file's last line cut
    short (a run killed while logging) is skipped, with a note on stderr.

    Raises:
        ValueError: A line that is not a JSON object, naming file and line.
    """
    records = []
    for path in files:
        with open(path) as f:
            lines = [(n, line.strip()) for n, line in enumerate(f, 1)]
        lines = [(n, line) for n, line in lines if line]
        for i, (n, line) in enumerate(lines):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                if i == len(lines) - 1 and line.startswith('{'):
                    # A run killed while writing leaves its last line cut.
                    print(
                        f'note: {path}:{n}: the last line is cut short (a '
                        'run killed while logging?); skipped it, plotting '
                        f'the {i} complete lines',
                        file=sys.stderr)
                    continue
                raise ValueError(f'{path}:{n} is not JSON ({e}); is it an '
                                 "mmengine scalars.json?") from None
            if not isinstance(record, dict) or 'step' not in record:
                raise ValueError(f'{path}:{n} has no "step"; is it an '
                                 'mmengine scalars.json?')
            records.append(record)
    return records


def _is_train(record: dict) -> bool:
    return 'lr' in record or any('loss' in k for k in record)


def _series(records: Sequence[dict], steps: Sequence[float],
            keys: Iterable[str]) -> Dict[str, Series]:
    out = {}
    for key in keys:
        xs, ys, last = [], [], -np.inf
        for record, step in zip(records, steps):
            value = record.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if step < last:  # a new run from scratch: break the line
                xs.append(np.nan)
                ys.append(np.nan)
            xs.append(float(step))
            ys.append(float(value))
            last = step
        if xs:
            out[key] = (np.asarray(xs), np.asarray(ys))
    return out


def _ordered_keys(records: Sequence[dict]) -> List[str]:
    keys: Dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(record))
    return list(keys)


def split_series(
        records: Sequence[dict]
) -> Tuple[Dict[str, Series], Dict[str, Series]]:
    """Training and validation series, validation steps in iterations.

    Epoch-based runs log validation with ``step`` = epoch; it is mapped to
    the last iteration logged in that epoch so both share one axis.
    """
    train = [r for r in records if _is_train(r)]
    val = [r for r in records if not _is_train(r)]
    train_series = _series(train, [r['step'] for r in train], [
        k for k in _ordered_keys(train) if k not in ('step', 'iter', 'epoch')
    ])
    epoch_end: Dict[int, float] = {}
    for r in train:
        if 'epoch' in r:
            epoch_end[int(r['epoch'])] = max(
                epoch_end.get(int(r['epoch']), 0), r['step'])
    if epoch_end:
        val_steps = [epoch_end.get(int(r['step']), np.nan) for r in val]
    else:
        val_steps = [r['step'] for r in val]
    metrics = [k for k in _ordered_keys(val) if k not in NON_METRIC_KEYS]
    return train_series, _series(val, val_steps, metrics)


def distill_loss_names(config_file: str) -> Optional[List[str]]:
    """Distillation loss names of a dumped config (``vis_data/config.py``).

    Returns:
        The keys of ``model.distill_losses`` (or ``model.distill.
        distill_losses``, or of every fragment of a recipe's ``distill``
        list, in order); ``[]`` for a config without a distiller; None
        when the file is missing or does not parse.
    """
    if not osp.isfile(config_file):
        return None
    from mmengine.config import Config
    try:
        cfg = Config.fromfile(config_file, import_custom_modules=False)
    except Exception:  # a config of another version, missing scopes...
        return _names_by_regex(config_file)
    model = cfg.get('model') or {}
    distill = model.get('distill') or {}
    # A recipe's distill is a list of fragments, merged name by name.
    parts = [model] + (
        list(distill) if isinstance(distill, (list, tuple)) else [distill])
    names: List[str] = []
    for part in parts:
        losses = (part or {}).get('distill_losses') or {}
        names += [n for n in losses if n not in names]
    return names


def _names_by_regex(config_file: str) -> Optional[List[str]]:
    with open(config_file) as f:
        text = f.read()
    match = re.search(r'distill_losses\s*=\s*dict\(', text)
    if not match:
        return None
    return sorted(
        set(re.findall(r'\b(loss_\w+)\s*=\s*dict\(', text[match.end():])))


def select_metrics(available: Sequence[str],
                   wanted: Optional[Sequence[str]] = None,
                   limit: int = 4) -> List[str]:
    """The metrics to plot: ``wanted`` if given, else the primary ones first.

    Raises:
        KeyError: A wanted metric that was never logged.
    """
    if wanted:
        missing = [m for m in wanted if m not in available]
        if missing:
            raise KeyError(f'metrics {missing} are not in the log; logged: '
                           f'{list(available)}')
        return list(wanted)
    first = [m for m in PRIMARY_METRICS if m in available]
    rest = [m for m in available if m not in first]
    return (first + rest)[:limit]


def load_run(path: str,
             run: str = 'latest',
             label: Optional[str] = None,
             distill_keys: Optional[Sequence[str]] = None) -> RunLog:
    """Read a work dir into a :class:`RunLog`.

    Args:
        path: See :func:`find_scalar_files`.
        run: See :func:`find_scalar_files`.
        label: Legend name (default: the work dir's folder name).
        distill_keys: Distillation loss keys; default: read from the dumped
            config next to the newest log.
    """
    files = find_scalar_files(path, run)
    train, val = split_series(read_records(files))
    if distill_keys is None:
        names = distill_loss_names(
            osp.join(osp.dirname(files[-1]), 'config.py'))
        distill_keys = names or []
    if label is None:
        label = osp.basename(osp.normpath(path))
        if osp.isfile(path):
            label = osp.basename(
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(path)))))
    wanted = set(distill_keys)
    return RunLog(
        label=label,
        files=files,
        train=train,
        val=val,
        distill_keys=[k for k in train if k in wanted])
