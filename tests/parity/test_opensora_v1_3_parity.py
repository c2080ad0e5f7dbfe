"""OpenSoraT2V v1.3 vs the ORIGINAL Open-Sora-Plan v1.3.1 code (tests/fixtures/opensora_v1_3_tiny/README.md).

Case `sparse`: the released model's choices (Skiparse sparse1d, sparse_n 4) over six layers -- dense layers 0-1,
sparse layers 2-5 in both groups --, 27 tokens a video (the sparse masks pad to 32), a padded caption and a
padded latent frame. Case `dense`: sparse1d off (two layers: the original cannot run a deeper dense model).
Tolerances: 8x the original's own fp32-vs-fp64 spread (tolerances.json)."""

import hashlib
import json

import mindspore as ms
import numpy as np
import pytest
from conftest import assert_close, fixture_path
from original_weights import original_state

from opensora.io import load_state_into
from opensora.models.diffusion.opensora_v1_3 import OpenSoraT2V_v1_3

FOLDER = "opensora_v1_3_tiny"
TOLERANCES = json.load(open(fixture_path(FOLDER, "tolerances.json")))


def build(case, kernels=None):
    with open(fixture_path(FOLDER, f"{case}_config.json")) as f:
        model = OpenSoraT2V_v1_3(json.load(f), kernels=kernels)
    load_state_into(model, original_state(case, FOLDER), source=f"{case} weight rule")  # strict
    model.set_train(False)
    return model


def forward(model, data):
    out = model(ms.Tensor(data["latents"]), ms.Tensor(data["timestep"].astype(np.int32)), ms.Tensor(data["text"]),
                attention_mask=ms.Tensor(data["attention_mask"]),
                encoder_attention_mask=ms.Tensor(data["encoder_attention_mask"]))
    return (out[0] if isinstance(out, (tuple, list)) else out).asnumpy()


@pytest.mark.parametrize("case", ["sparse", "dense"])
def test_forward_and_every_block_equal_the_original(case):
    model, data = build(case), np.load(fixture_path(FOLDER, f"{case}_io.npz"))
    captured = {}
    handles = [block.register_forward_hook(lambda cell, inputs, out, i=i: captured.__setitem__(i, out.asnumpy()))
               for i, block in enumerate(model.transformer_blocks)]
    try:
        output = forward(model, data)
    finally:
        for handle in handles:
            handle.remove()
    assert_close(output, data["output"], 0, TOLERANCES[case]["output"], f"{case} output")
    for i, ours in captured.items():  # ours (B, S, D); the original's blocks run sequence-first (S, B, D)
        key = f"block{i}"
        assert_close(ours.transpose(1, 0, 2), data[key], 0, TOLERANCES[case][key], f"{case} {key}")


def test_plain_kernel_forms_reproduce_the_original():
    """Fused GELU and broadcasting multiplies (the Ascend / GPU forms, opensora.backend) give the same numbers."""
    from opensora.backend import kernel_choices

    data = np.load(fixture_path(FOLDER, "sparse_io.npz"))
    output = forward(build("sparse", kernels=kernel_choices("Ascend")), data)
    assert_close(output, data["output"], 0, TOLERANCES["sparse"]["output"], "sparse output (plain forms)")


def test_fixture_files_are_the_generators():
    folder = fixture_path(FOLDER)
    for line in open(f"{folder}/MANIFEST.sha256"):
        digest, name = line.split()
        assert hashlib.sha256(open(f"{folder}/{name}", "rb").read()).hexdigest() == digest, name


def test_released_safetensors_convert_and_reproduce(tmp_path):
    """A release folder (config.json + diffusion_pytorch_model.safetensors in the original's names) through
    convert_latte.py (the class from `_class_name`), then loaded strictly: the original's output."""
    import shutil

    from conftest import run_script
    from safetensors.numpy import save_file

    release = tmp_path / "any93x640x640"
    release.mkdir()
    shutil.copy(fixture_path(FOLDER, "sparse_config.json"), release / "config.json")
    save_file(original_state("sparse", FOLDER), str(release / "diffusion_pytorch_model.safetensors"))
    target = tmp_path / "model.ckpt"
    result = run_script(["tools/model_conversion/convert_latte.py", "--src",
                         str(release / "diffusion_pytorch_model.safetensors"), "--target", str(target)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "missing 0" in result.stdout and "unexpected 0" in result.stdout, result.stdout
    model = OpenSoraT2V_v1_3.from_pretrained(str(release / "config.json"), checkpoint=str(target))
    model.set_train(False)
    data = np.load(fixture_path(FOLDER, "sparse_io.npz"))
    assert_close(forward(model, data), data["output"], 0, TOLERANCES["sparse"]["output"], "converted output")
    folder_model = OpenSoraT2V_v1_3.from_pretrained(str(release))  # the folder itself, no conversion
    folder_model.set_train(False)
    assert_close(forward(folder_model, data), data["output"], 0, TOLERANCES["sparse"]["output"], "folder output")
