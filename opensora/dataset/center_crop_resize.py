"""Open-Sora-Plan v1.3's CenterCropResizeVideo (opensora/dataset/transform.py), exactly: centre-crop the frames to the
target's aspect ratio, then resize with torch's antialiased bilinear filter (`interpolate(..., mode='bilinear',
align_corners=True, antialias=True)`), in numpy.

torch computes the filter separably: per output pixel a triangle filter stretched by the scale when shrinking,
weights normalised to sum 1. On float frames it sums in floating point; on uint8 frames (what the image-to-video
pipeline hands it) it rounds the weights to int16 fixed point, passes horizontally then vertically and rounds each
pass back to uint8 -- both are reproduced here (`tests/unit/test_inpaint.py` against the original's outputs).
"""

import numpy as np


def center_crop_box(height, width, target_h, target_w):
    """(top, left, h, w) of center_crop_th_tw (top_crop False)."""
    ratio = target_h / target_w
    if height / width > ratio:
        new_h, new_w = int(width * ratio), width
    else:
        new_h, new_w = height, int(height / ratio)
    return int(round((height - new_h) / 2.0)), int(round((width - new_w) / 2.0)), new_h, new_w


def aa_bilinear_weights(size_in, size_out, dtype=np.float64):
    """For each output index: (first input index, weights over the following inputs), as torch's
    _compute_weights_aa with align_corners=True (scale (in - 1) / (out - 1)), in `dtype` (torch: the frames'
    float type; double for uint8 frames, before the int16 rounding)."""
    one, half = dtype(1.0), dtype(0.5)
    scale = dtype((size_in - 1) / (size_out - 1)) if size_out > 1 else dtype(0.0)
    support = scale if scale >= one else one  # interp_size 2 for bilinear, x 0.5, x scale when shrinking
    invscale = one / scale if scale >= one else one
    starts, weights = [], []
    for i in range(size_out):
        center = dtype(scale * (dtype(i) + half))
        xmin = max(int(center - support + half), 0)
        xsize = min(int(center + support + half), size_in) - xmin
        w = []
        for j in range(xsize):  # the filter and the running total in torch's order and precision
            w.append(max(dtype(0.0), one - abs(dtype(dtype(j + xmin) - center + half) * invscale)))
        w = np.array(w, dtype)
        total = dtype(0.0)
        for value in w:
            total = dtype(total + value)
        starts.append(xmin)
        weights.append(w / total if total != 0 else w)
    return starts, weights


def _resize_axis_float(x, axis, size_out):
    starts, weights = aa_bilinear_weights(x.shape[axis], size_out, x.dtype.type)
    x = np.moveaxis(x, axis, -1)
    out = []
    for s, w in zip(starts, weights):  # tap by tap, as torch's kernel accumulates
        acc = x[..., s] * w[0]
        for k in range(1, len(w)):
            acc = acc + x[..., s + k] * w[k]
        out.append(acc)
    out = np.stack(out, axis=-1)
    return np.moveaxis(out, -1, axis)


def _int16_weights(weights):
    """torch's rescaling of the float weights to int16 with the largest precision that keeps them below 2**15."""
    w_max = max(float(w.max()) for w in weights)
    precision = 0
    while precision < 22 and int(0.5 + w_max * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    scaled = [np.where(w < 0, (-0.5 + w * (1 << precision)).astype(np.int64),
                       (0.5 + w * (1 << precision)).astype(np.int64)) for w in weights]
    return scaled, precision


def _resize_axis_uint8(x, axis, size_out):
    starts, weights = aa_bilinear_weights(x.shape[axis], size_out)
    weights, precision = _int16_weights(weights)
    x = np.moveaxis(x.astype(np.int64), axis, -1)
    rounding = 1 << (precision - 1)
    out = np.stack([(x[..., s:s + len(w)] @ w + rounding) >> precision for s, w in zip(starts, weights)], axis=-1)
    return np.moveaxis(np.clip(out, 0, 255).astype(np.uint8), -1, axis)


def center_crop_resize(frames, height, width):
    """frames (T, H, W, C) uint8 or float -> (T, height, width, C), the same dtype."""
    frames = np.asarray(frames)
    top, left, h, w = center_crop_box(frames.shape[1], frames.shape[2], height, width)
    x = frames[:, top:top + h, left:left + w]
    resize = _resize_axis_uint8 if x.dtype == np.uint8 else _resize_axis_float
    if x.shape[2] != width:  # horizontal pass first, as torch's separable kernel
        x = resize(x, 2, width)
    if x.shape[1] != height:
        x = resize(x, 1, height)
    return np.ascontiguousarray(x)
