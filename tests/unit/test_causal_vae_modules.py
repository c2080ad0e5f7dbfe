"""Causal VAE behaviours that the fixtures do not isolate: time resampling, images, precision, loading."""

import json

import mindspore as ms
import numpy as np
import pytest
from conftest import fixture_path, load_fixture

from opensora.io import read_state_dict, save_state
from opensora.models.ae import CausalVAEModel
from opensora.models.ae.causal_vae.config import load_vae_config
from opensora.models.ae.causal_vae.modules import TimeDownsample2x, TimeUpsample2x
from opensora.utils.amp import apply_precision
from opensora.utils.errors import UserError


def frames_tensor(values):
    return ms.Tensor(np.asarray(values, np.float32).reshape(1, 1, -1, 1, 1))


def test_time_downsample_keeps_frame0_and_averages_triples():
    out = TimeDownsample2x()(frames_tensor([0, 1, 2, 3, 4])).asnumpy().ravel()
    np.testing.assert_allclose(out, [0, 1, 3], atol=1e-6)  # x0, mean(x0,x1,x2), mean(x2,x3,x4)


def test_time_upsample_pairs_and_single_frame():
    out = TimeUpsample2x()(frames_tensor([7, 0, 4])).asnumpy().ravel()
    np.testing.assert_allclose(out, [7, 0, 1, 3, 4], atol=1e-6)  # (a,b) -> a, .75a+.25b, .25a+.75b, b
    single = TimeUpsample2x()(frames_tensor([5])).asnumpy().ravel()
    np.testing.assert_array_equal(single, [5])


def test_image_is_one_latent_frame(tiny_vae):
    x = ms.Tensor(load_fixture("causalvae_tiny", "input.npy")[:1, :, :1])  # (1, 3, 1, 40, 48)
    z = tiny_vae.encode(x).mode()
    assert z.shape == (1, 4, 1, 5, 6)
    assert tiny_vae.decode(z).shape == (1, 3, 1, 40, 48)


def test_frame_counts_round_trip_for_4k_plus_1(tiny_vae):
    x = ms.Tensor(np.zeros((1, 3, 17, 16, 16), np.float32))
    z = tiny_vae.encode(x).mode()
    assert z.shape[2] == 5 and tiny_vae.decode(z).shape[2] == 17


def test_fp16_keeps_groupnorm_fp32_and_stays_close():
    model = CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny"))
    apply_precision(model, ms.float16)
    dtypes = {n: p.dtype for n, p in model.parameters_and_names()}
    assert dtypes["encoder.mid.block_1.norm1.gamma"] == ms.float32
    assert dtypes["encoder.mid.block_1.conv1.conv.weight"] == ms.float16
    x = load_fixture("causalvae_tiny", "input.npy")
    mean = model.encode(ms.Tensor(x, ms.float16)).mean.astype(ms.float32).asnumpy()
    ref = load_fixture("causalvae_tiny", "enc_mean.npy")
    assert np.abs(mean - ref).max() < 0.02 * np.abs(ref).max()


def test_repo_yaml_builds_the_released_architecture():
    spec = json.load(open(fixture_path("keys", "causalvae_488_full.json")))
    from_yaml = CausalVAEModel(load_vae_config("configs/ae/causal_vae_488.yaml"))
    from_release = CausalVAEModel(spec["config"])
    assert from_yaml.config == from_release.config


def test_truncated_checkpoint_is_a_strict_load_error(tmp_path):
    state = read_state_dict(fixture_path("causalvae_tiny", "diffusion_pytorch_model.safetensors"))
    dropped = sorted(state)[:3]
    for name in dropped:
        del state[name]
    path = save_state(state, str(tmp_path / "partial.ckpt"))
    model = CausalVAEModel(load_vae_config(fixture_path("causalvae_tiny", "config.json")))
    with pytest.raises(UserError, match="3 missing keys") as err:
        model.load_checkpoint(path)
    assert dropped[0] in str(err.value)


def test_unexpected_keys_error_but_loss_keys_are_dropped(tmp_path):
    state = read_state_dict(fixture_path("causalvae_tiny", "diffusion_pytorch_model.safetensors"))
    state["loss.logvar"] = np.zeros((), np.float32)
    state["loss.discriminator.main.0.weight"] = np.zeros((4, 3, 4, 4), np.float32)
    model = CausalVAEModel(load_vae_config(fixture_path("causalvae_tiny", "config.json")))
    report = model.load_checkpoint(save_state(state, str(tmp_path / "with_loss.ckpt")))
    assert len(report["dropped"]) == 2 and not report["unexpected"]
    state["encoder.extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(UserError, match="1 unexpected keys: encoder.extra.weight"):
        model.load_checkpoint(save_state(state, str(tmp_path / "extra.ckpt")))


def test_wrong_model_config_is_a_shape_error():
    model = CausalVAEModel(load_vae_config("configs/ae/causal_vae_488.yaml"))
    with pytest.raises(UserError, match="shape mismatches"):
        model.load_checkpoint(fixture_path("causalvae_tiny", "diffusion_pytorch_model.safetensors"))


def test_original_port_ckpt_names_load(tmp_path):
    """The original MindSpore port saved GroupNorm as gamma/beta and wrapped names in `network.`."""
    model = CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny"))
    state = {f"network.{n}": p.asnumpy() for n, p in model.parameters_and_names()}
    other = CausalVAEModel(load_vae_config(fixture_path("causalvae_tiny", "config.json")))
    other.load_checkpoint(save_state(state, str(tmp_path / "port.ckpt")))
    np.testing.assert_array_equal(
        other.encoder.conv_in.conv.weight.asnumpy(), model.encoder.conv_in.conv.weight.asnumpy()
    )


def test_time_chunking_lines_up_chunks_and_round_trips_frame_counts():
    model = CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny"))
    x = ms.Tensor(np.random.default_rng(0).uniform(-1, 1, (1, 3, 13, 16, 16)).astype(np.float32))
    model.enable_time_chunking(5)
    z = model.encode(x).mode()
    assert z.shape == (1, 4, 4, 2, 2)
    # chunks [0..4], [4..8], [8..12]: each later chunk's first latent (its shared first frame) is dropped
    model.enable_time_chunking(0)
    expected = [model.encode(x[:, :, 0:5]).mode().asnumpy()]
    expected += [model.encode(x[:, :, s : s + 5]).mode().asnumpy()[:, :, 1:] for s in (4, 8)]
    np.testing.assert_allclose(z.asnumpy(), np.concatenate(expected, axis=2), atol=1e-6)
    model.enable_time_chunking(5)
    assert model.decode(z).shape == (1, 3, 13, 16, 16)
    with pytest.raises(ValueError, match="4k\\+1"):
        model.enable_time_chunking(8)


@pytest.mark.parametrize(
    "cin,cout,kernel,stride,padding",
    [
        (4, 8, 3, 1, 1),  # resnet conv
        (8, 8, 1, 1, 0),  # attention q/k/v, nin_shortcut, quant convs
        (8, 6, (1, 3, 3), (1, 2, 2), 0),  # SpatialDownsample2x
        (8, 8, (1, 3, 3), 1, 1),  # SpatialUpsample2x
    ],
)
def test_folded_conv2d_equals_conv3d(cin, cout, kernel, stride, padding):
    """The CPU fast path (frames in the batch, temporal taps in the channels) is the same convolution."""
    import opensora.models.ae.causal_vae.modules as modules

    conv = modules.CausalConv3d(cin, cout, kernel, stride=stride, padding=padding)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((2, cin, 5, 9, 10)).astype(np.float32))
    conv.set_kernels(conv_form("conv3d"))
    reference = conv(x).asnumpy()
    conv.set_kernels(conv_form("folded"))
    np.testing.assert_allclose(conv(x).asnumpy(), reference, atol=2e-6)


@pytest.mark.parametrize("chunk_elements", [1, 2 * 3 * 4 * 9 * 10 * 2])  # one frame per call; two per call
def test_folded_conv_in_frame_chunks_is_the_same_convolution(chunk_elements):
    """Building the stacked input a few output frames at a time (the memory bound of a full-size clip) changes
    nothing: the chunks' outputs are the whole call's."""
    import opensora.models.ae.causal_vae.modules as modules

    conv = modules.CausalConv3d(4, 8, 3, padding=1)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((2, 4, 5, 9, 10)).astype(np.float32))
    conv.set_kernels(conv_form("folded"))
    whole = conv(x).asnumpy()
    conv.set_kernels(conv_form("conv3d"))
    np.testing.assert_allclose(whole, conv(x).asnumpy(), atol=2e-6)
    conv.set_kernels(conv_form("folded", folded_chunk_elements=chunk_elements))
    np.testing.assert_allclose(conv(x).asnumpy(), whole, atol=1e-6)


def conv_form(form, **changes):
    """The CPU kernel choices with the causal convolution run as `form`."""
    import dataclasses

    from opensora.backend import kernel_choices

    return dataclasses.replace(kernel_choices("CPU"), causal_conv=form, **changes)


@pytest.mark.parametrize("cin,cout,kernel,padding", [(4, 8, 3, 1), (8, 6, (3, 1, 1), 0)])
def test_single_frame_conv_equals_the_padded_conv3d_and_its_gradient(cin, cout, kernel, padding):
    """An image (T = 1) runs one Conv2d with the temporal taps summed: the same values and weight gradients as
    Conv3d over the frame repeated k_t times (the causal padding)."""
    import mindspore.ops as ops

    import opensora.models.ae.causal_vae.modules as modules

    conv = modules.CausalConv3d(cin, cout, kernel, padding=padding)
    x = ms.Tensor(np.random.default_rng(1).standard_normal((2, cin, 1, 9, 10)).astype(np.float32))
    k_t = conv.time_kernel_size

    def padded(x):
        return conv.conv(ops.tile(x, (1, 1, k_t, 1, 1)))

    np.testing.assert_allclose(conv(x).asnumpy(), padded(x).asnumpy(), atol=2e-6)
    params = conv.trainable_params()
    grads = ms.grad(lambda x: (conv(x) ** 2).sum(), grad_position=0, weights=params)(x)
    reference = ms.grad(lambda x: (padded(x) ** 2).sum(), grad_position=0, weights=params)(x)
    for got, want in zip([grads[0], *grads[1]], [reference[0], *reference[1]]):
        np.testing.assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-5, atol=1e-4)
