from .base_tat_loss import BaseTaTLoss
from .kl_div_loss import KLDivLoss
from .patch_merge_tat_loss import PatchMergeTaTLoss
from .swtat_loss import SWTaTLoss
from .tat_loss import TaTLoss

__all__ = [
    'BaseTaTLoss', 'KLDivLoss', 'PatchMergeTaTLoss', 'SWTaTLoss', 'TaTLoss'
]
