"""Open-Sora-Plan v1.3 WF-VAE (Wavelet-Flow VAE)."""

from .model import WFVAEModel, read_wfvae_state

__all__ = ["WFVAEModel", "read_wfvae_state"]
