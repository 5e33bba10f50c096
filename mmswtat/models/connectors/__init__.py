from .conv_bn_connector import ConvBNConnector
from .resize_connector import ResizeConnector, resize_to

__all__ = ['ConvBNConnector', 'ResizeConnector', 'resize_to']
