"""WF-VAE building blocks and behaviours: Haar transforms, causal cache, strict loading, config checks, fp16."""

import json

import mindspore as ms
import numpy as np
import pytest

from opensora.io import net_state, save_state
from opensora.models.ae.wfvae import WFVAEModel, read_wfvae_state
from opensora.models.ae.wfvae.modules import (
    HAAR_3D_SCALE,
    HaarWaveletTransform2D,
    HaarWaveletTransform3D,
    InverseHaarWaveletTransform2D,
    InverseHaarWaveletTransform3D,
    haar_3d_filters,
    linear_upsample_2x,
)
from opensora.utils.amp import apply_precision
from opensora.utils.errors import UserError

# Narrow but complete: every block kind, GroupNorm's 32 groups satisfied (the original's Normalize fixes 32).
TINY = dict(latent_dim=4, base_channels=32, encoder_num_resblocks=1, encoder_energy_flow_hidden_size=32,
            decoder_num_resblocks=1, decoder_energy_flow_hidden_size=32, t_interpolation="trilinear")


def video(shape, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.fixture(scope="module")
def tiny():
    ms.set_seed(0)
    return WFVAEModel(TINY)


def numpy_haar_3d(x):
    """Reference: frame 0 repeated once, then each 2x2x2 block dotted with the eight +-0.3536 filters."""
    x = np.concatenate([x[:, :, :1], x], axis=2).astype(np.float64)
    b, c, t, h, w = x.shape
    t2 = (t - 2) // 2 + 1
    blocks = x[:, :, :2 * t2].reshape(b, c, t2, 2, h // 2, 2, w // 2, 2)
    out = []
    for f in haar_3d_filters()[:, 0].astype(np.float64):
        out.append(sum(blocks[:, :, :, i, :, j, :, k] * f[i, j, k] for i in range(2) for j in range(2)
                       for k in range(2)))
    return np.concatenate(out, axis=1)


def test_haar_3d_matches_a_numpy_reference_and_round_trips_with_the_originals_scale():
    x = video((2, 3, 9, 8, 12))
    wt, iwt = HaarWaveletTransform3D(), InverseHaarWaveletTransform3D()
    coeffs = wt(ms.Tensor(x)).asnumpy()
    assert coeffs.shape == (2, 24, 5, 4, 6)
    np.testing.assert_allclose(coeffs, numpy_haar_3d(x), rtol=0, atol=2e-6)
    back = iwt(ms.Tensor(coeffs)).asnumpy()
    # 0.3536 is not 1/sqrt(8): analysis + synthesis scale by 8 * 0.3536^2 = 1.000264 (as the original)
    gain = 8 * np.float32(HAAR_3D_SCALE) ** 2
    assert abs(gain - 1.000264) < 1e-6
    np.testing.assert_allclose(back, gain * x, rtol=0, atol=3e-6)


def test_haar_2d_round_trip_is_exact_per_frame():
    x = video((1, 3, 4, 6, 10), seed=1)
    coeffs = HaarWaveletTransform2D()(ms.Tensor(x))
    assert coeffs.shape == (1, 12, 4, 3, 5)
    # band 0 of channel 0, frame 2 = mean of each 2x2 block times 2
    np.testing.assert_allclose(coeffs.asnumpy()[0, 0, 2], x[0, 0, 2].reshape(3, 2, 5, 2).sum((1, 3)) / 2, atol=1e-6)
    np.testing.assert_allclose(InverseHaarWaveletTransform2D()(coeffs).asnumpy(), x, rtol=0, atol=1e-6)


def test_linear_upsample_matches_torch_align_corners_false():
    x = np.array([1.0, 3.0, 7.0], np.float32)
    got = linear_upsample_2x(ms.Tensor(x), 0).asnumpy()
    # torch.nn.functional.interpolate(x[None, None], scale_factor=2, mode="linear")
    np.testing.assert_allclose(got, [1.0, 1.5, 2.5, 4.0, 6.0, 7.0], atol=1e-6)
    np.testing.assert_allclose(linear_upsample_2x(ms.Tensor(x[:1]), 0).asnumpy(), [1.0, 1.0])


def test_parameter_names_are_the_original_keys(tiny):
    names = dict(tiny.parameters_and_names())
    for key in ("encoder.down1.0.weight", "encoder.down1.1.norm1.gamma", "encoder.down1.2.conv.weight",
                "encoder.down2.2.conv.conv.weight", "encoder.mid.1.q.conv.weight", "encoder.conv_out.conv.bias",
                "encoder.wavelet_tranform_l1.aa", "encoder.wavelet_tranform_l2.gh_v_conv.conv.weight",
                "decoder.up2.1.conv.conv.weight", "decoder.up1.1.conv.weight", "decoder.connect_l1.1.weight",
                "decoder.inverse_wavelet_tranform_l2.hh_v", "decoder.conv_out.weight"):
        assert key in names, key
    assert "encoder.wavelet_tranform_l2.h_conv.conv.bias" not in names  # bias=False, as the original
    assert not names["decoder.inverse_wavelet_tranform_l2.h"].requires_grad
    assert tiny.get_last_layer() is names["decoder.conv_out.weight"]
    layer = WFVAEModel({**TINY, "norm_type": "layernorm"})
    assert "encoder.mid.0.norm1.norm.gamma" in dict(layer.parameters_and_names())


def test_shapes_and_tiling_equal_untiled_without_groupnorm():
    """With LayerNorm (no statistics over time) the chunked causal path must equal the whole clip: the caches
    carry exactly the frames each chunk needs."""
    ms.set_seed(1)
    model = WFVAEModel({**TINY, "norm_type": "layernorm"})
    x = ms.Tensor(video((1, 3, 41, 16, 16), seed=2))  # 21 wavelet frames: chunks 1 + 16 + 4
    moments = model.encode_moments(x)
    assert moments.shape == (1, 8, 11, 2, 2) and model.latent_shape((3, 41, 16, 16)) == (4, 11, 2, 2)
    z = moments[:, :4]
    dec = model.decode(z)
    assert dec.shape == (1, 3, 41, 16, 16)
    model.enable_tiling()
    np.testing.assert_allclose(model.encode_moments(x).asnumpy(), moments.asnumpy(), atol=2e-5)
    np.testing.assert_allclose(model.decode(z).asnumpy(), dec.asnumpy(), atol=2e-5)
    model.disable_tiling()
    assert all(not c.enable_cached for _, c in model.cells_and_names() if hasattr(c, "enable_cached"))
    np.testing.assert_array_equal(model.decode(z).asnumpy(), dec.asnumpy())  # caches emptied, stateless again


def test_chunk_plan_is_the_originals(tiny):
    assert tiny.build_chunk_start_end(21) == [[0, 1], [1, 17], [17, 21]]
    assert tiny.build_chunk_start_end(11, decoder_mode=True) == [[0, 1], [1, 5], [5, 9], [9, 11]]


def test_strict_loading_reports_missing_unexpected_and_misshaped(tiny, tmp_path):
    state = net_state(tiny)
    path = str(tmp_path / "w.ckpt")
    save_state(state, path)
    WFVAEModel(TINY).load_checkpoint(path)  # complete: loads
    cases = {
        "missing": ({k: v for k, v in state.items() if k != "decoder.conv_out.weight"}, "1 missing keys"),
        "unexpected": ({**state, "decoder.extra.weight": np.zeros(3, np.float32)}, "unexpected keys"),
        "shape": ({**state, "decoder.conv_out.bias": np.zeros(5, np.float32)}, "shape mismatches"),
    }
    for bad, message in cases.values():
        save_state(bad, path)
        with pytest.raises(UserError, match=message):
            WFVAEModel(TINY).load_checkpoint(path)
    # loss.* keys (the trainer's) are dropped, not unexpected
    save_state({**state, "loss.logvar": np.zeros(1, np.float32)}, path)
    WFVAEModel(TINY).load_checkpoint(path)


def test_haar_filters_absent_from_the_checkpoint_get_their_constants(tiny, tmp_path):
    """The original's EMA weights hold only trainable parameters; its non-strict load keeps the filters."""
    fixed = tiny.fixed_parameters()
    assert len(fixed) == 4 + 8 + 4 + 8
    trainable = {k: v for k, v in net_state(tiny).items() if k not in fixed}
    path = str(tmp_path / "ema.ckpt")
    save_state(trainable, path)
    model = WFVAEModel(TINY)
    model.load_checkpoint(path)
    np.testing.assert_array_equal(dict(model.parameters_and_names())["encoder.wavelet_tranform_l2.g_conv.conv.weight"]
                                  .asnumpy(), haar_3d_filters()[1:2])


def test_checkpoint_choice_follows_init_from_ckpt(monkeypatch, tmp_path):
    """ema_state_dict when non-empty (module. prefixes stripped), else state_dict's gen_model, else state_dict."""
    import opensora.io.state_dict as state_dict

    path = tmp_path / "merged.pt"
    path.write_bytes(b"")
    a, b = {"w": np.ones(1, np.float32)}, {"w": np.zeros(1, np.float32)}
    files = {
        "ema": ({"ema_state_dict": {"module.w": a["w"]}, "state_dict": {"gen_model": b}}, "module.w"),
        "empty ema": ({"ema_state_dict": {}, "state_dict": {"gen_model": a, "dis_model": b}}, "w"),
        "plain": ({"state_dict": a}, "w"),
        "flat": (a, "w"),
    }
    for name, (content, key) in files.items():
        monkeypatch.setattr(state_dict, "read_torch_file", lambda p, content=content: content)
        got = read_wfvae_state(str(path))
        assert list(got) == [key] and got[key][0] == 1.0, name
    monkeypatch.setattr(state_dict, "read_torch_file", lambda p: files["ema"][0])
    assert read_wfvae_state(str(path), use_ema=False)["w"][0] == 0.0  # the original's NOT_USE_EMA_MODEL


def test_config_keys(tmp_path):
    released = {"_class_name": "WFVAEModel", "_diffusers_version": "0.30.2", **TINY, "norm_type": "layernorm",
                "l1_dowmsample_block": "Downsample", "scale": [0.1] * 4, "shift": [0.0] * 4}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(released))
    model = WFVAEModel.from_config_file(str(path))
    assert model.config["scale"] == (0.1,) * 4 and model.config["connect_res_layer_num"] == 1  # default kept
    model.save_config(str(tmp_path / "saved"))
    assert WFVAEModel.from_config_file(str(tmp_path / "saved" / "config.json")).config == model.config
    for bad, message in [({"latent_dims": 4}, "unknown WFVAEModel config key 'latent_dims'"),
                         ({"_class_name": "CausalVAEModel"}, "is not a WFVAEModel"),
                         ({"norm_type": "batchnorm"}, "norm_type 'batchnorm'"),
                         ({"decoder_energy_flow_hidden_size": 64}, "must equal base_channels"),
                         # before: a graph-compiler traceback at the first GroupNorm
                         ({"norm_type": "groupnorm", "base_channels": 16, "decoder_energy_flow_hidden_size": 16},
                          "groupnorm normalises 16, 80 channels in 32 groups")]:
        path.write_text(json.dumps({**released, **bad}))
        with pytest.raises(UserError, match=message) as err:
            WFVAEModel.from_config_file(str(path))
        assert str(path) in str(err.value)
    with pytest.raises(UserError, match="not found"):
        WFVAEModel.from_config_file(str(tmp_path / "none.json"))


def test_fp16_keeps_norms_fp32_and_stays_close(tmp_path):
    ms.set_seed(2)
    for norm_type in ("groupnorm", "layernorm"):
        model = WFVAEModel({**TINY, "norm_type": norm_type})
        x = video((1, 3, 5, 16, 16), seed=3)
        ref = model.encode(ms.Tensor(x)).mean
        ref_dec = model.decode(ref).asnumpy()
        apply_precision(model, ms.float16)
        dtypes = {n: p.dtype for n, p in model.parameters_and_names()}
        norm = "encoder.mid.0.norm1." + ("gamma" if norm_type == "groupnorm" else "norm.gamma")
        assert dtypes[norm] == ms.float32 and dtypes["encoder.mid.0.conv1.conv.weight"] == ms.float16
        mean = model.encode(ms.Tensor(x, ms.float16)).mean
        assert mean.dtype == ms.float16
        dec = model.decode(ref.astype(ms.float16))
        assert dec.dtype == ms.float16
        scale = np.abs(ref_dec).max()
        assert np.abs(mean.astype(ms.float32).asnumpy() - ref.asnumpy()).max() < 0.02 * np.abs(ref.asnumpy()).max()
        assert np.abs(dec.astype(ms.float32).asnumpy() - ref_dec).max() < 0.02 * scale


def test_wavelet_coefficients_for_the_loss(tiny):
    x = ms.Tensor(video((1, 3, 9, 16, 16), seed=4))
    dec, posterior, (enc_l1, dec_l1, enc_l2, dec_l2) = tiny.forward_with_wavelets(x, sample_posterior=False)
    assert enc_l1.shape == dec_l1.shape == (1, 12, 5, 4, 4)
    assert enc_l2.shape == dec_l2.shape == (1, 24, 3, 2, 2)
    ref_dec, ref_posterior = tiny(x, sample_posterior=False)
    np.testing.assert_array_equal(dec.asnumpy(), ref_dec.asnumpy())
    np.testing.assert_array_equal(posterior.mean.asnumpy(), ref_posterior.mean.asnumpy())


def test_family_detection_by_class_name_or_wfvae_only_keys(tmp_path):
    from opensora.models.ae import detect_family

    named, bare = tmp_path / "named.json", tmp_path / "bare.json"
    named.write_text(json.dumps({"_class_name": "WFVAEModel", **TINY}))
    bare.write_text(json.dumps(TINY))  # written without diffusers' bookkeeping keys
    assert detect_family(str(named)) == detect_family(str(bare)) == "WFVAEModel"
    assert detect_family("configs/ae/causal_vae_488.yaml") == "CausalVAEModel"


def test_family_detection_names_the_file_for_a_class_it_does_not_run(tmp_path):
    from opensora.models.ae import detect_family
    from opensora.utils.errors import UserError

    image_vae, other = tmp_path / "sd_vae.json", tmp_path / "vq.json"
    image_vae.write_text(json.dumps({"_class_name": "AutoencoderKL", "latent_channels": 4}))
    other.write_text(json.dumps({"_class_name": "VQModel"}))
    with pytest.raises(UserError, match=r"sd_vae\.json: a 2-D image VAE \(AutoencoderKL\).*inflate"):
        detect_family(str(image_vae))
    with pytest.raises(UserError, match=r"vq\.json: _class_name VQModel is not an autoencoder this repo runs"):
        detect_family(str(other))
