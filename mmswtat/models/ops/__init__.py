from .cwd import channel_wise_divergence
from .dist import dist_rows, dist_terms, pearson_rows
from .kd import kd_divergence, softmax_kl, valid_mask_from_labels
from .target_aware import (ATTENTION_IMPLS, channel_first_attention,
                           global_tat_error, map_distinct, patch_merge,
                           resolve_attention_impl, resolve_num_merges,
                           resolve_scale, target_aware_attention,
                           window_tat_error, window_tat_errors)
from .tat_normalize import (CHANNEL_EPS, TAT_NORMALIZE,
                            channel_standardize, tat_normalize,
                            teacher_mean_square)
from .window import (WindowGeometry, check_window_and_shift, pad_and_shift,
                     region_labels, to_2tuple, validity_map,
                     window_attention_bias, window_attention_mask,
                     window_geometry, window_partition, window_reverse_map)
from .window_gather import (WindowIndex, gather_windows, window_index,
                            windows_to_map)

__all__ = [
    'ATTENTION_IMPLS', 'channel_first_attention', 'global_tat_error',
    'map_distinct', 'patch_merge', 'resolve_attention_impl',
    'resolve_num_merges', 'resolve_scale', 'target_aware_attention',
    'window_tat_error', 'window_tat_errors', 'WindowIndex', 'gather_windows',
    'window_index', 'windows_to_map', 'WindowGeometry',
    'check_window_and_shift', 'pad_and_shift', 'region_labels', 'to_2tuple',
    'validity_map', 'window_attention_bias', 'window_attention_mask',
    'window_geometry', 'window_partition', 'window_reverse_map',
    'channel_wise_divergence', 'dist_rows', 'dist_terms', 'pearson_rows',
    'kd_divergence', 'softmax_kl', 'valid_mask_from_labels', 'CHANNEL_EPS',
    'TAT_NORMALIZE', 'channel_standardize', 'tat_normalize',
    'teacher_mean_square'
]
