"""2-D VAE -> causal VAE tail inflation against the original's inflated model (tests/fixtures/vae2d_tiny)."""

import json

import mindspore as ms
import numpy as np
import pytest

from tests.conftest import assert_close, fixture_path, load_fixture, run_script

CONFIG_3D = fixture_path("vae2d_tiny", "inflation", "config_causalvae_3d.json")
SOURCES = {"diffusers": fixture_path("vae2d_tiny", "diffusers", "diffusion_pytorch_model.safetensors"),
           "ldm": fixture_path("vae2d_tiny", "ldm_format.safetensors")}


def test_diffusers_names_map_to_ldm_as_the_reference_key_map():
    from opensora.models.ae.inflation import _diffusers_name_to_ldm

    key_map = json.load(open(fixture_path("vae2d_tiny", "key_map_diffusers_to_ldm.json")))
    assert len(key_map) == 240
    assert all(_diffusers_name_to_ldm(k) == v["ldm"] for k, v in key_map.items())


def test_causal_vae_names_map_to_ldm_as_the_reference_key_map():
    from opensora.models.ae.inflation import ldm_name_of_3d

    key_map = json.load(open(fixture_path("vae2d_tiny", "inflation", "key_map_ldm_to_causalvae.json")))
    assert all(ldm_name_of_3d(k) == v.split(":")[0] for k, v in key_map.items())


@pytest.mark.parametrize("layout", ["diffusers", "ldm"])
def test_inflated_model_reproduces_the_2d_vae_on_an_image(tmp_path, layout):
    """T = 1: the original's inflated CausalVAEModel and the 2-D VAE itself agree (float rounding only)."""
    from opensora.models.ae import CausalVAEModel

    target = tmp_path / "init.ckpt"
    result = run_script(["tools/model_conversion/inflate_vae2d_to_vae3d.py", "--src", SOURCES[layout], "--target",
                         str(target), "--model_config", CONFIG_3D])
    assert result.returncode == 0, result.stderr
    assert f"2-D VAE in {layout} names" in result.stdout and "left at init 0" in result.stdout
    vae = CausalVAEModel.from_pretrained(CONFIG_3D, checkpoint=str(target))
    image = load_fixture("vae2d_tiny", "image.npy")[:, :, None]  # (1, 3, 1, 32, 40)
    posterior = vae.encode(ms.Tensor(image))
    mean, logvar = posterior.mean.asnumpy()[:, :, 0], posterior.logvar.asnumpy()[:, :, 0]
    dec = vae.decode(posterior.mean).asnumpy()[:, :, 0]
    for got, name, ref_3d, ref_2d in ((mean, "mean", "expected_3d_T1_mean.npy", "enc_mean.npy"),
                                      (logvar, "logvar", "expected_3d_T1_logvar.npy", "enc_logvar.npy"),
                                      (dec, "decode", "expected_3d_T1_dec.npy", "dec.npy")):
        ref = load_fixture("vae2d_tiny", "inflation", ref_3d).reshape(got.shape)
        assert_close(got, ref, 0, 1e-4 * np.abs(ref).max(), f"{name} vs the original's inflated model")
        two_d = load_fixture("vae2d_tiny", ref_2d)
        assert_close(got, two_d, 0, 1e-4 * np.abs(two_d).max(), f"{name} vs the 2-D VAE")
    video = vae.encode(ms.Tensor(load_fixture("vae2d_tiny", "inflation", "video_T5.npy"))).mean.asnumpy()
    ref = load_fixture("vae2d_tiny", "inflation", "expected_3d_T5_mean.npy")
    assert_close(video, ref, 0, 1e-4 * np.abs(ref).max(), "5-frame video")


def test_2d_route_convert_then_inflate(tmp_path):
    """The seed's route: convert_vae.py recognises a diffusers 2-D VAE and writes a MindSpore 2-D checkpoint;
    the inflation tool takes that .ckpt and gives the same 3-D weights as from the source directly."""
    from opensora.io import read_state_dict

    vae2d = tmp_path / "vae_2d.ckpt"
    converted = run_script(["tools/model_conversion/convert_vae.py", "--src", SOURCES["diffusers"], "--target",
                            str(vae2d)])
    assert converted.returncode == 0, converted.stderr
    assert "2-D VAE in diffusers names" in converted.stdout
    names = read_state_dict(str(vae2d))
    assert "encoder.down.0.block.0.norm1.gamma" in names and "encoder.mid.attn_1.q.weight" in names
    assert names["encoder.mid.attn_1.q.weight"].shape == (32, 32, 1, 1)
    for src, out in ((str(vae2d), "a.ckpt"), (SOURCES["diffusers"], "b.ckpt")):
        result = run_script(["tools/model_conversion/inflate_vae2d_to_vae3d.py", "--src", src, "--target",
                             str(tmp_path / out), "--model_config", CONFIG_3D])
        assert result.returncode == 0, result.stderr
    a, b = read_state_dict(str(tmp_path / "a.ckpt")), read_state_dict(str(tmp_path / "b.ckpt"))
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    kernel = a["encoder.conv_in.conv.weight"]  # tail inflation: the 2-D kernel at the last temporal tap only
    assert kernel.shape[2] == 3 and not kernel[:, :, :2].any() and kernel[:, :, 2].any()


def test_inflation_refuses_mismatched_widths(tmp_path):
    result = run_script(["tools/model_conversion/inflate_vae2d_to_vae3d.py", "--src", SOURCES["ldm"], "--target",
                         str(tmp_path / "x.ckpt"), "--model_config", fixture_path("causalvae_tiny", "config.json")])
    assert result.returncode != 0
    assert "cannot fill" in result.stderr and "same widths" in result.stderr
    assert not (tmp_path / "x.ckpt").exists()
