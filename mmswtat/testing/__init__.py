from .tiny import as_cli, seg_tiny_options

__all__ = ["as_cli", "seg_tiny_options"]
