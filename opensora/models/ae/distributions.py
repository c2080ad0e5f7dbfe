"""Diagonal Gaussian posterior of the VAE (videobase/utils/distrib_utils.py), V7."""

import numpy as np
from mindspore import ops

from ...backend import kernel_choices
from ..fast_ops import accurate_exp


class DiagonalGaussianDistribution:
    """`moments` (B, 2*Z, ...) -> mean, logvar clamped to [-30, 20], std, var.

    `kl()` and `nll()` sum over dims [1, 2, 3] only, as the original: for 5-D latents they return (B, W).
    """

    def __init__(self, moments, deterministic=False):
        self.parameters = moments
        self.mean, logvar = ops.chunk(moments, 2, axis=1)
        self.logvar = ops.clamp(logvar, -30.0, 20.0)
        self.deterministic = deterministic
        fp64 = kernel_choices().exp_in_fp64
        self.std = accurate_exp(0.5 * self.logvar, fp64)
        self.var = accurate_exp(self.logvar, fp64)
        if deterministic:
            self.std = ops.zeros_like(self.mean)
            self.var = ops.zeros_like(self.mean)

    def sample(self, noise=None):
        """mean + std * noise; `noise` defaults to a draw from MindSpore's global RNG."""
        if noise is None:
            noise = ops.randn(self.mean.shape, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def mode(self):
        return self.mean

    def kl(self, other=None):
        if self.deterministic:
            return ops.zeros(1)
        if other is None:
            terms = ops.pow(self.mean, 2) + self.var - 1.0 - self.logvar
        else:
            terms = ops.pow(self.mean - other.mean, 2) / other.var + self.var / other.var - 1.0 \
                - self.logvar + other.logvar
        return 0.5 * terms.sum(axis=(1, 2, 3))

    def nll(self, sample, dims=(1, 2, 3)):
        if self.deterministic:
            return ops.zeros(1)
        log_two_pi = float(np.log(2.0 * np.pi))
        return 0.5 * (log_two_pi + self.logvar + ops.pow(sample - self.mean, 2) / self.var).sum(axis=dims)
