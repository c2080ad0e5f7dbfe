from .discriminator import NLayerDiscriminator, NLayerDiscriminator3D
from .lpips import LPIPS
from .vae_loss import LPIPSWithDiscriminator, fold_frames
from .vae_loss_3d import LPIPSWithDiscriminator3D

__all__ = ["LPIPS", "LPIPSWithDiscriminator", "LPIPSWithDiscriminator3D", "NLayerDiscriminator",
           "NLayerDiscriminator3D", "fold_frames"]
