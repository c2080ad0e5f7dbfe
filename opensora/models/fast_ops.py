"""Elementwise formulations whose fast form depends on the backend (opensora.backend; docs/performance.md).

Measured on MindSpore 2.7.2's CPU kernels (fp32): the fused `ops.gelu(approximate="tanh")` is ~4x slower than the
same function written as x * sigmoid(2u), and a multiply that broadcasts a (N, 1, D) operand over (N, L, D) is ~4x
slower than tiling the operand first and multiplying same-shape tensors. Both rewrites do the same arithmetic per
element, so parity with the original is unchanged (tested against the fixtures); other backends use the fused
kernel and plain broadcasting.
"""

import math

import mindspore as ms
from mindspore import ops

from ..backend import kernel_choices

_GELU_2C = 2.0 * math.sqrt(2.0 / math.pi)


def accurate_exp(x, fp64):
    """exp, rounded from fp64 when `fp64` (KernelChoices.exp_in_fp64) and x is fp32: MindSpore's CPU fp32 exp is off
    by up to 5.5e-6 relative, biased low, which moves the VAE KL beyond the original's own rounding."""
    if fp64 and x.dtype == ms.float32:
        return ops.exp(x.astype(ms.float64)).astype(ms.float32)
    return ops.exp(x)


def gelu_tanh(x, as_sigmoid=True):
    """GELU with the tanh approximation (torch `approximate='tanh'`, HF `gelu_new`).

    as_sigmoid: 0.5 x (1 + tanh(u)) == x * sigmoid(2u) in fp32, within 1e-6 of an fp64 reference over [-12, 12],
    where MindSpore's CPU fp32 tanh is off by up to 1e-4 and its fused gelu is slow; else the fused kernel."""
    if not as_sigmoid:
        return ops.gelu(x, approximate="tanh")
    h = x.astype(ms.float32)
    return (h * ops.sigmoid(_GELU_2C * (h + 0.044715 * (h * h * h)))).astype(x.dtype)


def tile_to(v, shape, tile=True):
    """`v` repeated along its size-1 axes up to `shape` (same rank), so that the op using it does not broadcast;
    `v` itself when `tile` is off (the backend broadcasts fast)."""
    if not tile:
        return v
    reps = tuple(s // d if d == 1 else 1 for s, d in zip(shape, v.shape))
    if all(r == 1 for r in reps):
        return v
    return ops.tile(v, reps)


class ElementwiseForms:
    """Mixin for cells that use gelu_tanh / tile_to: holds the backend's two answers as plain attributes."""

    def init_kernels(self):
        self.set_kernels(kernel_choices())

    def set_kernels(self, kernels):
        self.gelu_as_sigmoid = kernels.gelu_as_sigmoid
        self.tile = kernels.tile_before_multiply
