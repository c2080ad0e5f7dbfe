"""Building blocks of the Open-Sora-Plan v1.3 WF-VAE (causalvideovae/model/modules), in MindSpore.

Video tensors are (B, C, T, H, W); the 2-D cells (Conv2d, ResnetBlock2D, Downsample, Upsample, the 2-D Haar
transforms) run frame by frame as the original's `video_to_image`. Parameter names equal the original state-dict
keys (registered buffers such as the Haar filters included), except GroupNorm / LayerNorm `weight/bias` ->
`gamma/beta` (`opensora.io.RENAMES`).

Causal cache (the original's `enable_cached` / `causal_cached` / `cache_offset`): with tiling on, the model runs the
clip chunk by chunk and each causal cell keeps the frames the next chunk needs. It is Python state, so the tiled
path runs in PyNative only.
"""

import mindspore as ms
import numpy as np
from mindspore import Parameter, nn, ops

from ....backend import kernel_choices
from ..causal_vae.modules import CausalConv3d as _CausalConv3dV1
from ..causal_vae.modules import GroupNorm, nonlinearity, pad_right_bottom

# The original's Haar filters: +-0.3536 (not 1/sqrt(8) = 0.35355: a 3-D analysis + synthesis round trip scales by
# 8 * 0.3536^2 = 1.000264) in 3-D, +-1/2 in 2-D (exact round trip). Signs indexed [t][h][w] / [h][w].
HAAR_3D_SIGNS = {
    "h": [[[1, 1], [1, 1]], [[1, 1], [1, 1]]],
    "g": [[[1, -1], [1, -1]], [[1, -1], [1, -1]]],
    "hh": [[[1, 1], [-1, -1]], [[1, 1], [-1, -1]]],
    "gh": [[[1, -1], [-1, 1]], [[1, -1], [-1, 1]]],
    "h_v": [[[1, 1], [1, 1]], [[-1, -1], [-1, -1]]],
    "g_v": [[[1, -1], [1, -1]], [[-1, 1], [-1, 1]]],
    "hh_v": [[[1, 1], [-1, -1]], [[-1, -1], [1, 1]]],
    "gh_v": [[[1, -1], [-1, 1]], [[-1, 1], [1, -1]]],
}
HAAR_2D_SIGNS = {"aa": [[1, 1], [1, 1]], "ad": [[1, 1], [-1, -1]], "da": [[1, -1], [1, -1]],
                 "dd": [[1, -1], [-1, 1]]}
HAAR_3D_SCALE = 0.3536
# A causal cache that holds no frames (a k_t = 2, stride-2 conv needs none): the next chunk is not padded.
EMPTY_CACHE = "empty"


def haar_3d_filters():
    """(8, 1, 2, 2, 2) float32, band order of the original (h, g, hh, gh, h_v, g_v, hh_v, gh_v)."""
    return np.stack([np.array(s, np.float32) * np.float32(HAAR_3D_SCALE) for s in HAAR_3D_SIGNS.values()])[:, None]


def haar_2d_filters():
    """(4, 1, 2, 2) float32, band order aa, ad, da, dd."""
    return np.stack([np.array(s, np.float32) / 2 for s in HAAR_2D_SIGNS.values()])[:, None]


def video_to_image(x):
    b, c, t, h, w = x.shape
    return x.transpose(0, 2, 1, 3, 4).contiguous().reshape(b * t, c, h, w)  # (B*T, C, H, W)


def image_to_video(y, b):
    bt, c, h, w = y.shape
    return y.reshape(b, bt // b, c, h, w).transpose(0, 2, 1, 3, 4).contiguous()  # (B, C, T, H, W)


# Axes are non-negative Python ints from len(x.shape): constants that graph mode can compile.
def _interleave(even, odd, axis):
    """Outputs 2i from `even`, 2i+1 from `odd` along `axis`."""
    shape = even.shape[:axis] + (even.shape[axis] * 2,) + even.shape[axis + 1:]
    return ops.stack((even, odd), axis=axis + 1).reshape(shape)


def _take(x, axis, start, stop):
    return x[(slice(None),) * axis + (slice(start, stop),)]


def linear_upsample_2x(x, axis):
    """torch's linear interpolation x2 along one axis (align_corners=False): out[0] = x[0],
    out[2i] = .25 x[i-1] + .75 x[i], out[2i+1] = .75 x[i] + .25 x[min(i+1, n-1)], with torch's weight order."""
    n = x.shape[axis]
    last = _take(x, axis, n - 1, n)
    nxt = ops.cat((_take(x, axis, 1, n), last), axis=axis) if n > 1 else x
    odd = 0.75 * x + 0.25 * nxt
    if n == 1:
        return _interleave(x, odd, axis)
    even = ops.cat((_take(x, axis, 0, 1), 0.25 * _take(x, axis, 0, n - 1) + 0.75 * _take(x, axis, 1, n)), axis=axis)
    return _interleave(even, odd, axis)


def nearest_upsample_2x(x, axis):
    return _interleave(x, x, axis)


def trilinear_spatial_2x(x):
    """F.interpolate(x, scale_factor=(1, 2, 2), mode="trilinear"): bilinear x2 per frame (W inner, H outer, as
    torch nests the weights; the time weights are exactly 1 and 0)."""
    rank = len(x.shape)
    return linear_upsample_2x(linear_upsample_2x(x, rank - 1), rank - 2)


class CausalConv3d(_CausalConv3dV1):
    """The v1.3 CausalConv3d: k_t - 1 copies of frame 0 (or the cached frames of the previous chunk) before the
    clip, spatial zero padding, optional bias. The convolution itself is causal_vae's (the backend's form).

    With `enable_cached` each call keeps the last (k_t - 1) // s_t padded input frames, minus the last
    `cache_offset` ones (the decoder's chunks overlap by one latent frame), for the next call.
    """

    def __init__(self, chan_in, chan_out, kernel_size, stride=1, padding=0, bias=True, enable_cached=False):
        super().__init__(chan_in, chan_out, kernel_size, stride=stride, padding=padding)
        if not bias:
            p = self.spatial_padding
            self.conv = nn.Conv3d(chan_in, chan_out, self.kernel_size, stride=self.stride, pad_mode="pad",
                                  padding=(0, 0, p[0], p[0], p[1], p[1]), has_bias=False)
        self.enable_cached = enable_cached
        self.causal_cached = None
        self.cache_offset = 0

    def construct(self, x):
        if self.causal_cached is None and not self.enable_cached:
            return super().construct(x)  # stateless: first-frame padding
        k = self.time_kernel_size
        if self.causal_cached is None:
            if k > 1:
                x = ops.cat((ops.tile(x[:, :, :1], (1, 1, k - 1, 1, 1)), x), axis=2)  # (B, C, k-1+T, H, W)
        elif self.causal_cached is not EMPTY_CACHE:
            x = ops.cat((self.causal_cached, x), axis=2)
        if self.enable_cached and k != 1:
            if (k - 1) // self.stride[0] != 0:
                kept = x if self.cache_offset == 0 else x[:, :, : x.shape[2] - self.cache_offset]
                self.causal_cached = kept[:, :, -(k - 1) // self.stride[0]:]  # the original's slice, verbatim
            else:
                self.causal_cached = EMPTY_CACHE
        return self._folded(x) if self.folded else self.conv(x)


class Conv2d(nn.Conv2d):
    """nn.Conv2d applied to every frame of a video (the original's Conv2d with `video_to_image`)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=0, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, pad_mode="pad", padding=padding,
                         has_bias=bias)

    def construct(self, x):
        if x.ndim == 4:
            return super().construct(x)
        return image_to_video(super().construct(video_to_image(x)), x.shape[0])


def _conv2d(chan_in, chan_out, kernel_size, stride=1, padding=0):
    return nn.Conv2d(chan_in, chan_out, kernel_size, stride=stride, pad_mode="pad", padding=padding, has_bias=True)


class LayerNorm(nn.Cell):
    """LayerNorm over the channel axis of (B, C, ...) in fp32 (the amp keep-list); `norm` as the original's."""

    def __init__(self, num_channels, eps=1e-6):
        super().__init__()
        self.norm = nn.LayerNorm((num_channels,), epsilon=eps)

    def construct(self, x):
        perm = (0,) + tuple(range(2, x.ndim)) + (1,)  # channels last
        back = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))
        h = self.norm(x.astype(ms.float32).transpose(perm))
        return h.transpose(back).contiguous().astype(x.dtype)


def Normalize(in_channels, norm_type="groupnorm"):
    if norm_type == "layernorm":
        return LayerNorm(in_channels, eps=1e-6)
    return GroupNorm(in_channels, num_groups=32, eps=1e-6)


class ResnetBlock2D(nn.Cell):
    """Per frame: norm1 -> swish -> conv1 -> norm2 -> swish -> dropout -> conv2, + 1x1 shortcut if in != out."""

    def __init__(self, in_channels, out_channels=None, dropout=0.0, norm_type="groupnorm"):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.norm1 = Normalize(in_channels, norm_type)
        self.conv1 = _conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = Normalize(out_channels, norm_type)
        self.dropout = nn.Dropout(p=dropout)
        self.conv2 = _conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = _conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def construct(self, x):
        b = x.shape[0]
        x = video_to_image(x)  # (B*T, C, H, W)
        h = self.conv1(nonlinearity(self.norm1(x)))
        h = self.conv2(self.dropout(nonlinearity(self.norm2(h))))
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return image_to_video(x + h, b)


class ResnetBlock3D(nn.Cell):
    """norm1 -> swish -> conv1 -> norm2 -> swish -> dropout -> conv2 (causal k=3), + k=1 shortcut if in != out."""

    def __init__(self, in_channels, out_channels=None, dropout=0.0, norm_type="groupnorm"):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.norm1 = Normalize(in_channels, norm_type)
        self.conv1 = CausalConv3d(in_channels, out_channels, 3, padding=1)
        self.norm2 = Normalize(out_channels, norm_type)
        self.dropout = nn.Dropout(p=dropout)
        self.conv2 = CausalConv3d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = CausalConv3d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def construct(self, x):
        h = self.conv1(nonlinearity(self.norm1(x)))
        h = self.conv2(self.dropout(nonlinearity(self.norm2(h))))
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock3DFix(nn.Cell):
    """Single-head attention over the H*W positions of each frame (scale C^-0.5), computed in fp32."""

    def __init__(self, in_channels, norm_type="groupnorm"):
        super().__init__()
        self.norm = Normalize(in_channels, norm_type)
        self.q = CausalConv3d(in_channels, in_channels, 1)
        self.k = CausalConv3d(in_channels, in_channels, 1)
        self.v = CausalConv3d(in_channels, in_channels, 1)
        self.proj_out = CausalConv3d(in_channels, in_channels, 1)

    def construct(self, x):
        h = self.norm(x)
        b, c, t, hh, ww = x.shape

        def tokens(y):  # (B, C, T, H, W) -> (B*T, H*W, C)
            return y.astype(ms.float32).transpose(0, 2, 3, 4, 1).contiguous().reshape(b * t, hh * ww, c)

        q, k, v = tokens(self.q(h)), tokens(self.k(h)), tokens(self.v(h))
        attn = ops.softmax(ops.bmm(q, k.transpose(0, 2, 1)) * (c ** -0.5), axis=-1)  # (B*T, HW, HW)
        out = ops.bmm(attn, v).reshape(b, t, hh, ww, c).transpose(0, 4, 1, 2, 3).contiguous()  # (B, C, T, H, W)
        return x + self.proj_out(out.astype(x.dtype))


class Downsample(nn.Cell):
    """Per frame: zero-pad right/bottom by 1, 3x3 conv with stride 2."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = _conv2d(in_channels, out_channels, 3, stride=2)
        self.set_kernels(kernel_choices())

    def set_kernels(self, kernels):
        self.pad_by_concat = kernels.pad_by_concat

    def construct(self, x):
        return image_to_video(self.conv(pad_right_bottom(video_to_image(x), self.pad_by_concat)), x.shape[0])


class Upsample(nn.Cell):
    """Per frame: nearest x2, 3x3 conv."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = _conv2d(in_channels, out_channels, 3, padding=1)

    def construct(self, x):
        y = nearest_upsample_2x(nearest_upsample_2x(video_to_image(x), 3), 2)  # (B*T, C, 2H, 2W)
        return image_to_video(self.conv(y), x.shape[0])


class Spatial2xTime2x3DDownsample(nn.Cell):
    """Zero-pad right/bottom by 1, causal k=3 conv with stride 2 in time and space."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = CausalConv3d(in_channels, out_channels, 3, stride=2, padding=0)
        self.set_kernels(kernel_choices())

    def set_kernels(self, kernels):
        self.pad_by_concat = kernels.pad_by_concat

    def construct(self, x):
        return self.conv(pad_right_bottom(x, self.pad_by_concat))  # (B, C', (T-1)//2+1, H/2, W/2)


class Spatial2xTime2x3DUpsample(nn.Cell):
    """Frame 0 kept, frames 1.. x2 in time (`t_interpolation`), bilinear x2 in space, causal k=3 conv.

    Tiled decoding: the cached last frame of the previous chunk (which starts the next one: chunks overlap by one
    latent frame) is prepended, interpolated with it and dropped again, so the seams equal the untiled result.
    """

    def __init__(self, in_channels, out_channels, t_interpolation="trilinear", enable_cached=False):
        super().__init__()
        self.t_interpolation = t_interpolation
        self.conv = CausalConv3d(in_channels, out_channels, 3, padding=1)
        self.enable_cached = enable_cached
        self.causal_cached = None

    def _time_2x(self, x):
        return linear_upsample_2x(x, 2) if self.t_interpolation == "trilinear" else nearest_upsample_2x(x, 2)

    def _upsample(self, x):
        """Frame 0 up in space only, the rest also x2 in time: (B, C, T, H, W) -> (B, C, 2T-1, 2H, 2W)."""
        if x.shape[2] == 1:
            return trilinear_spatial_2x(x)
        return ops.cat((trilinear_spatial_2x(x[:, :, :1]), trilinear_spatial_2x(self._time_2x(x[:, :, 1:]))), axis=2)

    def construct(self, x):
        if not self.enable_cached:  # untiled: no Python state, so the cell also compiles (graph mode)
            return self.conv(self._upsample(x))
        if self.causal_cached is None:  # first chunk
            self.causal_cached = x[:, :, -1:]
            return self.conv(self._upsample(x))
        x = ops.cat((self.causal_cached, x), axis=2)
        self.causal_cached = x[:, :, -2:-1]
        return self.conv(trilinear_spatial_2x(self._time_2x(x)[:, :, 2:]))


# ----------------------------------------------------------------------------- Haar wavelet transforms
def haar_wavelet_3d(x, filters, pad_first_frame=True):
    """x (B, C, T, H, W), filters (8, 1, 2, 2, 2) -> (B, 8C, T', H/2, W/2), channel = band * C + c.

    Frame 0 is repeated once in front (the CausalConv3d padding), so T' = (T - 1) // 2 + 1."""
    b, c = x.shape[:2]
    if pad_first_frame:
        x = ops.cat((x[:, :, :1], x), axis=2)
    t, h, w = x.shape[2:]
    y = ops.conv3d(x.reshape(b * c, 1, t, h, w), filters.astype(x.dtype), stride=2)  # (B*C, 8, T', H', W')
    return y.reshape(b, c, 8, *y.shape[2:]).transpose(0, 2, 1, 3, 4, 5).contiguous().reshape(b, 8 * c, *y.shape[2:])


def inverse_haar_wavelet_3d(coeffs, filters, drop_first_frame=True):
    """coeffs (B, 8C, T, H, W), filters: 8 tensors (1, 1, 2, 2, 2) -> (B, C, 2T - 1, 2H, 2W) (2T kept without
    `drop_first_frame`). As the original's stride-2 transposed convs: one product per band, summed band by band."""
    b, c8, t, h, w = coeffs.shape
    c = c8 // 8
    total = None
    for i, f in enumerate(filters):
        band = coeffs[:, i * c:(i + 1) * c].reshape(b, c, t, 1, h, 1, w, 1)
        part = band * f.astype(coeffs.dtype).reshape(1, 1, 1, 2, 1, 2, 1, 2)  # (B, C, T, 2, H, 2, W, 2)
        total = part if total is None else total + part
    out = total.reshape(b, c, 2 * t, 2 * h, 2 * w)
    return out[:, :, 1:] if drop_first_frame else out


def haar_wavelet_2d(x, filters):
    """Per frame: x (B, C, T, H, W), filters (4, 1, 2, 2) -> (B, 4C, T, H/2, W/2), channel = band * C + c."""
    b, c, t, h, w = x.shape
    y = ops.conv2d(video_to_image(x).reshape(b * t * c, 1, h, w), filters.astype(x.dtype), stride=2)
    y = y.reshape(b * t, c, 4, h // 2, w // 2).transpose(0, 2, 1, 3, 4).contiguous()  # (B*T, 4, C, H', W')
    return image_to_video(y.reshape(b * t, 4 * c, h // 2, w // 2), b)


def inverse_haar_wavelet_2d(coeffs, filters):
    """Per frame: coeffs (B, 4C, T, H, W), filters: 4 tensors (1, 1, 2, 2) -> (B, C, T, 2H, 2W)."""
    b, c4, t, h, w = coeffs.shape
    c = c4 // 4
    total = None
    for i, f in enumerate(filters):
        band = coeffs[:, i * c:(i + 1) * c].reshape(b, c, t, h, 1, w, 1)
        part = band * f.astype(coeffs.dtype).reshape(1, 1, 1, 1, 2, 1, 2)  # (B, C, T, H, 2, W, 2)
        total = part if total is None else total + part
    return total.reshape(b, c, t, 2 * h, 2 * w)


def _fixed(value, name):
    return Parameter(ms.Tensor(value), name=name, requires_grad=False)


class HaarWaveletTransform3D(nn.Cell):
    """3-D Haar analysis. The filters are the frozen weights of eight k=2 stride-2 CausalConv3d cells (state-dict
    keys `h_conv.conv.weight`, ...); run as one convolution with the eight stacked.

    Tiled: the first chunk is padded with a copy of frame 0, later chunks not at all (a k=2 stride-2 causal conv
    caches no frames)."""

    def __init__(self):
        super().__init__()
        for name, f in zip(HAAR_3D_SIGNS, haar_3d_filters()):
            conv = CausalConv3d(1, 1, 2, stride=2, padding=0, bias=False)
            conv.conv.weight = _fixed(f[None], "weight")
            setattr(self, f"{name}_conv", conv)
        self.enable_cached = False
        self.causal_cached = None

    @staticmethod
    def constant_filters():
        return {f"{name}_conv.conv.weight": f[None] for name, f in zip(HAAR_3D_SIGNS, haar_3d_filters())}

    def filters(self):
        return ops.cat([getattr(self, f"{name}_conv").conv.weight for name in HAAR_3D_SIGNS], axis=0)

    def construct(self, x):
        y = haar_wavelet_3d(x, self.filters(), pad_first_frame=self.causal_cached is None)
        if self.enable_cached:
            self.causal_cached = EMPTY_CACHE
        return y


class InverseHaarWaveletTransform3D(nn.Cell):
    """3-D Haar synthesis with the original's registered filter buffers (keys `h`, `g`, ..., `gh_v`).

    Drops the first output frame (the causal pad's twin), except on the chunks after the first when tiled."""

    def __init__(self, enable_cached=False):
        super().__init__()
        for name, f in zip(HAAR_3D_SIGNS, haar_3d_filters()):
            setattr(self, name, _fixed(f[None], name))
        self.enable_cached = enable_cached
        self.causal_cached = None

    @staticmethod
    def constant_filters():
        return {name: f[None] for name, f in zip(HAAR_3D_SIGNS, haar_3d_filters())}

    def construct(self, coeffs):
        filters = [getattr(self, name) for name in HAAR_3D_SIGNS]
        cached = self.enable_cached and self.causal_cached is not None
        out = inverse_haar_wavelet_3d(coeffs, filters, drop_first_frame=not cached)
        if self.enable_cached:
            self.causal_cached = True
        return out


class HaarWaveletTransform2D(nn.Cell):
    """Per-frame 2-D Haar analysis with the original's filter buffers (keys `aa`, `ad`, `da`, `dd`)."""

    def __init__(self):
        super().__init__()
        for name, f in zip(HAAR_2D_SIGNS, haar_2d_filters()):
            setattr(self, name, _fixed(f[None], name))

    @staticmethod
    def constant_filters():
        return {name: f[None] for name, f in zip(HAAR_2D_SIGNS, haar_2d_filters())}

    def construct(self, x):
        return haar_wavelet_2d(x, ops.cat([getattr(self, name) for name in HAAR_2D_SIGNS], axis=0))


class InverseHaarWaveletTransform2D(nn.Cell):
    """Per-frame 2-D Haar synthesis (keys `aa`, `ad`, `da`, `dd`)."""

    def __init__(self):
        super().__init__()
        for name, f in zip(HAAR_2D_SIGNS, haar_2d_filters()):
            setattr(self, name, _fixed(f[None], name))

    constant_filters = staticmethod(HaarWaveletTransform2D.constant_filters)

    def construct(self, coeffs):
        return inverse_haar_wavelet_2d(coeffs, [getattr(self, name) for name in HAAR_2D_SIGNS])


WAVELET_CELLS = (HaarWaveletTransform3D, InverseHaarWaveletTransform3D, HaarWaveletTransform2D,
                 InverseHaarWaveletTransform2D)

# Block names of the released config.json -> classes (strings are resolved here, never by import).
WFVAE_BLOCKS = {cls.__name__: cls for cls in (
    Downsample, Upsample, Spatial2xTime2x3DDownsample, Spatial2xTime2x3DUpsample, *WAVELET_CELLS)}


def resolve_block(name, role):
    if name not in WFVAE_BLOCKS:
        raise ValueError(f"unknown WF-VAE block '{name}' for {role}; supported: {', '.join(sorted(WFVAE_BLOCKS))}")
    return WFVAE_BLOCKS[name]


__all__ = ["AttnBlock3DFix", "CausalConv3d", "Conv2d", "LayerNorm", "Normalize", "ResnetBlock2D", "ResnetBlock3D",
           "WFVAE_BLOCKS"]
