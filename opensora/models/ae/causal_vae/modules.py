"""Building blocks of the Open-Sora-Plan v1.0.0 causal video VAE (videobase/modules), in MindSpore.

Every tensor is (B, C, T, H, W). Parameter names equal the original state-dict keys, except GroupNorm
`weight/bias` -> `gamma/beta` (MindSpore's names; see `opensora.io.RENAMES`).
"""

import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import initializer

from ....backend import kernel_choices


def cast_tuple(value, length):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * length


def nonlinearity(x):
    return x * ops.sigmoid(x)  # swish, as the original (V6)


class GroupNorm(nn.Cell):
    """GroupNorm computed in fp32 whatever the input dtype (the amp keep-list), eps 1e-6 as the original.

    Uses the functional `ops.group_norm`: `nn.GroupNorm` needs 4-D input and a hand-written version with
    broadcasting ops is ~10x slower on CPU.
    """

    def __init__(self, num_channels, num_groups=32, eps=1e-6):
        super().__init__()
        self.num_groups = num_groups
        self.eps = eps
        self.gamma = Parameter(initializer("ones", (num_channels,), ms.float32), name="gamma")
        self.beta = Parameter(initializer("zeros", (num_channels,), ms.float32), name="beta")

    def construct(self, x):
        h = ops.group_norm(x.astype(ms.float32), self.num_groups, self.gamma, self.beta, self.eps)
        return h.astype(x.dtype)


def Normalize(in_channels, num_groups=32):
    return GroupNorm(in_channels, num_groups=num_groups, eps=1e-6)


class CausalConv3d(nn.Cell):
    """Conv3d that prepends k_t - 1 copies of frame 0 in time (nothing at the end) and zero-pads space (V2).

    How it runs is the backend's choice (opensora.backend): nn.Conv3d, or "folded" (frames into the batch,
    temporal taps into the input channels: one Conv2d, same math) where that measured faster on CPU."""

    def __init__(self, chan_in, chan_out, kernel_size, stride=1, padding=0):
        super().__init__()
        self.kernel_size = cast_tuple(kernel_size, 3)
        self.time_kernel_size = self.kernel_size[0]
        self.stride = cast_tuple(stride, 3)
        pad = cast_tuple(padding, 3)
        self.spatial_padding = (pad[1], pad[2])
        self.conv = nn.Conv3d(chan_in, chan_out, self.kernel_size, stride=self.stride, pad_mode="pad",
                              padding=(0, 0, pad[1], pad[1], pad[2], pad[2]), has_bias=True)
        self.chan_in, self.chan_out = chan_in, chan_out
        self.set_kernels(kernel_choices())

    def set_kernels(self, kernels):
        small = self.time_kernel_size == 1 or self.chan_in <= kernels.folded_max_channels
        self.folded = kernels.causal_conv == "folded" and self.stride[0] == 1 and small
        self.folded_chunk_elements = kernels.folded_chunk_elements

    def use_folded(self):
        return self.folded

    def construct(self, x):
        if self.time_kernel_size > 1 and x.shape[2] == 1 and self.stride[0] == 1:
            return self._single_frame(x)
        if self.time_kernel_size > 1:
            first = ops.tile(x[:, :, :1], (1, 1, self.time_kernel_size - 1, 1, 1))  # (B, C, k_t-1, H, W)
            x = ops.cat((first, x), axis=2)
        if not self.folded:
            return self.conv(x)
        return self._folded(x)

    def _single_frame(self, x):
        """One frame (an image): every temporal tap sees a copy of it, so the k_t taps act as their sum.

        One Conv2d with the taps' summed weights, k_t times fewer multiplies than convolving the padded frames;
        equal up to float rounding (the taps are summed before the products instead of after).
        """
        b, c, _, h, w = x.shape
        weight = self.conv.weight.sum(axis=2)  # (O, C, k_h, k_w)
        y = ops.conv2d(x.reshape(b, c, h, w), weight, self.conv.bias, stride=self.stride[1:], pad_mode="pad",
                       padding=self.spatial_padding)
        return y.reshape(b, self.chan_out, 1, y.shape[-2], y.shape[-1])

    def _folded(self, x):
        """The same convolution as one Conv2d: out[t] = sum_i W[:, :, i] * x[t + i] over the padded frames.

        The k_t-fold stacked input is built for a few output frames at a time (at most folded_chunk_elements
        values): each output frame is independent, and building it whole for a full-size clip (256 channels,
        17 frames at 256x256: 3.4 GB) ran the 488 decoder out of 24 GB of memory.
        """
        k = self.time_kernel_size
        b, c, t_pad, h, w = x.shape
        t = t_pad - k + 1
        weight = self.conv.weight.transpose(0, 2, 1, 3, 4).contiguous().reshape(self.chan_out, k * c,
                                                                                *self.kernel_size[1:])
        step = max(1, min(t, self.folded_chunk_elements // (b * k * c * h * w)))
        outs = []
        for start in range(0, t, step):
            n = min(step, t - start)
            # (B, n+k-1, C, H, W), a copy: PyNative transposes are strided views, and the CPU conv kernel must not
            # see one (it corrupted the heap in testing)
            frames = x[:, :, start:start + n + k - 1].transpose(0, 2, 1, 3, 4).contiguous()
            if k == 1:
                stacked = frames.reshape(b * n, c, h, w)
            else:
                stacked = ops.cat([frames[:, i:i + n] for i in range(k)], axis=2).reshape(b * n, k * c, h, w)
            y = ops.conv2d(stacked, weight, self.conv.bias, stride=self.stride[1:], pad_mode="pad",
                           padding=self.spatial_padding)  # (B*n, O, H', W')
            outs.append(y.reshape(b, n, self.chan_out, y.shape[-2], y.shape[-1]))
        y = outs[0] if len(outs) == 1 else ops.cat(outs, axis=1)
        return y.transpose(0, 2, 1, 3, 4).contiguous()


class ResnetBlock3D(nn.Cell):
    """norm1 -> swish -> conv1 -> norm2 -> swish -> dropout -> conv2, plus a k=1 shortcut when in != out."""

    def __init__(self, in_channels, out_channels=None, dropout=0.0, norm_num_groups=32):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.norm1 = Normalize(in_channels, norm_num_groups)
        self.conv1 = CausalConv3d(in_channels, out_channels, 3, padding=1)
        self.norm2 = Normalize(out_channels, norm_num_groups)
        self.dropout = nn.Dropout(p=dropout)
        self.conv2 = CausalConv3d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = CausalConv3d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def construct(self, x):
        h = self.conv1(nonlinearity(self.norm1(x)))
        h = self.conv2(self.dropout(nonlinearity(self.norm2(h))))
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock3D(nn.Cell):
    """The released weights' mid-block attention, WITH the original's reshape quirk (V1).

    q/k/v (B, C, T, H, W) are reshaped straight to (B*T, C, H*W) with no permute, so a pseudo-frame mixes
    channels and frames. The fixed variant (`AttnBlock3DFix`) is not what the checkpoint was trained with.
    """

    def __init__(self, in_channels, norm_num_groups=32):
        super().__init__()
        self.norm = Normalize(in_channels, norm_num_groups)
        self.q = CausalConv3d(in_channels, in_channels, 1)
        self.k = CausalConv3d(in_channels, in_channels, 1)
        self.v = CausalConv3d(in_channels, in_channels, 1)
        self.proj_out = CausalConv3d(in_channels, in_channels, 1)

    def construct(self, x):
        h = self.norm(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        b, c, t, hh, ww = q.shape
        q = q.reshape(b * t, c, hh * ww).transpose(0, 2, 1)  # (B*T, HW, C) -- no permute first: the quirk
        k = k.reshape(b * t, c, hh * ww)  # (B*T, C, HW)
        attn = ops.softmax(ops.bmm(q, k) * (int(c) ** (-0.5)), axis=2)  # (B*T, HWq, HWk)
        v = v.reshape(b * t, c, hh * ww)  # (B*T, C, HW)
        h = ops.bmm(v, attn.transpose(0, 2, 1)).reshape(b, c, t, hh, ww)  # (B, C, T, H, W)
        return x + self.proj_out(h)


def pad_right_bottom(x, by_concat):
    """Zero-pad the last two axes by one at the end (the original's F.pad(x, (0, 1, 0, 1))). `by_concat` (the
    backend's pad_by_concat): concatenate zeros instead -- `ops.pad`'s gradient came out wrong from the second call
    of a compiled (graph-mode) training step on CPU."""
    if not by_concat:
        return ops.pad(x, (0, 1, 0, 1))
    x = ops.cat((x, ops.zeros(x.shape[:-1] + (1,), x.dtype)), axis=-1)
    return ops.cat((x, ops.zeros(x.shape[:-2] + (1, x.shape[-1]), x.dtype)), axis=-2)


class SpatialDownsample2x(nn.Cell):
    """Zero-pad right and bottom by 1, then a (1,3,3) stride-(1,2,2) conv (V5)."""

    def __init__(self, chan_in, chan_out):
        super().__init__()
        self.conv = CausalConv3d(chan_in, chan_out, (1, 3, 3), stride=(1, 2, 2), padding=0)
        self.set_kernels(kernel_choices())

    def set_kernels(self, kernels):
        self.pad_by_concat = kernels.pad_by_concat

    def construct(self, x):
        return self.conv(pad_right_bottom(x, self.pad_by_concat))  # padded: (B, C, T, H+1, W+1)


class SpatialUpsample2x(nn.Cell):
    """Nearest x2 in H and W, then a (1,3,3) conv with spatial padding 1 (V5)."""

    def __init__(self, chan_in, chan_out):
        super().__init__()
        self.conv = CausalConv3d(chan_in, chan_out, (1, 3, 3), padding=1)

    def construct(self, x):
        b, c, t, h, w = x.shape
        x = x.reshape(b, c, t, h, 1, w, 1)
        x = ops.broadcast_to(x, (b, c, t, h, 2, w, 2)).reshape(b, c, t, 2 * h, 2 * w)  # nearest x2
        return self.conv(x)


class TimeDownsample2x(nn.Cell):
    """Parameter-free: 2 copies of frame 0 prepended, then a mean over 3 frames with stride 2 (V3).

    out_0 = x_0, out_1 = mean(x_0, x_1, x_2), ...; T' = (T - 1) // 2 + 1.
    """

    def __init__(self, chan_in=None, chan_out=None, kernel_size=3):
        super().__init__()
        self.kernel_size = kernel_size
        self.set_kernels(kernel_choices())

    def set_kernels(self, kernels):
        self.taps_by_reshape = kernels.taps_by_reshape

    def construct(self, x):
        first = ops.tile(x[:, :, :1], (1, 1, self.kernel_size - 1, 1, 1))
        x = ops.cat((first, x), axis=2)  # (B, C, T+2, H, W)
        t_out = (x.shape[2] - self.kernel_size) // 2 + 1
        b, c, _, h, w = x.shape
        total = None
        for offset in range(self.kernel_size):
            if self.taps_by_reshape:
                # x[offset::2] by reshape, not by a step-2 slice: MindSpore's CPU StridedSliceGrad fails on those
                # ("input memory out of bounds"), which broke VAE training. Same additions in the same order.
                end = offset + 2 * t_out
                if end > x.shape[2]:  # the last tap needs one frame past the input: pad it (never read)
                    x = ops.cat((x, x[:, :, -1:]), axis=2)
                tap = x[:, :, offset:end].reshape(b, c, t_out, 2, h, w)[:, :, :, 0]
            else:
                tap = x[:, :, offset:offset + 2 * t_out - 1:2]  # (B, C, T', H, W)
            total = tap if total is None else total + tap
        return total / self.kernel_size


class TimeUpsample2x(nn.Cell):
    """Parameter-free: keep frame 0, trilinear (align_corners=False) x2 in time on frames 1.. (V3).

    A frame pair (a, b) becomes [a, .75a+.25b, .25a+.75b, b]; T' = 2T - 1; one frame passes unchanged.
    """

    def __init__(self, chan_in=None, chan_out=None):
        super().__init__()

    def construct(self, x):
        if x.shape[2] == 1:
            return x
        first, rest = x[:, :, :1], x[:, :, 1:]  # rest: (B, C, n, H, W)
        prev = nxt = rest  # one frame: its neighbours are itself (an empty slice's gradient fails on CPU)
        if rest.shape[2] > 1:
            prev = ops.cat((rest[:, :, :1], rest[:, :, :-1]), axis=2)  # clamped at the start
            nxt = ops.cat((rest[:, :, 1:], rest[:, :, -1:]), axis=2)  # clamped at the end
        even = 0.25 * prev + 0.75 * rest
        odd = 0.75 * rest + 0.25 * nxt
        b, c, n, h, w = rest.shape
        up = ops.stack((even, odd), axis=3).reshape(b, c, 2 * n, h, w)  # interleave
        return ops.cat((first, up), axis=2)


# Block names of the released config.json -> classes (strings are resolved here, never by import).
VAE_BLOCKS = {
    "CausalConv3d": CausalConv3d,
    "ResnetBlock3D": ResnetBlock3D,
    "AttnBlock3D": AttnBlock3D,
    "SpatialDownsample2x": SpatialDownsample2x,
    "SpatialUpsample2x": SpatialUpsample2x,
    "TimeDownsample2x": TimeDownsample2x,
    "TimeUpsample2x": TimeUpsample2x,
}


def resolve_block(name, role):
    if name not in VAE_BLOCKS:
        raise ValueError(f"unknown VAE block '{name}' for {role}; supported: {', '.join(sorted(VAE_BLOCKS))}")
    return VAE_BLOCKS[name]
