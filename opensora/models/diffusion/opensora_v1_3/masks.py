"""The conditioning masks of Open-Sora-Plan v1.3's image-to-video / inpainting (opensora/utils/mask_utils.py):
which frames are given (0) and which are generated (1), and their compression to the latent grid.

Mask types: t2iv (generate everything), i2v (the first frame given), transition (first and last), continuation
(the first k frames, k drawn in [floor(T min_ratio), ceil(T max_ratio)]), clear (every frame given),
random_temporal (a random set of frames given). The random ones draw with Python's `random` module in the
original's order (randint, then sample), so a seeded `random.Random` gives the original's masks.
"""

import random
from math import ceil, floor

import numpy as np

MASK_TYPES = ("t2iv", "i2v", "transition", "continuation", "clear", "random_temporal")


def frame_mask(mask_type, num_frames, rng=None, min_clear_ratio=0.0, max_clear_ratio=1.0):
    """(T,) float32: 1 where the frame is generated, 0 where it is given. `rng`: a random.Random (default: the
    module's global generator, as the original)."""
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask type {mask_type!r}: choose one of {', '.join(MASK_TYPES)}")
    if not 0 <= min_clear_ratio <= max_clear_ratio <= 1:
        raise ValueError(f"clear ratios {min_clear_ratio}, {max_clear_ratio}: need 0 <= min <= max <= 1")
    rng = rng or random
    mask = np.ones(num_frames, np.float32)
    if mask_type == "i2v":
        mask[0] = 0
    elif mask_type == "transition":
        mask[0] = mask[-1] = 0
    elif mask_type == "continuation":
        mask[:rng.randint(floor(num_frames * min_clear_ratio), ceil(num_frames * max_clear_ratio))] = 0
    elif mask_type == "clear":
        mask[:] = 0
    elif mask_type == "random_temporal":
        count = rng.randint(floor(num_frames * min_clear_ratio), ceil(num_frames * max_clear_ratio))
        mask[rng.sample(range(num_frames), count)] = 0
    return mask


def choose_mask_type(ratios, rng=None):
    """MaskProcessor's draw from a {mask type: weight} dict (random.choices over its items, in dict order)."""
    unknown = set(ratios) - set(MASK_TYPES)
    if unknown:
        raise ValueError(f"mask types {sorted(unknown)}: choose from {', '.join(MASK_TYPES)}")
    return (rng or random).choices(list(ratios), list(ratios.values()))[0]


def pixel_mask(mask_type, num_frames, height, width, rng=None, min_clear_ratio=0.0, max_clear_ratio=1.0):
    """(T, 1, H, W) as MaskProcessor returns it."""
    mask = frame_mask(mask_type, num_frames, rng, min_clear_ratio, max_clear_ratio)
    return np.broadcast_to(mask[:, None, None, None], (num_frames, 1, height, width)).copy()


def bilinear_downsample(x, factor_h, factor_w):
    """torch.nn.functional.interpolate(x, size=(H/fh, W/fw), mode='bilinear') (align_corners False, no antialias)
    over the last two axes: each output is the mean of the 2x2 pixels around its centre (even factors)."""
    *lead, h, w = x.shape
    out_h, out_w = h // factor_h, w // factor_w

    def taps(size_in, size_out):
        src = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
        src = np.maximum(src, 0)
        low = np.floor(src).astype(np.int64)
        high = np.minimum(low + 1, size_in - 1)
        frac = (src - low).astype(np.float32)
        return low, high, frac

    lo, hi, fy = taps(h, out_h)
    x = x[..., lo, :] * (1 - fy)[:, None] + x[..., hi, :] * fy[:, None]
    lo, hi, fx = taps(w, out_w)
    return (x[..., lo] * (1 - fx) + x[..., hi] * fx).astype(np.float32)


def compress_mask(mask, stride_t=4, stride_h=8, stride_w=8):
    """MaskCompressor: (B, 1, T, H, W) pixel mask -> (B, stride_t, T', H/sh, W/sw), the inpaint model's mask input.
    Spatially bilinear-downsampled; in time the first frame is repeated stride_t times (T odd, as the causal
    VAE keeps frame 0) and each latent frame's stride_t pixel frames become its channels."""
    b, c, t, h, w = mask.shape
    if c != 1:
        raise ValueError(f"compress_mask takes one mask channel, got {c}")
    small = bilinear_downsample(np.asarray(mask, np.float32), stride_h, stride_w)
    if t % 2 == 1:
        small = np.concatenate([np.repeat(small[:, :, :1], stride_t, axis=2), small[:, :, 1:]], axis=2)
        new_t = t // stride_t + 1
    else:
        new_t = t // stride_t
    small = small.reshape(b, new_t, stride_t, h // stride_h, w // stride_w)
    return np.ascontiguousarray(small.transpose(0, 2, 1, 3, 4))
