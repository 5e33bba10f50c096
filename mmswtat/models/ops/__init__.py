from .target_aware import (error_to_loss, global_tat_error, patch_merge,
                           resolve_num_merges, resolve_scale,
                           target_aware_attention, window_tat_error)
from .window import (WindowGeometry, check_window_and_shift, pad_and_shift,
                     region_labels, to_2tuple, validity_map,
                     window_attention_mask, window_geometry, window_partition,
                     window_reverse_map)

__all__ = [
    'error_to_loss', 'global_tat_error', 'patch_merge', 'resolve_num_merges',
    'resolve_scale', 'target_aware_attention', 'window_tat_error',
    'WindowGeometry', 'check_window_and_shift', 'pad_and_shift',
    'region_labels', 'to_2tuple', 'validity_map', 'window_attention_mask',
    'window_geometry', 'window_partition', 'window_reverse_map'
]
