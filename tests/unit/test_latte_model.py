"""LatteT2V loading, conversion, recompute and the attention paths."""

import json

import mindspore as ms
import numpy as np
import pytest
from conftest import fixture_path, load_fixture, run_script

from opensora.io import read_state_dict, save_state
from opensora.models.diffusion.latte import LatteT2V
from opensora.models.diffusion.latte.modules import flash_attention, math_attention
from opensora.utils.errors import UserError

TINY = fixture_path("latte_tiny")


def case_inputs(case):
    call = json.load(open(fixture_path("latte_tiny", case, "call.json")))
    inputs = {k: ms.Tensor(load_fixture("latte_tiny", case, f"{k}.npy")) for k in call["inputs"]}
    return call, inputs


def test_convert_latte_round_trip(tmp_path):
    target = str(tmp_path / "latte.ckpt")
    result = run_script(
        [
            "tools/model_conversion/convert_latte.py",
            "--src",
            f"{TINY}/diffusion_pytorch_model.safetensors",
            "--target",
            target,
        ]
    )
    assert result.returncode == 0, result.stderr
    assert "converted 84 / dropped 0 / missing 0 / unexpected 0" in result.stdout
    a = LatteT2V.from_pretrained(TINY)
    b = LatteT2V.from_pretrained(TINY, checkpoint=target)
    for (na, pa), (nb, pb) in zip(a.parameters_and_names(), b.parameters_and_names()):
        assert na == nb
        np.testing.assert_array_equal(pa.asnumpy(), pb.asnumpy())


def test_convert_latte_refuses_wrong_config(tmp_path):
    result = run_script(
        [
            "tools/model_conversion/convert_latte.py",
            "--src",
            f"{TINY}/diffusion_pytorch_model.safetensors",
            "--target",
            str(tmp_path / "x.ckpt"),
            "--model_config",
            "configs/diffusion/model/latte_t2v_17x256x256.json",
        ]
    )
    assert result.returncode == 2 and "does not match --model_config" in result.stderr
    assert not (tmp_path / "x.ckpt").exists()


def test_strict_load_errors(tmp_path):
    state = read_state_dict(f"{TINY}/diffusion_pytorch_model.safetensors")
    del state["proj_out.bias"]
    model = LatteT2V(json.load(open(f"{TINY}/config.json")))
    with pytest.raises(UserError, match="1 missing keys: proj_out.bias"):
        model.load_checkpoint(save_state(state, str(tmp_path / "cut.ckpt")))


def test_unknown_or_unsupported_config_is_refused():
    cfg = json.load(open(f"{TINY}/config.json"))
    with pytest.raises(ValueError, match="unknown LatteT2V config key 'num_layer'"):
        LatteT2V({**cfg, "num_layer": 2})
    with pytest.raises(ValueError, match="norm_type='ada_norm_zero' is not supported"):
        LatteT2V({**cfg, "norm_type": "ada_norm_zero"})


def test_recompute_keeps_the_joint_training_output():
    """enable_gradient_checkpointing() = per-block recompute + the upstream checkpointing branch (case 6)."""
    model = LatteT2V.from_pretrained(TINY)
    model.enable_gradient_checkpointing()
    call, inputs = case_inputs("case6_train_joint_ckpt")
    model.set_train(True)
    out = model(
        inputs["hidden_states"],
        inputs["timestep"],
        inputs["encoder_hidden_states"],
        inputs["encoder_attention_mask"],
        **call["kwargs"],
    ).asnumpy()
    ref = load_fixture("latte_tiny", "case6_train_joint_ckpt", "output.npy")
    assert np.abs(out - ref).max() <= 1e-5 + 1e-4 * np.abs(ref).max()


def test_image_num_in_eval_mode_is_refused():
    model = LatteT2V.from_pretrained(TINY)
    _, inputs = case_inputs("case5_train_joint_nockpt")
    with pytest.raises(ValueError, match="training-only"):
        model(
            inputs["hidden_states"],
            inputs["timestep"],
            inputs["encoder_hidden_states"],
            inputs["encoder_attention_mask"],
            use_image_num=2,
        )


def test_mask_bias_is_minus_10000_not_inf():
    """A fully masked caption row stays finite (uniform attention), as with the original's -10000 bias."""
    q = ms.Tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 4)).astype(np.float32))
    bias = ms.Tensor(np.full((1, 1, 3), -10000.0, np.float32))
    out = math_attention(q, q, q, bias, 0.5).asnumpy()
    assert np.isfinite(out).all()


@pytest.mark.skipif(ms.get_context("device_target") != "Ascend", reason="flash attention is Ascend-only")
def test_flash_attention_matches_math_attention():
    rng = np.random.default_rng(0)
    q, k, v = (ms.Tensor(rng.standard_normal((2, 16, 8, 72)).astype(np.float16)) for _ in range(3))
    mask = np.ones((2, 8), np.float32)
    mask[0, 5:] = 0
    bias = ms.Tensor(((1 - mask) * -10000.0)[:, None])
    ref = math_attention(q, k, v, bias, 72**-0.5).asnumpy().astype(np.float32)
    out = flash_attention(q, k, v, bias, 72**-0.5).asnumpy().astype(np.float32)
    np.testing.assert_allclose(out, ref, atol=2e-3)
