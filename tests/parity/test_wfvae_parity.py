"""WFVAEModel vs the ORIGINAL Open-Sora-Plan v1.3.1 code on two tiny configs (tests/fixtures/wfvae_tiny/README.md).

Case `ln`: the released config's choices (LayerNorm, trilinear time upsampling); case `gn`: the constructor's
defaults (GroupNorm, nearest). Tolerances are per output, 8x the original's own fp32-vs-fp64 spread
(tolerances.json, written by the generator)."""

import json

import mindspore as ms
import numpy as np
import pytest
from conftest import assert_close, fixture_path
from original_weights import original_state

from opensora.io import load_state_into
from opensora.models.ae import DiagonalGaussianDistribution
from opensora.models.ae.wfvae import WFVAEModel

CASES = ("ln", "gn")
TOLERANCES = json.load(open(fixture_path("wfvae_tiny", "tolerances.json")))
HOOKED = ("encoder.down1", "encoder.down2", "encoder.mid", "decoder.mid", "decoder.up2", "decoder.up1",
          "decoder.layer", "decoder")


def expected(case):
    return np.load(fixture_path("wfvae_tiny", f"{case}_outputs.npz"))


def check(case, actual, key, tol_key=None):
    assert_close(actual, expected(case)[key], 0, TOLERANCES[case][tol_key or key], f"{case} {key}")


def build(case, kernels=None):
    with open(fixture_path("wfvae_tiny", f"{case}_config.json")) as f:
        model = WFVAEModel(json.load(f), kernels=kernels)
    load_state_into(model, model.fill_fixed(original_state(case)), source=f"{case} weight rule")
    model.set_train(False)
    return model


@pytest.fixture(scope="module", params=CASES)
def case_model(request):
    return request.param, build(request.param)


def test_encode_decode_and_intermediates(case_model):
    case, model = case_model
    ref = expected(case)
    captured, handles = {}, []
    cells = dict(model.cells_and_names())
    for name in HOOKED:
        def hook(cell, inputs, output, name=name):
            captured[name] = output.asnumpy()
        handles.append(cells[name].register_forward_hook(hook))
    try:
        posterior = model.encode(ms.Tensor(ref["video"]))
        decoded = model.decode(posterior.mode()).asnumpy()
    finally:
        for handle in handles:
            handle.remove()
    check(case, posterior.parameters.asnumpy(), "moments")
    check(case, decoded, "decoded")
    for name in HOOKED:
        check(case, captured[name], f"hook.{name}")
    sample = posterior.sample(ms.Tensor(ref["noise"])).asnumpy()
    check(case, sample, "sample")


def test_tiled_encode_decode_equals_the_originals_tiled_pass(case_model):
    """Temporal chunks with the causal cache: 1 + 16 + ... wavelet frames in, 1 + 4 + ... latent frames out."""
    case, model = case_model
    ref = expected(case)
    model.enable_tiling()
    try:
        moments = model.encode_moments(ms.Tensor(ref["video"])).asnumpy()
        latent_dim = moments.shape[1] // 2
        decoded = model.decode(ms.Tensor(ref["moments"][:, :latent_dim])).asnumpy()
    finally:
        model.disable_tiling()
    check(case, moments, "moments_tiled")
    check(case, decoded, "decoded_tiled")
    if case == "ln":  # no GroupNorm statistics across chunks: tiled equals untiled (the original's claim)
        assert np.abs(decoded - ref["decoded"]).max() < TOLERANCES[case]["decoded"]


def test_images_batch_of_two():
    model, ref = build("ln"), expected("ln")
    posterior = model.encode(ms.Tensor(ref["image"]))
    check("ln", posterior.parameters.asnumpy(), "image_moments")
    check("ln", model.decode(posterior.mode()).asnumpy(), "image_decoded")


@pytest.mark.parametrize("weights", ["merged.ckpt", "diffusion_pytorch_model.safetensors"])
def test_release_files_load_strictly_and_reproduce(weights):
    """The two forms a user has: the training checkpoint merged.ckpt (its EMA weights, which lack the Haar filters)
    and diffusers safetensors (the whole state dict)."""
    folder = fixture_path("wfvae_tiny", "ln_release")
    model = WFVAEModel.from_pretrained(f"{folder}/config.json", checkpoint=f"{folder}/{weights}")
    model.set_train(False)
    ref = expected("ln")
    moments = model.encode_moments(ms.Tensor(ref["video"])).asnumpy()
    check("ln", moments, "moments")
    check("ln", model.decode(ms.Tensor(ref["moments"][:, :4])).asnumpy(), "decoded")


def test_released_folder_picks_merged_ckpt_like_the_original():
    model = WFVAEModel.from_pretrained(fixture_path("wfvae_tiny", "ln_release"))
    ref = expected("ln")
    check("ln", model.encode_moments(ms.Tensor(ref["video"])).asnumpy(), "moments")


def test_plain_kernel_forms_reproduce_the_original():
    """Conv3d, ops.pad (the Ascend / GPU forms, opensora.backend) give the original's numbers too."""
    from opensora.backend import kernel_choices

    model, ref = build("gn", kernels=kernel_choices("Ascend")), expected("gn")
    posterior = model.encode(ms.Tensor(ref["video"]))
    check("gn", posterior.parameters.asnumpy(), "moments")
    check("gn", model.decode(posterior.mode()).asnumpy(), "decoded")


def test_posterior_is_the_shared_diagonal_gaussian(case_model):
    case, model = case_model
    assert isinstance(model.encode(ms.Tensor(expected(case)["video"][:, :, :5])), DiagonalGaussianDistribution)


GRAPH_MODE_SCRIPT = """
import sys
import mindspore as ms
import numpy as np
ms.set_context(mode=ms.GRAPH_MODE)
from opensora.models.ae.wfvae import WFVAEModel
folder, out = sys.argv[1], sys.argv[2]
vae = WFVAEModel.from_pretrained(folder); vae.set_train(False)
ref = np.load(folder + "/../ln_outputs.npz")
np.save(out + "/moments.npy", vae.encode_moments(ms.Tensor(ref["video"])).asnumpy())
np.save(out + "/decoded.npy", vae.decode(ms.Tensor(ref["moments"][:, :4])).asnumpy())
"""


def test_graph_mode_matches_the_original(tmp_path):
    """`--mode 0` compiles the untiled encoder and decoder (no Python cache state on that path)."""
    from conftest import run_script

    result = run_script(["-c", GRAPH_MODE_SCRIPT, fixture_path("wfvae_tiny", "ln_release"), str(tmp_path)],
                        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    check("ln", np.load(tmp_path / "moments.npy"), "moments")
    check("ln", np.load(tmp_path / "decoded.npy"), "decoded")


def test_fixture_files_are_the_generators():
    """MANIFEST.sha256 (written by the generator) still matches: no expected output was edited by hand."""
    import hashlib

    folder = fixture_path("wfvae_tiny")
    for line in open(f"{folder}/MANIFEST.sha256"):
        digest, name = line.split()
        assert hashlib.sha256(open(f"{folder}/{name}", "rb").read()).hexdigest() == digest, name


def test_latents_for_the_denoiser_use_the_configs_shift_and_scale():
    """WFVAEModelWrapper: encode -> (sample - shift) * scale, decode <- latents / scale + shift, per channel."""
    model, ref = build("ln"), expected("ln")
    z = ref["sample"]
    shift = np.array([0.1, -0.2, 0.3, 0.0], np.float32).reshape(1, 4, 1, 1, 1)
    scale = np.array([0.5, 0.6, 0.7, 0.8], np.float32).reshape(1, 4, 1, 1, 1)
    latents = model.normalize_latents(ms.Tensor(z)).asnumpy()
    np.testing.assert_allclose(latents, (z - shift) * scale, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.denormalize_latents(ms.Tensor(latents)).asnumpy(), z, rtol=1e-5, atol=1e-6)
