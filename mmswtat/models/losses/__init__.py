from .anchor_tat_loss import AnchorTaTLoss
from .base_tat_loss import BaseTaTLoss
from .cwd_loss import ChannelWiseDivergence
from .dist_loss import DISTLoss
from .distill_loss import DistillLoss
from .feature_mse_loss import FeatureMSELoss
from .kd_loss import KDLoss
from .kl_div_loss import KLDivLoss
from .patch_merge_tat_loss import PatchMergeTaTLoss
from .peer_loss import PeerLoss
from .pkd_loss import PKDLoss
from .swtat_loss import SWTaTLoss
from .tat_loss import TaTLoss

__all__ = [
    'AnchorTaTLoss', 'BaseTaTLoss', 'KLDivLoss', 'PatchMergeTaTLoss',
    'SWTaTLoss', 'TaTLoss', 'ChannelWiseDivergence', 'DISTLoss', 'DistillLoss',
    'FeatureMSELoss', 'KDLoss', 'PeerLoss', 'PKDLoss'
]
