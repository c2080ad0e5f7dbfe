"""mT5 (Open-Sora-Plan v1.3's text encoder, google/mt5-xxl) through the existing T5 v1.1 code: a tiny
MT5ForConditionalGeneration folder (model_type "mt5", encoder + decoder weights, its own vocabulary) loads
encoder-only and strictly, and gives transformers' MT5EncoderModel's states (tests/fixtures/mt5_tiny/README.md)."""

import hashlib
import json

import mindspore as ms
import numpy as np
from conftest import assert_close, fixture_path

from opensora.models.text_encoder import T5Embedder, load_t5_encoder

HF = fixture_path("mt5_tiny", "hf")
SPEC = json.load(open(fixture_path("mt5_tiny", "captions.json")))
EXPECTED = np.load(fixture_path("mt5_tiny", "outputs.npz"))


def test_tokens_and_last_hidden_state_equal_mt5_encoder_model():
    embedder = T5Embedder(HF, max_length=SPEC["max_length"], use_clean_caption=False)
    ids, mask = embedder.tokenize(SPEC["captions"])
    np.testing.assert_array_equal(ids, EXPECTED["input_ids"])
    np.testing.assert_array_equal(mask, EXPECTED["attention_mask"])
    states = load_t5_encoder(HF)(ms.Tensor(ids), ms.Tensor(mask)).asnumpy()
    assert_close(states, EXPECTED["last_hidden_state"], 0, SPEC["tolerance"], "mt5 last_hidden_state")


def test_fixture_files_are_the_generators():
    folder = fixture_path("mt5_tiny")
    for line in open(f"{folder}/MANIFEST.sha256"):
        digest, name = line.split()
        assert hashlib.sha256(open(f"{folder}/{name}", "rb").read()).hexdigest() == digest, name


def test_infer_t5_caches_mt5_embeddings(tmp_path):
    """`infer_t5.py --t5_model_dir <mT5 folder>`: the embedding cache train_diffusion.py and infer_diffusion.py read."""
    from conftest import run_script

    out = tmp_path / "emb.npz"
    result = run_script(["infer_t5.py", "--t5_model_dir", HF, "--captions", SPEC["captions"][1], "--t5_max_length",
                         str(SPEC["max_length"]), "--output_path", str(out)])
    assert result.returncode == 0, result.stderr[-2000:]
    cache = np.load(out)
    assert_close(cache["text_emb"][0], EXPECTED["last_hidden_state"][1], 0, SPEC["tolerance"], "cached mt5")
    np.testing.assert_array_equal(cache["mask"][0], EXPECTED["attention_mask"][1])
