"""Pictures of what a distillation checkpoint does on one image.

    python tools/analysis/visualize_distill.py CONFIG CHECKPOINT IMAGE \
        --out DIR [--teacher-ckpt FILE] [--query Y,X | --query-px Y,X]
        [--losses NAME ...] [--head N] [--batch-stats] [--device cpu|cuda]
        [--cfg-options k=v ...]

CONFIG is the distillation config the CHECKPOINT was trained with (a
``tools/train.py`` checkpoint: ``student.*`` and ``distill_losses.*`` keys).
The image goes through the config's test pipeline (annotation loading
dropped) and the model's data preprocessor; the teacher and the student run
as in training, up to their recorded layers, in eval mode. For every TaT-type
distillation loss (every level of a multi-level one) DIR/<loss>[_level<i>]/
gets:

    windows.png          the input with the plain and the shifted window grid
    features.png         teacher map and the student's reconstruction of it,
                         per pass (PCA to RGB on one basis, and channel norm)
    loss_maps.png        per-position squared error of each pass
    attention_<pass>.png one query's attention over its window, masked keys
                         and padding shown
    maps.npz             <pass>_error (B, H', W') maps, <pass>_loss,
                         <pass>_channels, <pass>_weights / _allowed of the
                         query, total (from the maps) and forward (the
                         loss's own value: they agree)

The query is a teacher feature-map cell (``--query``, default the centre) or
an input pixel (``--query-px``), the same for every loss.
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import mmswtat  # noqa: E402,F401  (mmswtat:: configs, registry, safe loading)
from mmswtat.models.losses import BaseTaTLoss  # noqa: E402
from mmswtat.models.ops import patch_merge  # noqa: E402
from mmswtat.utils import is_distiller_config, load_tool_config  # noqa: E402
from mmswtat.utils.checkpoint import extract_state_dict  # noqa: E402
from mmswtat.analysis import (channel_norm, draw_features,  # noqa: E402
                                   draw_loss_maps, draw_query_attention,
                                   draw_window_overlay, inspect_tat_loss,
                                   pca_rgb, query_attention, save_figure)

_FEATURE_PREFIXES = ('backbone', 'neck')
_START = time.time()


def log(msg: str) -> None:
    print(f'[visualize {time.time() - _START:5.1f}s] {msg}', flush=True)


def fail(msg: str) -> None:
    sys.exit(f'visualize_distill.py: error: {msg}')


def parse_pair(text: str, what: str) -> Tuple[int, int]:
    try:
        y, x = (int(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{what} must be two integers "Y,X", got {text!r}') from None
    return y, x


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pictures of a SW-TaT distiller on one image: window '
        'grids, teacher vs reconstruction, per-position loss, attention')
    parser.add_argument('config', help='distillation config (or scope::path)')
    parser.add_argument('checkpoint', help='distillation checkpoint '
                        '(tools/train.py output)')
    parser.add_argument('image', help='input image file')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--teacher-ckpt',
        help='teacher checkpoint (default: model.teacher_ckpt of the config)')
    query = parser.add_mutually_exclusive_group()
    query.add_argument(
        '--query',
        type=lambda t: parse_pair(t, '--query'),
        help='query cell "Y,X" on the teacher feature map (default: centre)')
    query.add_argument(
        '--query-px',
        type=lambda t: parse_pair(t, '--query-px'),
        help='query as an input pixel "Y,X" (mapped to each feature map)')
    parser.add_argument(
        '--losses', nargs='+', help='only these distillation losses')
    parser.add_argument(
        '--head', type=int, help='attention head to show (default: mean)')
    parser.add_argument(
        '--batch-stats',
        action='store_true',
        help="normalise the connectors and the losses' embeddings with the "
        "image's own batch statistics, as in training (default: running "
        'statistics, as the trained model stands); the logged training loss '
        'used these')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device (default: cuda if available)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value (nested keys with dots)')
    return parser.parse_args(argv)


# ------------------------------------------------------------------ model
def build_distiller(cfg: Config, checkpoint: str, device: str):
    from mmengine.registry import init_default_scope

    from mmswtat.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmswtat'))
    model_cfg = cfg.model
    if cfg.get('data_preprocessor') is not None:
        # As the Runner does: the top-level preprocessor goes to the model.
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    try:
        model = MODELS.build(model_cfg)
    except (FileNotFoundError, RuntimeError) as e:
        fail(f'building the distiller failed: {e}\n(give the teacher '
             'weights with --teacher-ckpt FILE)')
    state = extract_state_dict(
        torch.load(checkpoint, map_location='cpu', weights_only=True))
    if not any(k.startswith('student.') for k in state):
        fail(f'{checkpoint!r} has no student.* weights: not a distillation '
             'checkpoint of tools/train.py (a plain or exported student '
             'checkpoint cannot show the distillation losses)')
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys
               if not k.endswith('num_batches_tracked')]
    if missing or result.unexpected_keys:
        fail(f'{checkpoint!r} does not fit this config: missing '
             f'{missing[:5]} ({len(missing)}), unexpected '
             f'{list(result.unexpected_keys)[:5]} '
             f'({len(result.unexpected_keys)}); use the config it was '
             'trained with (and the same --cfg-options)')
    return model.to(device).eval()


def test_pipeline(cfg: Config) -> list:
    """The config's test (or val) pipeline without annotation loading."""
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
        fail('the config has no test_dataloader/val_dataloader pipeline to '
             'load the image with')
    return [t for t in pipeline if 'Annotations' not in str(t.get('type'))]


def load_image(cfg: Config, model, image: str):
    """Preprocessed batch of one image and the picture of it the model saw.

    Returns:
        ``(inputs (1, 3, H_in, W_in), data_samples, picture (H_in, W_in, 3)
        uint8 RGB)``.
    """
    from mmengine.dataset import Compose
    data = Compose(test_pipeline(cfg))(dict(img_path=image))
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


def record_features(model, inputs, data_samples) -> Tuple[dict, dict]:
    """Run the teacher and the student up to their recorded layers."""
    model.run_teacher(inputs, data_samples)
    recorder = model.student_recorder
    in_features = all(
        p.split('.')[0] in _FEATURE_PREFIXES for p in recorder.paths.values())
    recorder.active = True
    try:
        with torch.no_grad():
            if in_features and hasattr(model.student, 'extract_feat'):
                model.student.extract_feat(inputs)
            else:
                model.student(inputs, data_samples, mode='tensor')
    finally:
        recorder.active = False
    missing = recorder.missing()
    if missing:
        fail(f'student recorders {missing} were not reached by the '
             "student's forward")
    return dict(recorder.records), dict(model.teacher_recorder.records)


def loss_inputs(model, student_rec: dict, teacher_rec: dict,
                wanted: Optional[List[str]]):
    """``[(folder name, loss module, student, teacher), ...]``."""
    names = list(model.distill_losses)
    if wanted:
        unknown = [n for n in wanted if n not in names]
        if unknown:
            fail(f'--losses {unknown} are not distillation losses of this '
                 f'config; it has {names}')
        names = [n for n in names if n in wanted]
    out = []
    for name in names:
        mapping = model.loss_forward_mappings[name]
        modules = model.distill_losses[name]
        for level, (s_idx, t_idx) in enumerate(mapping['levels']):
            lvl = level if mapping['multi'] else None
            module = modules if lvl is None else modules[lvl]
            folder = name if lvl is None else f'{name}_level{lvl}'
            if not isinstance(module, BaseTaTLoss):
                log(f'{folder}: {type(module).__name__} is not a TaT-type '
                    'loss, skipped')
                continue
            with torch.no_grad():
                s = model.select_feature(student_rec, mapping['student'], s_idx,
                                  name, 'student', lvl)
                t = model.select_feature(teacher_rec, mapping['teacher'], t_idx,
                                  name, 'teacher', lvl)
            out.append((folder, module, s, t))
    return out


# ---------------------------------------------------------------- figures
def query_cell(args, feat_hw: Tuple[int, int],
               input_hw: Tuple[int, int], folder: str) -> Tuple[int, int]:
    h, w = feat_hw
    if args.query_px is not None:
        py, px = args.query_px
        if not (0 <= py < input_hw[0] and 0 <= px < input_hw[1]):
            fail(f'--query-px {args.query_px} is outside the '
                 f'{input_hw[0]}x{input_hw[1]} model input')
        return py * h // input_hw[0], px * w // input_hw[1]
    if args.query is not None:
        y, x = args.query
        if not (0 <= y < h and 0 <= x < w):
            fail(f'--query {args.query} is outside the {h}x{w} teacher map '
                 f'of {folder}; use 0 <= Y < {h}, 0 <= X < {w} (or '
                 '--query-px in input pixels)')
        return y, x
    return h // 2, w // 2


def visualize_loss(args, folder: str, loss: BaseTaTLoss, student, teacher,
                   picture: np.ndarray) -> Dict[str, str]:
    out_dir = osp.join(args.out, folder)
    os.makedirs(out_dir, exist_ok=True)
    if args.head is not None and not 0 <= args.head < loss.num_heads:
        fail(f'--head {args.head}: {folder} has {loss.num_heads} head(s)')
    ins = inspect_tat_loss(loss, student, teacher)
    with torch.no_grad():  # the loss's own forward, as a cross-check
        forward = float(loss(student, teacher))
    h, w = ins.target.shape[-2:]
    y, x = query_cell(args, (h, w), picture.shape[:2], folder)
    stride = picture.shape[0] / h
    summary = ', '.join(f'{k} {p.loss:.4g}' for k, p in ins.passes.items())
    log(f'{folder}: {type(loss).__name__} on the {h}x{w} teacher map '
        f'(stride ~{stride:g}); pass losses {summary} -> {ins.total:.4g} '
        f'(loss_weight {loss.loss_weight}; the loss itself gives '
        f'{forward:.4g})')
    layouts = [p.layout for p in ins.passes.values()]
    written = {}
    written['windows'] = save_figure(
        draw_window_overlay(
            picture, layouts, query=(y, x),
            title=f'{folder}: {h}x{w} teacher map, stride ~{stride:g}'),
        osp.join(out_dir, 'windows.png'))

    target = ins.target[0]
    recon = {k: p.reconstruction[0] for k, p in ins.passes.items()}
    rgbs = pca_rgb([target] + list(recon.values()))
    written['features'] = save_figure(
        draw_features(rgbs[0], dict(zip(recon, rgbs[1:])),
                      channel_norm(target),
                      {k: channel_norm(v) for k, v in recon.items()},
                      title=f'{folder}: teacher vs student reconstruction'),
        osp.join(out_dir, 'features.png'))

    maps = {k: p.error_map[0].cpu().numpy() for k, p in ins.passes.items()}
    written['loss_maps'] = save_figure(
        draw_loss_maps(maps, {k: p.loss for k, p in ins.passes.items()},
                       {k: p.layout for k, p in ins.passes.items()},
                       title=f'{folder}: per-position squared error '
                       f'(loss = sum / (B*C*H*W))'),
        osp.join(out_dir, 'loss_maps.png'))

    arrays = dict(total=np.float64(ins.total), forward=np.float64(forward),
                  loss_weight=np.float64(loss.loss_weight),
                  query=np.array([y, x]))
    for pass_name, p in ins.passes.items():
        att = query_attention(loss, ins, pass_name, y, x)
        grid = patch_merge(ins.target, p.layout.merges)[0]
        written[f'attention_{pass_name}'] = save_figure(
            draw_query_attention(att, channel_norm(grid), args.head,
                                 title=folder),
            osp.join(out_dir, f'attention_{pass_name}.png'))
        arrays[f'{pass_name}_error'] = p.error_map.cpu().numpy()
        arrays[f'{pass_name}_loss'] = np.float64(p.loss)
        arrays[f'{pass_name}_channels'] = np.int64(p.channels)
        arrays[f'{pass_name}_weights'] = att.weights
        arrays[f'{pass_name}_allowed'] = att.allowed
    np.savez(osp.join(out_dir, 'maps.npz'), **arrays)
    written['maps'] = osp.join(out_dir, 'maps.npz')
    return written


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    for what, path in (('checkpoint', args.checkpoint),
                       ('image', args.image)):
        if not osp.isfile(path):
            fail(f'{what} {path!r} does not exist')
    if args.teacher_ckpt and not osp.isfile(args.teacher_ckpt) and \
            '://' not in args.teacher_ckpt:
        fail(f'--teacher-ckpt {args.teacher_ckpt!r} does not exist')
    try:
        cfg = load_tool_config(args.config, args.cfg_options)
    except FileNotFoundError as e:
        fail(str(e))
    if not is_distiller_config(cfg):
        fail(f'{args.config!r} is not a distillation config (model.type is '
             f'{cfg.model.get("type")!r}); give the config the checkpoint '
             'was trained with')
    if args.teacher_ckpt:
        cfg.model.teacher_ckpt = args.teacher_ckpt
    elif not cfg.model.get('teacher_ckpt'):
        log('warning: no teacher_ckpt in the config: the teacher has random '
            'weights (give --teacher-ckpt)')

    log(f'1/4 building the distiller and loading {args.checkpoint}')
    model = build_distiller(cfg, args.checkpoint, args.device)
    log(f'2/4 loading {args.image} through the test pipeline')
    inputs, samples, picture = load_image(cfg, model, args.image)
    log(f'3/4 teacher and student forward on {tuple(inputs.shape)}')
    student_rec, teacher_rec = record_features(model, inputs, samples)
    # Connectors (e.g. the shared student projection) normalise like the
    # losses' embeddings: running statistics unless --batch-stats.
    model.connectors.train(args.batch_stats)
    items = loss_inputs(model, student_rec, teacher_rec, args.losses)
    if not items:
        fail('no TaT-type distillation loss (SWTaTLoss, TaTLoss, '
             'PatchMergeTaTLoss) in this config: nothing to show')
    for i, (folder, loss, s, t) in enumerate(items, 1):
        log(f'4/4 [{i}/{len(items)}] {folder}')
        loss.train(args.batch_stats)
        written = visualize_loss(args, folder, loss, s, t, picture)
        for path in written.values():
            print(f'    {path}')
    log(f'done: {osp.abspath(args.out)}')


if __name__ == '__main__':
    main()
