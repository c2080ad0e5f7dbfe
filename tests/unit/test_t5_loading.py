"""T5 folders: sharded safetensors, pytorch_model.bin (no pickle code), errors; captions; infer_t5.py."""

import json
import os
import shutil

import numpy as np
import pytest
from conftest import fixture_path, load_fixture, run_script
from safetensors.numpy import save_file

from opensora.dataset.annotations import embedding_path, read_annotations
from opensora.io import read_safetensors
from opensora.models.text_encoder import load_t5_encoder
from opensora.models.text_encoder.embedder import clean_caption, preprocess_caption
from opensora.utils.errors import UserError

HF = fixture_path("t5_tiny", "hf")
TOKENIZER_FILES = ("added_tokens.json", "special_tokens_map.json", "spiece.model", "tokenizer.json",
                   "tokenizer_config.json", "config.json")


def copy_folder(tmp_path, weights):
    folder = tmp_path / "t5"
    folder.mkdir()
    for name in TOKENIZER_FILES + tuple(weights):
        shutil.copy(os.path.join(HF, name), folder / name)
    return folder


def encode(model):
    import mindspore as ms

    ids, mask = (
        ms.Tensor(load_fixture("t5_tiny", "input_ids.npy")),
        ms.Tensor(load_fixture("t5_tiny", "attention_mask.npy")),
    )
    return model(ids, mask).asnumpy()


def test_sharded_safetensors_load_shard_by_shard(tmp_path):
    folder = copy_folder(tmp_path, ())
    state = read_safetensors(os.path.join(HF, "model.safetensors"))
    names = sorted(state)
    shards = {
        "model-00001-of-00002.safetensors": names[: len(names) // 2],
        "model-00002-of-00002.safetensors": names[len(names) // 2 :],
    }
    for shard, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(folder / shard))
    index = {"weight_map": {k: shard for shard, keys in shards.items() for k in keys}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    np.testing.assert_allclose(encode(load_t5_encoder(str(folder))), encode(load_t5_encoder(HF)), atol=1e-6)


def test_pytorch_bin_with_tied_embedding(tmp_path):
    folder = copy_folder(tmp_path, ("pytorch_model.bin",))
    np.testing.assert_allclose(encode(load_t5_encoder(str(folder))), encode(load_t5_encoder(HF)), atol=1e-6)


def test_missing_weights_and_config(tmp_path):
    folder = copy_folder(tmp_path, ())
    with pytest.raises(UserError, match="no T5 weights"):
        load_t5_encoder(str(folder))
    with pytest.raises(UserError, match="no config.json"):
        load_t5_encoder(str(tmp_path))


def test_caption_preprocessing():
    assert preprocess_caption("  A Red FOX.  ", use_clean_caption=False) == "a red fox."
    cleaned = clean_caption("Visit https://example.com <b>NOW</b> &amp; see @user the 1234567 foxes!")
    assert "http" not in cleaned and "<b>" not in cleaned and "@user" not in cleaned and "1234567" not in cleaned
    assert cleaned == cleaned.lower() and "foxes" in cleaned


def write_csv(path, rows):
    path.write_text("video,caption\n" + "".join(f"{v},{c}\n" for v, c in rows))


def test_infer_t5_csv_resume_and_dataset_format(tmp_path):
    ann = tmp_path / "ann.csv"
    write_csv(ann, [("clips/a.mp4", "a red fox runs."), ("clips/b.mp4", "a dog on the beach")])
    args = ["infer_t5.py", "--data_file_path", str(ann), "--t5_model_dir", HF, "--t5_max_length", "16"]
    first = run_script(args)
    assert first.returncode == 0, first.stderr
    data = np.load(embedding_path(str(tmp_path), "clips/a.mp4"))
    assert data["text_emb"].shape == (16, 64) and data["text_emb"].dtype == np.float32
    assert data["mask"].shape == (16,) and data["mask"].dtype == np.uint8 and data["mask"].sum() == 9
    # resumable: existing rows are skipped, a new row is added
    write_csv(ann, [("clips/a.mp4", "a red fox runs."), ("clips/b.mp4", "a dog on the beach"), ("c.mp4", "a cat")])
    second = run_script(args)
    assert second.returncode == 0 and "1 embedded, 2 skipped" in second.stdout
    assert os.path.isfile(tmp_path / "c.npz")
    # a damaged cache file (truncated by a full disk or a copy) is embedded again, not counted as done
    whole = np.load(embedding_path(str(tmp_path), "clips/a.mp4"))["text_emb"].copy()
    path = embedding_path(str(tmp_path), "clips/a.mp4")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    third = run_script(args)
    assert third.returncode == 0 and "1 embedded, 2 skipped" in third.stdout, third.stdout
    assert "1 existing embedding files are damaged" in third.stdout + third.stderr
    np.testing.assert_allclose(np.load(path)["text_emb"], whole, rtol=1e-4, atol=1e-5)  # batch of 1 vs of 2


def test_infer_t5_pku_json_and_captions_mode(tmp_path):
    ann = tmp_path / "data.json"
    ann.write_text(json.dumps([{"path": "v/x.mp4", "cap": ["A Red Fox Runs.", "other"]}]))
    out = tmp_path / "emb"
    result = run_script(
        [
            "infer_t5.py",
            "--data_file_path",
            str(ann),
            "--output_dir",
            str(out),
            "--t5_model_dir",
            HF,
            "--t5_max_length",
            "16",
            "--caption_column",
            "cap",
            "--video_column",
            "path",
            "--clean_caption",
            "False",
        ]
    )
    assert result.returncode == 0, result.stderr
    ref = load_fixture("t5_tiny", "last_hidden_state.npy")[0]  # caption 0 is "a red fox runs."
    np.testing.assert_allclose(np.load(out / "v" / "x.npz")["text_emb"], ref, rtol=1e-4, atol=1e-5)
    single = tmp_path / "one.npz"
    result = run_script(
        [
            "infer_t5.py",
            "--captions",
            "a red fox runs.",
            "--output_path",
            str(single),
            "--t5_model_dir",
            HF,
            "--t5_max_length",
            "16",
        ]
    )
    assert result.returncode == 0 and np.load(single)["text_emb"].shape == (1, 16, 64)


@pytest.mark.parametrize(
    "content,expected",
    [
        ("video,text\na.mp4,hello\n", "row 0 has no column 'caption'"),
        ("video,caption\na.mp4,\n", "row 0 (a.mp4) has an empty caption"),
    ],
)
def test_annotation_errors(tmp_path, content, expected):
    ann = tmp_path / "ann.csv"
    ann.write_text(content)
    with pytest.raises(UserError, match=expected.replace("(", "\\(").replace(")", "\\)")):
        read_annotations(str(ann))
    result = run_script(["infer_t5.py", "--data_file_path", str(ann), "--t5_model_dir", HF])
    assert result.returncode == 2 and expected in result.stderr


def test_caption_cleaning_hint_only_when_the_cleaner_is_asked_for_and_missing(caplog, monkeypatch):
    """The 'install ftfy' hint is for a user who asked for clean_caption without the packages, not for everyone."""
    import logging

    from opensora.models.text_encoder import embedder as emb

    logger = logging.getLogger("hint-test")
    for asked, available, hint in ((False, True, False), (True, True, False), (True, False, True)):
        monkeypatch.setattr(emb, "clean_caption_available", lambda available=available: available)
        with caplog.at_level(logging.INFO, logger="hint-test"):
            caplog.clear()
            emb.T5Embedder(HF, 16, use_clean_caption=asked, logger=logger)
        assert ("install ftfy" in caplog.text) == hint, (asked, available, caplog.text)


def test_missing_t5_folder_is_named_with_the_fix(tmp_path):
    """Checked before anything is built: not transformers' 'cannot connect to huggingface.co' for a local path."""
    missing = str(tmp_path / "t5-v1_1-xxl")
    result = run_script(["infer_t5.py", "--captions", "x", "--t5_model_dir", missing])
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert f"--t5_model_dir {missing}: not found" in line and "DeepFloyd/t5-v1_1-xxl" in line, line
    assert "config.json" in line and "spiece.model" in line, line  # how the folder should look
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    result = run_script(["infer_t5.py", "--captions", "x", "--t5_model_dir", str(empty)])
    assert result.returncode == 2 and "no tokenizer (spiece.model or tokenizer.json)" in result.stderr, result.stderr


def test_bf16_refused_on_cpu(tmp_path):
    result = run_script(["infer_t5.py", "--captions", "x", "--t5_model_dir", HF, "--dtype", "bf16"])
    assert result.returncode == 2 and "--dtype bf16: the CPU backend has no bf16 kernels" in result.stderr


def test_words_outside_a_demo_vocabulary_are_named_with_the_known_ones(caplog):
    import logging

    from transformers import AutoTokenizer

    from opensora.models.text_encoder.embedder import warn_unknown_words

    tokenizer = AutoTokenizer.from_pretrained("assets/demo_model/t5")
    logger = logging.getLogger("test_oov")
    with caplog.at_level(logging.WARNING, logger="test_oov"):
        warn_unknown_words(tokenizer, ["a purple star spins", "a red circle moves from left to right"], logger)
    (record,) = caplog.records  # the second prompt is all known words
    assert "purple, star, spins not in the model's vocabulary" in record.message
    assert "(it knows: a, blue, bottom, circle, from, green, left, moves, red, right" in record.message
