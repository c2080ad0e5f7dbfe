"""LPIPSWithDiscriminator against the original's six recorded calls (tests/fixtures/losses)."""

import json

import mindspore as ms
import numpy as np
import pytest

from tests.conftest import assert_close, counter_weights, fixture_path, load_fixture

CASES = ["eval_opt0_step2001", "eval_opt1_step2001", "train_opt0_step2000", "train_opt0_step2001",
         "train_opt1_step2000", "train_opt1_step2001"]


@pytest.fixture(scope="module")
def setup():
    from opensora.io import read_state_dict
    from opensora.models.ae.causal_vae.modules import CausalConv3d
    from opensora.models.ae.distributions import DiagonalGaussianDistribution
    from opensora.models.ae.losses import LPIPSWithDiscriminator
    from opensora.models.ae.losses.discriminator import from_torch_names
    from opensora.models.ae.losses.lpips import canonical_lpips_state

    cw = counter_weights()
    loss = LPIPSWithDiscriminator(**json.load(open(fixture_path("losses", "config.json")))["release_json_loss_params"])
    lpips = canonical_lpips_state({**cw.vgg16_features_arrays(),
                                   **read_state_dict(fixture_path("losses", "weights", "lpips_vgg_lin.safetensors"))})
    for name, p in loss.perceptual_loss.parameters_and_names():
        p.set_data(ms.Tensor(lpips[name]))
    disc = from_torch_names(cw.discriminator_arrays(), loss.discriminator.bn_indices())
    loss.logvar.set_data(ms.Tensor(load_fixture("losses", "logvar.npy")))
    conv = CausalConv3d(8, 3, 3, padding=1)  # the stand-in decoder.conv_out
    conv.conv.weight.set_data(ms.Tensor(load_fixture("losses", "last_layer_weight.npy")))
    conv.conv.bias.set_data(ms.Tensor(load_fixture("losses", "last_layer_bias.npy")))
    feats = ms.Tensor(load_fixture("losses", "last_layer_input.npy"))
    posterior = DiagonalGaussianDistribution(ms.Tensor(load_fixture("losses", "posterior_moments.npy")))
    return loss, disc, conv, feats, posterior


def reset_discriminator(loss, disc, mode):
    for name, p in loss.discriminator.parameters_and_names():
        p.set_data(ms.Tensor(disc[name]))
    loss.discriminator.set_train(mode == "train")


def test_stand_in_reconstruction_and_kl(setup):
    _, _, conv, feats, posterior = setup
    assert_close(conv(feats).asnumpy(), load_fixture("losses", "reconstructions.npy"), 1e-5, 1e-5, "reconstruction")
    assert_close(posterior.kl().asnumpy(), load_fixture("losses", "posterior_kl.npy"), 1e-5, 1e-4, "kl")


@pytest.mark.parametrize("case", [c for c in CASES if "opt0" in c])
def test_generator_loss(setup, case):
    from opensora.models.ae.losses import fold_frames

    loss, disc, conv, feats, posterior = setup
    mode, _, step = case.split("_")
    reset_discriminator(loss, disc, mode)
    inputs = ms.Tensor(load_fixture("losses", "inputs.npy"))
    value, log = loss.generator_loss(inputs, feats, conv, posterior, int(step[4:]), compute_d_weight=True)
    expected = json.load(open(fixture_path("losses", "cases", case, "log.json")))
    assert_close(float(value.asnumpy()), expected["loss"], 1e-4, 0, "loss")
    for key, ref in expected["log"].items():
        rtol = 1e-3 if key == "d_weight" else 1e-4  # d_weight: a ratio of two gradient norms
        assert_close(float(log[key].asnumpy()), ref, rtol, 1e-7, key)
    _, nll_grad, g_grad = loss.adaptive_weight(fold_frames(inputs), feats, conv)
    for got, name in ((nll_grad, "nll_grads"), (g_grad, "g_grads")):
        ref = load_fixture("losses", "cases", case, f"{name}.npy")
        assert_close(got.asnumpy(), ref, 0, 1e-4 * np.abs(ref).max(), name)
    recon = fold_frames(conv(feats))
    p_loss = loss.perceptual_loss(fold_frames(inputs), recon)
    assert_close(p_loss.asnumpy(), load_fixture("losses", "cases", case, "p_loss.npy"), 1e-4, 1e-7, "p_loss")


@pytest.mark.parametrize("case", [c for c in CASES if "opt1" in c])
def test_discriminator_loss_and_batchnorm(setup, case):
    loss, disc, conv, feats, _ = setup
    mode, _, step = case.split("_")
    reset_discriminator(loss, disc, mode)
    value, log = loss.discriminator_loss(ms.Tensor(load_fixture("losses", "inputs.npy")), conv(feats), int(step[4:]))
    expected = json.load(open(fixture_path("losses", "cases", case, "log.json")))
    assert_close(float(value.asnumpy()), expected["loss"], 1e-4, 1e-7, "disc loss")
    for key in ("disc_loss", "logits_real", "logits_fake"):
        assert_close(float(log[key].asnumpy()), expected["log"][key], 1e-4, 1e-7, key)
    if case == "train_opt1_step2001":  # two train-mode forwards (real, then fake) updated the running statistics
        params = dict(loss.discriminator.parameters_and_names())
        for idx in (3, 6, 9):
            for ours, theirs in (("moving_mean", "running_mean"), ("moving_variance", "running_var")):
                ref = load_fixture("losses", "cases", case, "bn_after", f"main.{idx}.{theirs}.npy")
                assert_close(params[f"main.{idx}.{ours}"].asnumpy(), ref, 1e-5, 1e-6, f"main.{idx}.{ours}")


def test_counter_weights_match_the_recorded_hashes():
    cw = counter_weights()
    recorded = json.load(open(fixture_path("losses", "weights", "generated_weights_sha256.json")))
    for file_name, arrays in (("vgg16_features.safetensors", cw.vgg16_features_arrays()),
                              ("discriminator.safetensors", cw.discriminator_arrays())):
        expected = recorded[file_name]
        assert sorted(arrays) == sorted(expected)
        assert all(cw.array_sha256(arrays[k]) == expected[k]["sha256"] for k in arrays), file_name
