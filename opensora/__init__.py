"""MindSpore port of Open-Sora-Plan v1.0.0 (causal video VAE, LatteT2V, Gaussian diffusion, T5)."""

__version__ = "0.1.0"
