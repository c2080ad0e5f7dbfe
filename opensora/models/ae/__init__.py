from .causal_vae.model import CausalVAEModel
from .distributions import DiagonalGaussianDistribution

VAE_SCALE_FACTOR = 0.18215  # latents = sample * 0.18215 for Latte (CausalVAEModelWrapper)

__all__ = ["CausalVAEModel", "DiagonalGaussianDistribution", "VAE_SCALE_FACTOR"]
