"""Pictures of what distillation does, and training curves.

Pure helpers used by ``tools/analysis/visualize_distill.py`` and
``tools/analysis/plot_logs.py``: the windows of each pass of a TaT-type
loss (the loss describes its passes, ``loss.pass_layouts(H, W)``),
per-position inspection (error maps, reconstructions, one query's attention),
feature colouring, matplotlib figures on an Agg canvas (pyplot is never
imported, so no display is needed), mmengine ``scalars.json`` reading, and
a distillation checkpoint's loss inputs on one image with the files written
for each loss.
"""
from .curves import curves_size, draw_curves
from .distill_inputs import (build_distiller, image_pipeline, load_image,
                             loss_inputs, record_features)
from .distill_report import query_cell, write_loss_report
from .features import channel_norm, pca_rgb
from .figures import (attention_size, draw_features, draw_loss_maps,
                      draw_query_attention, draw_window_overlay, features_size,
                      loss_maps_size, new_figure, overlay_size, save_figure)
from .passes import (boundaries, from_windows, locate, to_windows,
                     window_positions)
from .scalars import (RunLog, find_scalar_files, load_run, read_records,
                      select_metrics, split_series)
from .tat_inspection import (PassInspection, QueryAttention, TaTInspection,
                             inspect_tat_loss, query_attention)

__all__ = [
    'to_windows', 'from_windows', 'locate', 'window_positions', 'boundaries',
    'PassInspection', 'TaTInspection', 'QueryAttention', 'inspect_tat_loss',
    'query_attention', 'pca_rgb', 'channel_norm', 'new_figure', 'save_figure',
    'draw_window_overlay', 'draw_features', 'draw_loss_maps',
    'draw_query_attention', 'overlay_size', 'features_size', 'loss_maps_size',
    'attention_size', 'RunLog', 'find_scalar_files', 'read_records',
    'split_series', 'select_metrics', 'load_run', 'draw_curves', 'curves_size',
    'build_distiller', 'image_pipeline', 'load_image', 'record_features',
    'loss_inputs', 'query_cell', 'write_loss_report'
]
