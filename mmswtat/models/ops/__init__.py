from .target_aware import (ATTENTION_IMPLS, channel_first_attention,
                           global_tat_error, map_distinct, patch_merge,
                           resolve_attention_impl, resolve_num_merges,
                           resolve_scale, target_aware_attention,
                           window_tat_error, window_tat_errors)
from .resize import resize_to
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
    'window_geometry', 'window_partition', 'window_reverse_map', 'resize_to'
]
