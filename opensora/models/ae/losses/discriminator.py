"""PatchGAN discriminator of the VAE loss (taming's NLayerDiscriminator, BatchNorm, ndf 64, 3 layers).

It is 2-D: the loss folds a video's frames into the batch. Names follow the original `main.{i}.*`, with
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
        for cell in self.main.name_cells().values():
            if isinstance(cell, nn.BatchNorm2d):
                if self.training:
                    mean = x.mean(axis=(0, 2, 3), keep_dims=True)
                    var = ((x - mean) ** 2).mean(axis=(0, 2, 3), keep_dims=True)
                else:
                    mean = cell.moving_mean.reshape(1, -1, 1, 1)
                    var = cell.moving_variance.reshape(1, -1, 1, 1)
                x = (x - mean) / ops.sqrt(var + cell.eps) * cell.gamma.reshape(1, -1, 1, 1) \
                    + cell.beta.reshape(1, -1, 1, 1)
            else:
                x = cell(x)
        return x

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
