"""KL and discretized-Gaussian likelihood terms of the IDDPM loss (diffusion_utils.py), in MindSpore ops."""

import math

import mindspore as ms
from mindspore import ops

from ..backend import kernel_choices


def mean_flat(x):
    """Mean over all non-batch dimensions."""
    return x.mean(axis=tuple(range(1, x.ndim)))


def normal_kl(mean1, logvar1, mean2, logvar2):
    """KL(N(mean1, e^logvar1) || N(mean2, e^logvar2)), elementwise, in nats."""
    return 0.5 * (-1.0 + logvar2 - logvar1 + ops.exp(logvar1 - logvar2) + ops.square(mean1 - mean2) * ops.exp(-logvar2))


def tanh_needs_fp64():
    """The backend's answer (opensora.backend): MindSpore's CPU fp32 tanh is off by up to 1e-4 (tanh(5) > 1),
    which the decoder NLL's log(1 - cdf) turns into O(1) errors; there tanh is computed in fp64."""
    return kernel_choices().tanh_in_fp64


def accurate_tanh(x, fp64):
    """tanh, rounded from fp64 when `fp64` (see tanh_needs_fp64) and x is fp32."""
    if fp64 and x.dtype == ms.float32:
        return ops.tanh(x.astype(ms.float64)).astype(ms.float32)
    return ops.tanh(x)


def approx_standard_normal_cdf(x, fp64_tanh):
    """The tanh approximation of the standard normal CDF that upstream uses."""
    return 0.5 * (1.0 + accurate_tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * ops.pow(x, 3)), fp64_tanh))


def discretized_gaussian_log_likelihood(x, means, log_scales, fp64_tanh=None):
    """Log-likelihood of `x` under a Gaussian discretized to bins of +-1/255 (edges at -0.999 / 0.999).

    `fp64_tanh`: None decides by the current backend (tanh_needs_fp64); compiled callers pass it in."""
    if fp64_tanh is None:
        fp64_tanh = tanh_needs_fp64()
    centered = x - means
    inv_stdv = ops.exp(-log_scales)
    cdf_plus = approx_standard_normal_cdf(inv_stdv * (centered + 1.0 / 255.0), fp64_tanh)
    cdf_min = approx_standard_normal_cdf(inv_stdv * (centered - 1.0 / 255.0), fp64_tanh)
    log_cdf_plus = ops.log(ops.clamp(cdf_plus, min=1e-12))
    log_one_minus_cdf_min = ops.log(ops.clamp(1.0 - cdf_min, min=1e-12))
    log_cdf_delta = ops.log(ops.clamp(cdf_plus - cdf_min, min=1e-12))
    return ops.where(x < -0.999, log_cdf_plus, ops.where(x > 0.999, log_one_minus_cdf_min, log_cdf_delta))
