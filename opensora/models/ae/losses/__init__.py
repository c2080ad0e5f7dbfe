from .discriminator import NLayerDiscriminator
from .lpips import LPIPS
from .vae_loss import LPIPSWithDiscriminator, fold_frames

__all__ = ["LPIPS", "LPIPSWithDiscriminator", "NLayerDiscriminator", "fold_frames"]
