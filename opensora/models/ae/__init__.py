from .causal_vae.model import CausalVAEModel
from .distributions import DiagonalGaussianDistribution
from .families import detect_family, families, load_autoencoder

VAE_SCALE_FACTOR = 0.18215  # latents = sample * 0.18215 for Latte (CausalVAEModelWrapper)

__all__ = ["CausalVAEModel", "DiagonalGaussianDistribution", "VAE_SCALE_FACTOR", "detect_family", "families",
           "load_autoencoder"]
