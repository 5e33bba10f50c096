from ..ops import resize_to
from .conv_bn_connector import ConvBNConnector
from .resize_connector import ResizeConnector

__all__ = ['ConvBNConnector', 'ResizeConnector', 'resize_to']
