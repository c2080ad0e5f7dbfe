"""T5 v1.1 encoder vs transformers' T5EncoderModel on the tiny fixture (fp32, rtol 1e-4 atol 1e-5)."""

import json

import mindspore as ms
import numpy as np
import pytest
from conftest import assert_close, fixture_path, load_fixture

from opensora.models.text_encoder import T5Embedder, load_t5_encoder

HF = fixture_path("t5_tiny", "hf")
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(scope="module")
def t5():
    return load_t5_encoder(HF)


def test_tokenizer_ids_and_mask():
    embedder = T5Embedder(HF, max_length=16, use_clean_caption=False)
    ids, mask = embedder.tokenize(json.load(open(fixture_path("t5_tiny", "captions.json")))["captions"])
    np.testing.assert_array_equal(ids, load_fixture("t5_tiny", "input_ids.npy"))
    np.testing.assert_array_equal(mask, load_fixture("t5_tiny", "attention_mask.npy"))


def test_last_hidden_state_and_intermediates(t5):
    ids, mask = (
        ms.Tensor(load_fixture("t5_tiny", "input_ids.npy")),
        ms.Tensor(load_fixture("t5_tiny", "attention_mask.npy")),
    )
    bias = t5.encoder.block[0].layer[0].SelfAttention.compute_bias(16, 16).asnumpy()
    assert_close(bias, load_fixture("t5_tiny", "intermediates", "relative_position_bias_16x16.npy"), 0, 1e-7, "bias")
    captured = {}
    handle = t5.encoder.block[0].register_forward_hook(lambda cell, inp, out: captured.setdefault("b0", out))
    out = t5(ids, mask).asnumpy()
    handle.remove()
    assert_close(
        captured["b0"].asnumpy(), load_fixture("t5_tiny", "intermediates", "encoder.block.0.npy"), RTOL, ATOL, "block0"
    )
    assert_close(out, load_fixture("t5_tiny", "last_hidden_state.npy"), RTOL, ATOL, "last_hidden_state")
    # pad positions still attend to the real tokens: not zero
    assert np.abs(out[0, -1]).max() > 0.1


@pytest.mark.parametrize("i", [0, 1, 2])
def test_single_caption_equals_batched(t5, i):
    ids, mask = (
        load_fixture("t5_tiny", "input_ids.npy")[i : i + 1],
        load_fixture("t5_tiny", "attention_mask.npy")[i : i + 1],
    )
    out = t5(ms.Tensor(ids), ms.Tensor(mask)).asnumpy()
    assert_close(
        out, load_fixture("t5_tiny", "single", f"caption{i}_last_hidden_state.npy"), RTOL, ATOL, f"caption {i}"
    )


def test_fp16_stays_close(t5):
    half = load_t5_encoder(HF, dtype=ms.float16)
    assert half.encoder.block[0].layer[0].layer_norm.weight.dtype == ms.float32  # norms kept in fp32
    assert half.encoder.block[0].layer[0].SelfAttention.q.weight.dtype == ms.float16
    ids, mask = (
        ms.Tensor(load_fixture("t5_tiny", "input_ids.npy")),
        ms.Tensor(load_fixture("t5_tiny", "attention_mask.npy")),
    )
    ref = load_fixture("t5_tiny", "last_hidden_state.npy")
    out = half(ids, mask).astype(ms.float32).asnumpy()
    assert np.abs(out - ref).max() < 0.02 * np.abs(ref).max()
