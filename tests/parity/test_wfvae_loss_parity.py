"""LPIPSWithDiscriminator3D (the WF-VAE loss) against the original v1.3.1's recorded calls (tests/fixtures/wfvae_loss).

Every logged term, the BatchNorm running statistics each call leaves and the two last-layer gradients behind
d_weight, each within its recorded tolerance (8x the original's own fp32-vs-fp64 spread, at least 1e-6).
"""

import hashlib
import json
import os

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from opensora.models.ae.distributions import DiagonalGaussianDistribution
from tests.conftest import assert_close, counter_weights, fixture_path

FIXTURE = "wfvae_loss"
CASES = json.load(open(fixture_path(FIXTURE, "cases.json")))
TOLERANCES = json.load(open(fixture_path(FIXTURE, "tolerances.json")))


class PerFrameConv(nn.Cell):
    """The fixture's stand-in decoder.conv_out: a Conv2d on every frame of (B, C, T, H, W)."""

    def __init__(self, weight, bias):
        super().__init__()
        self.conv = nn.Conv2d(weight.shape[1], weight.shape[0], 3, pad_mode="pad", padding=1, has_bias=True)
        self.conv.weight.set_data(ms.Tensor(weight))
        self.conv.bias.set_data(ms.Tensor(bias))

    def construct(self, h):
        b, c, t, hh, w = h.shape
        y = self.conv(h.transpose(0, 2, 1, 3, 4).reshape(b * t, c, hh, w))  # (B*T, 3, H, W)
        return y.reshape(b, t, -1, hh, w).transpose(0, 2, 1, 3, 4)  # (B, 3, T, H, W)


@pytest.fixture(scope="module")
def setup():
    from opensora.io import read_state_dict
    from opensora.models.ae.losses import LPIPSWithDiscriminator3D
    from opensora.models.ae.losses.discriminator import from_torch_names
    from opensora.models.ae.losses.lpips import canonical_lpips_state

    config = json.load(open(fixture_path(FIXTURE, "config.json")))
    disc = config["discriminator"]
    lpips = canonical_lpips_state({**counter_weights().vgg16_features_arrays(),
                                   **read_state_dict(fixture_path("losses", "weights", "lpips_vgg_lin.safetensors"))})
    losses = {}
    assert disc["kwargs"]["input_nc"] == 3 and disc["kwargs"]["n_layers"] == 4  # the loss's defaults
    for name, kwargs in config["configs"].items():
        loss = LPIPSWithDiscriminator3D(**kwargs, disc_ndf=disc["kwargs"]["ndf"])
        if losses:  # one LPIPS for all (it is frozen)
            loss.perceptual_loss = next(iter(losses.values())).perceptual_loss
        else:
            for pname, p in loss.perceptual_loss.parameters_and_names():
                p.set_data(ms.Tensor(lpips[pname]))
        losses[name] = loss
    any_loss = next(iter(losses.values()))
    state = from_torch_names(read_state_dict(fixture_path(FIXTURE, "discriminator.safetensors")),
                             any_loss.discriminator.bn_indices())
    assert sorted(state) == sorted(n for n, _ in any_loss.discriminator.parameters_and_names())
    data = dict(np.load(fixture_path(FIXTURE, "inputs.npz")))
    arrays = dict(np.load(fixture_path(FIXTURE, "case_arrays.npz")))
    return losses, state, data, arrays


def call(setup, case):
    """The case's call on a fresh discriminator: (loss value, log, loss object, adaptive_weight's arguments)."""
    losses, state, data, _ = setup
    spec = CASES[case]
    loss = losses[spec["config"]]
    for name, p in loss.discriminator.parameters_and_names():
        p.set_data(ms.Tensor(state[name]))
    loss.discriminator.set_train(spec["mode"] == "train")
    inputs = ms.Tensor(data["inputs"])
    conv_out = PerFrameConv(data["last_layer_weight"], data["last_layer_bias"])
    last_input = ms.Tensor(data["last_input"])

    def last_layer(h):  # what follows the last layer's input: conv_out, plus a term that does not depend on it
        return inputs + conv_out(h)

    if spec["optimizer_idx"] == 1:
        value, log = loss.discriminator_loss(inputs, last_layer(last_input), spec["global_step"])
        return value, log, loss, None
    wavelet = [ms.Tensor(data[f"wavelet_{i}"]) for i in range(4)] if spec["wavelet_coeffs"] else None
    posterior = DiagonalGaussianDistribution(ms.Tensor(data["moments"]))  # fp32, the port's own (exp in fp64 on CPU)
    value, log = loss.generator_loss(inputs, last_input, last_layer, posterior, spec["global_step"],
                                     last_weight=conv_out.conv.weight, wavelet_coeffs=wavelet)
    return value, log, loss, (inputs, last_input, last_layer, conv_out.conv.weight)


def check_running_stats(loss, case, keys, arrays):
    params = dict(loss.discriminator.parameters_and_names())
    for key in keys:  # bn_after/main.{i}.running_mean|running_var, torch's names
        ours = key.split("/", 1)[1].replace("running_mean", "moving_mean").replace("running_var", "moving_variance")
        assert_close(params[ours].asnumpy(), arrays[f"{case}/{key}"], 0, TOLERANCES[case][key], f"{case} {key}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_logged_term(setup, case):
    value, log, loss, adaptive_args = call(setup, case)
    expected, tol, arrays = CASES[case]["expected"], TOLERANCES[case], setup[3]
    assert sorted(log) == sorted(k for k in expected if k != "loss")
    assert_close(float(value.asnumpy()), expected["loss"], 0, tol["loss"], f"{case} loss")
    for key, ref in expected.items():
        if key != "loss":
            assert_close(float(log[key].asnumpy()), ref, 0, tol[key], f"{case} {key}")
    bn_keys = [k for k in tol if k.startswith("bn_after/")]
    assert bool(bn_keys) == (CASES[case]["mode"] == "train")
    check_running_stats(loss, case, bn_keys, arrays)  # what the call's train-mode forwards left
    if "nll_grads" in tol:  # the gradients behind d_weight
        d_weight, nll_grad, g_grad = loss.adaptive_weight(*adaptive_args)
        assert_close(float(d_weight.asnumpy()), expected["d_weight"], 0, tol["d_weight"], f"{case} d_weight")
        for got, name in ((nll_grad, "nll_grads"), (g_grad, "g_grads")):
            assert_close(got.asnumpy(), arrays[f"{case}/{name}"], 0, tol[name], f"{case} {name}")
        check_running_stats(loss, case, bn_keys, arrays)  # the extra discriminator forward left them alone


def test_fixture_manifest():
    folder = fixture_path(FIXTURE)
    for line in open(os.path.join(folder, "MANIFEST.sha256")):
        digest, rel = line.split()
        assert hashlib.sha256(open(os.path.join(folder, rel), "rb").read()).hexdigest() == digest, rel


def test_discriminator_layout_and_weights_init():
    """The original's layout (strides 2, (2,2,2), (1,2,2), (1,2,2), 1, 1 for 4 layers) and weights_init statistics."""
    from opensora.models.ae.losses import NLayerDiscriminator3D

    disc = NLayerDiscriminator3D(3, ndf=8, n_layers=4)
    strides = [tuple(c.stride[-3:]) for c in disc.main.cells() if isinstance(c, nn.Conv3d)]
    assert strides == [(2, 2, 2), (2, 2, 2), (1, 2, 2), (1, 2, 2), (1, 1, 1), (1, 1, 1)]
    disc.init_weights(0)
    params = dict(disc.parameters_and_names())
    weights = np.concatenate([p.asnumpy().ravel() for n, p in params.items() if n.endswith(".weight")])
    gammas = np.concatenate([p.asnumpy() for n, p in params.items() if n.endswith(".gamma")])
    assert abs(weights.mean()) < 1e-3 and abs(weights.std() - 0.02) < 1e-3
    assert abs(gammas.mean() - 1) < 0.01 and 0.01 < gammas.std() < 0.03
    assert all(not p.asnumpy().any() for n, p in params.items() if n.endswith(".beta"))
    disc.set_train(False)
    out = disc(ms.Tensor(np.zeros((1, 3, 5, 32, 32), np.float32)))
    assert out.shape == (1, 1, 2, 2, 2)
