"""LatteT2V vs the original PyTorch code: six forward cases of the tiny model, buffers, full-size keys (fp32)."""

import json
import os

import mindspore as ms
import numpy as np
import pytest
from conftest import assert_close, fixture_path, load_fixture
from mindspore.nn.utils import no_init_parameters

from opensora.models.diffusion.latte import LatteT2V

# Fixture README: latte_tiny outputs and intermediates rtol 1e-4, atol 1e-5.
RTOL, ATOL = 1e-4, 1e-5
CASES = sorted(n for n in os.listdir(fixture_path("latte_tiny")) if n.startswith("case"))


@pytest.fixture(scope="module")
def tiny_latte():
    return LatteT2V.from_pretrained(fixture_path("latte_tiny"))


def run_case(model, case, capture=None):
    call = json.load(open(fixture_path("latte_tiny", case, "call.json")))
    inputs = {k: ms.Tensor(load_fixture("latte_tiny", case, f"{k}.npy")) for k in call["inputs"]}
    model.set_train(call["train_mode"])
    model.gradient_checkpointing = call["gradient_checkpointing"]
    try:
        return model(inputs["hidden_states"], inputs["timestep"], inputs["encoder_hidden_states"],
                     inputs.get("encoder_attention_mask"), **call["kwargs"]).asnumpy()
    finally:
        model.set_train(False)
        model.gradient_checkpointing = False


@pytest.mark.parametrize("case", CASES)
def test_forward_cases(tiny_latte, case):
    assert_close(run_case(tiny_latte, case), load_fixture("latte_tiny", case, "output.npy"), RTOL, ATOL, case)


def test_joint_training_branches_differ_as_upstream(tiny_latte):
    """Upstream adds temp_pos_embed in the joint path only with gradient checkpointing (L10)."""
    a = load_fixture("latte_tiny", "case5_train_joint_nockpt", "output.npy")
    b = load_fixture("latte_tiny", "case6_train_joint_ckpt", "output.npy")
    assert np.abs(a - b).max() > 1e-2


def test_intermediates(tiny_latte, case="case1_mask"):
    folder = fixture_path("latte_tiny", case, "intermediates")
    captured, handles = {}, []
    cells = dict(tiny_latte.cells_and_names())
    names = sorted({f[:-4].split(".")[0] if f.startswith("adaln_single") else f[:-4] for f in os.listdir(folder)})
    for name in names:
        def hook(cell, inputs, output, name=name):
            captured[name] = output
        handles.append(cells[name].register_forward_hook(hook))
    try:
        run_case(tiny_latte, case)
    finally:
        for h in handles:
            h.remove()
    for f in sorted(os.listdir(folder)):
        name = f[:-4]
        out = captured["adaln_single"][int(name[-1])] if name.startswith("adaln_single.") else captured[name]
        assert_close(out.asnumpy(), np.load(os.path.join(folder, f)), RTOL, ATOL, f"{case}/{name}")


def test_buffers(tiny_latte):
    np.testing.assert_array_equal(
        tiny_latte.pos_embed.pos_embed.asnumpy(), load_fixture("latte_tiny", "buffers", "pos_embed.npy")
    )
    np.testing.assert_array_equal(
        tiny_latte.temp_pos_embed.asnumpy(), load_fixture("latte_tiny", "buffers", "temp_pos_embed.npy")
    )


def full_config(**overrides):
    return {**json.load(open(fixture_path("keys", "latte_t2v_17x256x256_full.json")))["config"], **overrides}


def test_full_size_keys_and_shapes():
    spec = json.load(open(fixture_path("keys", "latte_t2v_17x256x256_full.json")))
    with no_init_parameters():
        model = LatteT2V(spec["config"])
    ours = {n: tuple(p.shape) for n, p in model.parameters_and_names()}
    ref = {k: tuple(v["shape"]) for k, v in spec["state_dict"].items()}
    assert ours == ref and len(ours) == 968
    buffer_params = int(np.prod(ref["caption_projection.y_embedding"]))  # a persistent buffer, not a parameter
    assert sum(int(np.prod(s)) for s in ours.values()) - buffer_params == spec["num_parameters"]
    assert_close(
        model.pos_embed.pos_embed.asnumpy(),
        load_fixture("keys", "buffers", "pos_embed_grid16_d1152.npy"),
        0,
        1e-6,
        "pos",
    )
    assert_close(
        model.temp_pos_embed.asnumpy(), load_fixture("keys", "buffers", "temp_pos_embed_vl5_d1152.npy"), 0, 1e-6, "temp"
    )


@pytest.mark.parametrize("variant", ["65x256x256", "65x512x512"])
def test_65_frame_variants_buffers(variant):
    diff = json.load(open(fixture_path("keys", "latte_t2v_variants_diff.json")))["variants"][variant]
    overrides = {k: v[1] for k, v in diff["config_differences"].items()}
    with no_init_parameters():
        model = LatteT2V(full_config(**overrides))
    assert tuple(model.temp_pos_embed.shape) == tuple(diff["non_persistent_buffers"]["temp_pos_embed"]["shape"])
    assert tuple(model.pos_embed.pos_embed.shape) == tuple(
        diff["non_persistent_buffers"]["pos_embed.pos_embed"]["shape"]
    )
    # interpolation scale 3: positions 0, 1/3, 2/3, ...
    assert_close(
        model.temp_pos_embed.asnumpy(),
        load_fixture("keys", "buffers", "temp_pos_embed_vl17_d1152.npy"),
        0,
        1e-6,
        "temp vl17",
    )


@pytest.mark.parametrize("case", ["case1_mask", "case4_nonsquare"])
def test_forward_with_the_plain_kernel_forms(case):
    """The fused GELU and broadcasting multiplies that other backends get (opensora.backend) reproduce the
    original too; only the fused GELU's CPU fp32 tanh (1e-4 off) widens the difference."""
    import dataclasses

    from opensora.backend import kernel_choices, use_kernels

    plain = dataclasses.replace(kernel_choices("CPU"), gelu_as_sigmoid=False, tile_before_multiply=False)
    model = use_kernels(LatteT2V.from_pretrained(fixture_path("latte_tiny")), plain)
    assert not model.tile and not model.transformer_blocks[0].ff.net[0].gelu_as_sigmoid
    assert_close(run_case(model, case), load_fixture("latte_tiny", case, "output.npy"), 1e-3, 1e-4, case)
