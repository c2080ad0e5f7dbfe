"""PatchGAN discriminators of the VAE losses: taming's 2-D NLayerDiscriminator (k4, ndf 64, 3 layers) of the
v1.0 loss, which folds a video's frames into the batch, and Open-Sora-Plan v1.3.1's NLayerDiscriminator3D (k3,
Conv3d on the whole (B, C, T, H, W) video) of the WF-VAE loss. Names follow the original `main.{i}.*`, with
BatchNorm as MindSpore names it (gamma, beta, moving_mean, moving_variance); `from_torch_names` maps them.
"""

from collections import OrderedDict

from mindspore import nn, ops


def _conv(cin, cout, stride, bias):
    return nn.Conv2d(cin, cout, 4, stride=stride, pad_mode="pad", padding=1, has_bias=bias)


class NLayerDiscriminator(nn.Cell):
    def __init__(self, input_nc=3, ndf=64, n_layers=3):
        super().__init__()
        layers = [_conv(input_nc, ndf, 2, True), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            # torch BatchNorm2d(momentum 0.1) == MindSpore momentum 0.9; both keep the unbiased running var
            layers += [_conv(ndf * prev, ndf * mult, 2 if n < n_layers else 1, False),
                       nn.BatchNorm2d(ndf * mult, eps=1e-5, momentum=0.9), nn.LeakyReLU(0.2)]
        layers.append(_conv(ndf * mult, 1, 1, True))
        self.main = nn.SequentialCell(OrderedDict((str(i), cell) for i, cell in enumerate(layers)))

    def construct(self, x):
        return self.main(x)

    def forward_frozen_stats(self, x):
        """The same output as `construct` in the current mode (batch statistics in training, running ones in
        eval), but leaving the running statistics untouched: for the adaptive weight's extra forward."""
        return _forward_frozen_stats(self.main, x, self.training)

    def init_weights(self, seed):
        """The original's weights_init: conv weights N(0, 0.02), BatchNorm gamma N(1, 0.02) and beta 0 (conv
        biases keep their default init)."""
        import mindspore as ms
        import numpy as np

        rng = np.random.default_rng(seed)
        for name, p in self.parameters_and_names():
            if name.endswith(".weight"):
                p.set_data(ms.Tensor(rng.normal(0.0, 0.02, p.shape).astype(np.float32)))
            elif name.endswith(".gamma"):
                p.set_data(ms.Tensor(rng.normal(1.0, 0.02, p.shape).astype(np.float32)))
            elif name.endswith(".beta"):
                p.set_data(ms.Tensor(np.zeros(p.shape, np.float32)))

    def bn_indices(self):
        return {int(name) for name, cell in self.main.name_cells().items() if isinstance(cell, nn.BatchNorm2d)}


def _forward_frozen_stats(main, x, training):
    """`main` (a SequentialCell) on x, BatchNorm written out so that no running statistic is updated; 4-D or 5-D."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    for cell in main.name_cells().values():
        if isinstance(cell, nn.BatchNorm2d):
            if training:
                mean = x.mean(axis=axes, keep_dims=True)
                var = ((x - mean) ** 2).mean(axis=axes, keep_dims=True)
            else:
                mean, var = cell.moving_mean.reshape(shape), cell.moving_variance.reshape(shape)
            x = (x - mean) / ops.sqrt(var + cell.eps) * cell.gamma.reshape(shape) + cell.beta.reshape(shape)
        else:
            x = cell(x)
    return x


TORCH_BN_NAMES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def from_torch_names(state, bn_indices):
    """torch `main.{i}.*` -> ours: BatchNorm entries renamed, `num_batches_tracked` dropped (momentum is fixed)."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[-1] == "num_batches_tracked":
            continue
        if len(parts) >= 3 and parts[-2].isdigit() and int(parts[-2]) in bn_indices:
            parts[-1] = TORCH_BN_NAMES.get(parts[-1], parts[-1])
        out[".".join(parts)] = value
    return out


# ----------------------------------------------------------------------------- v1.3: 3-D PatchGAN of the WF-VAE loss
class BatchNorm3d(nn.BatchNorm2d):
    """torch BatchNorm3d on (B, C, T, H, W): statistics per channel over (B, T, H, W). A BatchNorm2d on the
    (B, C, T*H, W) view, so its parameters are `gamma, beta, moving_*` as in 2-D (MindSpore's own BatchNorm3d
    nests them under `bn2d.`, which `from_torch_names` would not map)."""

    def construct(self, x):
        b, c, t, h, w = x.shape
        return super().construct(x.reshape(b, c, t * h, w)).reshape(b, c, t, h, w)


def _conv3d(cin, cout, stride, bias):
    return nn.Conv3d(cin, cout, 3, stride=stride, pad_mode="pad", padding=1, has_bias=bias)


class NLayerDiscriminator3D(NLayerDiscriminator):
    """Open-Sora-Plan v1.3.1 NLayerDiscriminator3D (losses/discriminator.py): (B, C, T, H, W) -> logits
    (B, 1, T', H', W'). Conv3d k3 p1: the first with stride 2 and a bias, then n_layers - 1 without bias (stride
    (2, 2, 2) for the first of them, (1, 2, 2) after), one more at stride 1, each with BatchNorm3d and LeakyReLU 0.2,
    and a stride-1 conv with bias to one channel. Defaults as the original (the WF-VAE loss builds it with
    input_nc 3, n_layers 4). `init_weights` is the original's `weights_init`."""

    def __init__(self, input_nc=1, ndf=64, n_layers=3):
        nn.Cell.__init__(self)  # only the layers differ: construct, forward_frozen_stats, init_weights inherited
        layers = [_conv3d(input_nc, ndf, 2, True), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 1 if n == n_layers else ((2 if n == 1 else 1), 2, 2)
            layers += [_conv3d(ndf * prev, ndf * mult, stride, False),
                       BatchNorm3d(ndf * mult, eps=1e-5, momentum=0.9), nn.LeakyReLU(0.2)]
        layers.append(_conv3d(ndf * mult, 1, 1, True))
        self.main = nn.SequentialCell(OrderedDict((str(i), cell) for i, cell in enumerate(layers)))
