"""CausalVAEModel vs the original PyTorch code on the tiny fixture model (fp32)."""

import json

import mindspore as ms
import numpy as np
import pytest
from conftest import assert_close, fixture_path, load_fixture

from opensora.models.ae import CausalVAEModel, DiagonalGaussianDistribution

# Fixture README: fp32 vs fp32 across frameworks, moments/dec/intermediates/tiled: rtol 1e-4, atol 1e-4.
RTOL, ATOL = 1e-4, 1e-4

INTERMEDIATES = [
    "decoder.conv_in", "decoder.mid.attn_1", "decoder.mid.block_2", "decoder.up.3.block.2",
    "decoder.up.3.time_upsample", "decoder.up.3.upsample", "encoder.conv_out", "encoder.down.0.time_downsample",
    "encoder.down.1.time_downsample", "encoder.down.2.downsample", "encoder.mid.attn_1", "encoder.mid.block_1",
    "encoder.mid.block_2", "post_quant_conv",
]


@pytest.fixture(scope="module")
def encoded(tiny_vae):
    x = ms.Tensor(load_fixture("causalvae_tiny", "input.npy"))
    return tiny_vae.encode(x)


def test_moments_and_posterior(encoded):
    assert_close(encoded.parameters.asnumpy(), load_fixture("causalvae_tiny", "moments.npy"), RTOL, ATOL, "moments")
    assert_close(encoded.mean.asnumpy(), load_fixture("causalvae_tiny", "enc_mean.npy"), RTOL, ATOL, "mean")
    assert_close(encoded.logvar.asnumpy(), load_fixture("causalvae_tiny", "enc_logvar.npy"), RTOL, ATOL, "logvar")
    assert_close(encoded.std.asnumpy(), load_fixture("causalvae_tiny", "enc_std.npy"), RTOL, ATOL, "std")


def test_decode_of_mean(tiny_vae):
    dec = tiny_vae.decode(ms.Tensor(load_fixture("causalvae_tiny", "enc_mean.npy"))).asnumpy()
    assert_close(dec, load_fixture("causalvae_tiny", "dec.npy"), RTOL, ATOL, "dec")


def test_intermediates(tiny_vae):
    captured = {}
    cells = dict(tiny_vae.cells_and_names())
    handles = []
    for name in INTERMEDIATES:
        def hook(cell, inputs, output, name=name):
            captured[name] = output.asnumpy()
        handles.append(cells[name].register_forward_hook(hook))
    try:
        x = ms.Tensor(load_fixture("causalvae_tiny", "input.npy"))
        tiny_vae.decode(tiny_vae.encode(x).mode())
    finally:
        for h in handles:
            h.remove()
    for name in INTERMEDIATES:
        assert_close(captured[name], load_fixture("causalvae_tiny", "intermediates", f"{name}.npy"), RTOL, ATOL, name)


def test_tiled_encode_decode():
    model = CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny"))
    params = json.load(open(fixture_path("causalvae_tiny", "tiled", "tile_params.json")))["set_on_model"]
    model.enable_tiling()
    for key, value in params.items():
        setattr(model, key, value)
    x = ms.Tensor(load_fixture("causalvae_tiny", "tiled", "input.npy"))
    posterior = model.encode(x)
    assert_close(posterior.parameters.asnumpy(), load_fixture("causalvae_tiny", "tiled", "moments.npy"), RTOL, ATOL,
                 "tiled moments")
    assert_close(posterior.logvar.asnumpy(), load_fixture("causalvae_tiny", "tiled", "enc_logvar.npy"), RTOL, ATOL,
                 "tiled logvar")
    dec = model.decode(ms.Tensor(load_fixture("causalvae_tiny", "tiled", "enc_mean.npy"))).asnumpy()
    assert_close(dec, load_fixture("causalvae_tiny", "tiled", "dec.npy"), RTOL, ATOL, "tiled dec")
    # Tiling off gives a different (untiled) result: the switch really switches.
    model.disable_tiling()
    assert np.abs(model.decode(ms.Tensor(load_fixture("causalvae_tiny", "tiled", "enc_mean.npy"))).asnumpy()
                  - load_fixture("causalvae_tiny", "tiled", "dec.npy")).max() > 0.1


def test_posterior_fixture():
    post = DiagonalGaussianDistribution(ms.Tensor(load_fixture("posterior", "moments.npy")))
    for name in ("mean", "logvar", "std", "var"):
        assert_close(getattr(post, name).asnumpy(), load_fixture("posterior", f"{name}.npy"), 1e-5, 0, name)
    assert_close(post.kl().asnumpy(), load_fixture("posterior", "kl.npy"), 1e-5, 0, "kl")
    nll = post.nll(ms.Tensor(load_fixture("posterior", "sample_for_nll.npy"))).asnumpy()
    assert_close(nll, load_fixture("posterior", "nll.npy"), 1e-5, 0, "nll")
    assert post.kl().shape == (2, 3)  # sums over dims 1-3 only (V7)


def test_full_size_keys_match_release_config():
    """Every parameter name/shape of the released 229M-parameter model, after our one rename table."""
    from opensora.io import map_names

    spec = json.load(open(fixture_path("keys", "causalvae_488_full.json")))
    model = CausalVAEModel(spec["config"])
    ours = {n: tuple(p.shape) for n, p in model.parameters_and_names()}
    ref = {k: tuple(v["shape"] if isinstance(v, dict) else v) for k, v in spec["state_dict"].items()}
    mapped, dropped, unexpected = map_names(ref, ours.keys())
    assert not unexpected and not dropped
    assert set(mapped) == set(ours), set(ours) ^ set(mapped)
    assert all(tuple(mapped[n]) == ours[n] for n in ours)
    assert sum(int(np.prod(s)) for s in ours.values()) == spec["num_parameters"] == 229169895


GRAPH_MODE_SCRIPT = """
import json, sys
import numpy as np, mindspore as ms
ms.set_device("CPU"); ms.set_context(mode=ms.GRAPH_MODE)
from opensora.models.ae import CausalVAEModel
folder = sys.argv[1]
vae = CausalVAEModel.from_pretrained(folder); vae.set_train(False)
moments = vae.encode_moments(ms.Tensor(np.load(folder + "/input.npy"))).asnumpy()
dec = vae.decode(ms.Tensor(np.load(folder + "/enc_mean.npy"))).asnumpy()
np.save(sys.argv[2] + "/moments.npy", moments); np.save(sys.argv[2] + "/dec.npy", dec)
"""


def test_graph_mode_matches_the_original(tmp_path):
    """`--mode 0` (MindSpore graph mode, as the original port's default) gives the same numbers."""
    from conftest import run_script

    result = run_script(["-c", GRAPH_MODE_SCRIPT, fixture_path("causalvae_tiny"), str(tmp_path)], timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    moments = load_fixture("causalvae_tiny", "moments.npy")
    assert_close(np.load(tmp_path / "moments.npy"), moments, RTOL, ATOL, "moments")
    assert_close(np.load(tmp_path / "dec.npy"), load_fixture("causalvae_tiny", "dec.npy"), RTOL, ATOL, "dec")


def test_decode_with_the_plain_kernel_forms():
    """Conv3d, ops.pad and step-2 slices (the forms other backends get, opensora.backend) reproduce the
    original as the CPU forms do."""
    from opensora.backend import kernel_choices, use_kernels

    vae = use_kernels(CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny")), kernel_choices("Ascend"))
    vae.set_train(False)
    posterior = vae.encode(ms.Tensor(load_fixture("causalvae_tiny", "input.npy")))
    assert_close(posterior.mean.asnumpy(), load_fixture("causalvae_tiny", "enc_mean.npy"), RTOL, ATOL, "mean")
    dec = vae.decode(posterior.mode()).asnumpy()
    assert_close(dec, load_fixture("causalvae_tiny", "dec.npy"), RTOL, ATOL, "dec")
