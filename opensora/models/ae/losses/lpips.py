"""LPIPS perceptual distance with the VGG16 trunk and the v0.1 linear heads (taming / Open-Sora-Plan v1.0.0).

Parameter names follow the original module, so its `loss.perceptual_loss.*` keys load as they are:
    net.slice{1..5}.{i}.weight|bias   (i = torchvision's vgg16().features index)
    lin{0..4}.model.1.weight          (1x1 heads without bias; index 0 was a Dropout, off in eval)
"""

import os
from collections import OrderedDict

import mindspore as ms
from mindspore import nn, ops

from ....io import read_state_dict
from ....utils.errors import UserError

VGG16_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
# torchvision feature indices of each slice; LPIPS taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
SLICE_RANGES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))
CHANNELS = (64, 128, 256, 512, 512)
DEFAULT_LPIPS_CKPT = "models/ae/lpips_vgg-426bf45c.ckpt"
CONVERT_HINT = ("python tools/model_conversion/convert_lpips.py --vgg /path/to/vgg16-397923af.pth "
                f"--target {DEFAULT_LPIPS_CKPT}")


def _vgg_modules():
    """torchvision vgg16().features as (index, cell) pairs, up to relu5_3."""
    modules, cin, idx = [], 3, 0
    for v in VGG16_LAYOUT:
        if v == "M":
            modules.append((idx, nn.MaxPool2d(kernel_size=2, stride=2)))
            idx += 1
            continue
        modules.append((idx, nn.Conv2d(cin, v, 3, pad_mode="pad", padding=1, has_bias=True)))
        modules.append((idx + 1, nn.ReLU()))
        idx, cin = idx + 2, v
    return modules


class VGG16Features(nn.Cell):
    def __init__(self):
        super().__init__()
        modules = dict(_vgg_modules())
        for k, (start, end) in enumerate(SLICE_RANGES, 1):
            cells = OrderedDict((str(i), modules[i]) for i in range(start, end))
            setattr(self, f"slice{k}", nn.SequentialCell(cells))

    def construct(self, x):
        feats = []
        for k in range(1, 6):
            x = getattr(self, f"slice{k}")(x)
            feats.append(x)
        return feats


class NetLinLayer(nn.Cell):
    def __init__(self, channels):
        super().__init__()
        self.model = nn.SequentialCell(OrderedDict([("1", nn.Conv2d(channels, 1, 1, has_bias=False))]))

    def construct(self, x):
        return self.model(x)


def normalize_tensor(x, eps=1e-10):
    return x / (ops.sqrt((x * x).sum(axis=1, keepdims=True)) + eps)


class LPIPS(nn.Cell):
    """(N, 3, H, W) pairs in [-1, 1] -> distance (N, 1, 1, 1). Frozen; gradients flow to the inputs."""

    def __init__(self):
        super().__init__()
        self.shift = ms.Tensor([-0.030, -0.088, -0.188], ms.float32).reshape(1, 3, 1, 1)
        self.scale = ms.Tensor([0.458, 0.448, 0.450], ms.float32).reshape(1, 3, 1, 1)
        self.net = VGG16Features()
        for i, c in enumerate(CHANNELS):
            setattr(self, f"lin{i}", NetLinLayer(c))
        for p in self.get_parameters():
            p.requires_grad = False
        self.set_train(False)

    def construct(self, x, y):
        fx = self.net((x - self.shift) / self.scale)
        fy = self.net((y - self.shift) / self.scale)
        val = 0
        for i in range(len(CHANNELS)):
            diff = (normalize_tensor(fx[i]) - normalize_tensor(fy[i])) ** 2
            val = val + getattr(self, f"lin{i}")(diff).mean(axis=(2, 3), keep_dims=True)
        return val

    def load_weights(self, path):
        """Load a checkpoint holding the trunk and the heads (any naming of `lpips_state_names`)."""
        if not path or not os.path.isfile(path):
            raise UserError(f"LPIPS checkpoint {path!r} not found: make it with {CONVERT_HINT} "
                            "(or set perceptual_weight: 0 to train without the perceptual loss)")
        state = canonical_lpips_state(read_state_dict(path))
        names = dict(self.parameters_and_names())
        trunk = [n for n in names if n.startswith("net.")]
        if not any(n in state for n in trunk):
            raise UserError(f"{path}: holds the LPIPS heads but not the VGG16 trunk; add it with {CONVERT_HINT} "
                            f"--heads {path}")
        missing = [n for n in names if n not in state]
        if missing:
            raise UserError(f"{path}: not a complete LPIPS checkpoint ({len(missing)} missing, e.g. {missing[0]}); "
                            f"remake it with {CONVERT_HINT}")
        for n, p in names.items():
            if tuple(state[n].shape) != tuple(p.shape):
                raise UserError(f"{path}: {n} has shape {tuple(state[n].shape)}, expected {tuple(p.shape)}")
            p.set_data(ms.Tensor(state[n], ms.float32))


def _slice_of(index):
    for k, (start, end) in enumerate(SLICE_RANGES, 1):
        if start <= index < end:
            return k, start
    return None, None


def canonical_lpips_state(state):
    """Map the names LPIPS weights come with onto ours:
    torchvision `features.N.*` (vgg16-397923af.pth) and mindcv-style `features.N.*`; upstream
    `[loss.]perceptual_loss.net.sliceK.N.*`; the original MindSpore port's renumbered slices
    (`net.sliceK.j.*`, j counted from the slice start); the heads `lin{i}.model.1.weight`."""
    out = {}
    renumbered = any(k.endswith("net.slice2.1.weight") for k in state)  # mindone's slices restart at 0
    for key, value in state.items():
        name = key
        for prefix in ("loss.perceptual_loss.", "perceptual_loss.", "network.", "_backbone."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        parts = name.split(".")
        if parts[0] == "features" and len(parts) == 3 and parts[1].isdigit():
            index = int(parts[1])
            k, _ = _slice_of(index)
            if k is None:
                continue  # layers after relu5_3 are unused
            name = f"net.slice{k}.{index}.{parts[2]}"
        elif parts[0] == "net" and len(parts) == 4 and renumbered:
            k = int(parts[1][len("slice"):])
            name = f"net.slice{k}.{SLICE_RANGES[k - 1][0] + int(parts[2])}.{parts[3]}"
        elif parts[0] == "classifier":
            continue
        out[name] = value
    return out
