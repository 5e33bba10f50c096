from .cwd import channel_wise_divergence
from .dist import dist_rows, dist_terms, pearson_rows
from .kd import kd_divergence, softmax_kl, valid_mask_from_labels
from .pass_layout import (REFERENCE_SIZE, PassLayout, global_pass,
                          ineffective_passes, merged_sizes, patch_merge,
                          resolve_num_merges, window_pass)
from .pkd import PKD_EPS, channel_normalize, pkd_divergence
from .resize import resize_to
from .target_aware import (ATTENTION_IMPLS, channel_first_attention,
                           check_reduction, map_distinct, pass_error,
                           resolve_attention_impl, resolve_scale,
                           resolved_attention)
from .tat_normalize import (CHANNEL_EPS, TAT_NORMALIZE, channel_standardize,
                            tat_normalize, teacher_mean_square)
from .window import (WindowGeometry, check_window_and_shift, region_labels,
                     to_2tuple, validity_map, window_attention_bias,
                     window_attention_mask, window_geometry)
from .window_gather import (WindowIndex, gather_windows, window_index,
                            windows_to_map)

__all__ = [
    'ATTENTION_IMPLS', 'channel_first_attention', 'check_reduction',
    'map_distinct', 'pass_error', 'patch_merge', 'resolve_attention_impl',
    'resolve_num_merges', 'resolve_scale', 'resolved_attention',
    'REFERENCE_SIZE', 'ineffective_passes', 'PassLayout', 'global_pass',
    'merged_sizes', 'window_pass', 'resize_to', 'WindowIndex',
    'gather_windows', 'window_index', 'windows_to_map', 'WindowGeometry',
    'check_window_and_shift', 'region_labels', 'to_2tuple', 'validity_map',
    'window_attention_bias', 'window_attention_mask', 'window_geometry',
    'channel_wise_divergence', 'dist_rows', 'dist_terms', 'pearson_rows',
    'kd_divergence', 'softmax_kl', 'valid_mask_from_labels', 'PKD_EPS',
    'channel_normalize', 'pkd_divergence', 'CHANNEL_EPS', 'TAT_NORMALIZE',
    'channel_standardize', 'tat_normalize', 'teacher_mean_square'
]
