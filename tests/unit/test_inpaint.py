"""The v1.3 image-to-video / inpainting parts against the ORIGINAL v1.3.1 (tests/fixtures/v1_3_inpaint, made by
benchmarks/original/v1_3/make_inpaint_fixtures.py): the OpenSoraInpaint_v1_3 forward, every mask type (Python's
random seeded as the original draws), the mask compressor and CenterCropResizeVideo on a real photo."""

import json
import random

import mindspore as ms
import numpy as np
import pytest
from conftest import assert_close, fixture_path
from original_weights import original_state

from opensora.dataset.center_crop_resize import center_crop_resize
from opensora.io import load_state_into
from opensora.models.diffusion.opensora_v1_3 import OpenSoraInpaint_v1_3, OpenSoraT2V_v1_3
from opensora.models.diffusion.opensora_v1_3.masks import choose_mask_type, compress_mask, pixel_mask

FOLDER = "v1_3_inpaint"
SPEC = json.load(open(fixture_path(FOLDER, "cases.json")))


def test_inpaint_forward_matches_the_original():
    data = np.load(fixture_path(FOLDER, "inpaint_forward.npz"))
    model = OpenSoraInpaint_v1_3(SPEC["inpaint_config"])
    load_state_into(model, original_state("inpaint", FOLDER), source="weight rule")  # strict: every key
    model.set_train(False)
    out = model(ms.Tensor(data["hidden_states"]), ms.Tensor(data["timestep"].astype(np.int32)), ms.Tensor(data["text"]),
                encoder_attention_mask=ms.Tensor(data["encoder_attention_mask"]))
    assert_close(out.asnumpy(), data["output"], rtol=1e-4, atol=SPEC["tolerance"], what="inpaint forward")
    with pytest.raises(ValueError, match="takes 12 input channels"):
        model(ms.Tensor(data["hidden_states"][:, :4]), ms.Tensor(data["timestep"].astype(np.int32)),
              ms.Tensor(data["text"]))


def test_a_fresh_inpaint_model_is_its_text_to_video_model():
    """The conditioning layers start at zero (the original's zero_module), so the T2V weights give the T2V output
    whatever the conditioning is -- what the release's I2V training started from."""
    config = {k: v for k, v in SPEC["inpaint_config"].items() if k not in ("vae_scale_factor_t", "_class_name")}
    t2v = OpenSoraT2V_v1_3(config)
    inpaint = OpenSoraInpaint_v1_3(SPEC["inpaint_config"])
    state = {p.name: p.asnumpy() for p in t2v.get_parameters()}
    for p in inpaint.get_parameters():
        if p.name in state:
            p.set_data(ms.Tensor(state[p.name]))
    data = np.load(fixture_path(FOLDER, "inpaint_forward.npz"))
    x, t, text = data["hidden_states"], ms.Tensor(data["timestep"].astype(np.int32)), ms.Tensor(data["text"])
    np.testing.assert_allclose(inpaint(ms.Tensor(x), t, text).asnumpy(), t2v(ms.Tensor(x[:, :4]), t, text).asnumpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", SPEC["mask_cases"], ids=lambda c: c["key"])
def test_masks_are_the_originals(case):
    expected = np.load(fixture_path(FOLDER, "masks.npz"))[case["key"]]
    mask = pixel_mask(case["kind"], case["frames"], 16, 16, random.Random(case["seed"]))
    np.testing.assert_array_equal(mask, expected)


def test_the_pipelines_half_continuation_and_weighted_draws():
    masks = np.load(fixture_path(FOLDER, "masks.npz"))
    np.testing.assert_array_equal(pixel_mask("continuation", 9, 16, 16, random.Random(9), 0.5, 0.5),
                                  masks["mask/pipeline_continuation_9"])
    rng = random.Random(SPEC["ratio_case"]["seed"])
    sums = []
    for _ in range(SPEC["ratio_case"]["draws"]):
        kind = choose_mask_type(SPEC["ratio_case"]["ratios"], rng)
        sums.append(int(pixel_mask(kind, 9, 16, 16, rng).sum()))
    np.testing.assert_array_equal(sums, masks["ratio_draws_mask_sums"])


@pytest.mark.parametrize("frames", [9, 8])
def test_mask_compression_is_the_originals(frames):
    masks = np.load(fixture_path(FOLDER, "masks.npz"))
    out = compress_mask(masks[f"compress_in_{frames}"])
    assert_close(out, masks[f"compress_out_{frames}"], rtol=0, atol=1e-6, what=f"compressed {frames} frames")


@pytest.mark.parametrize("size", [tuple(s) for s in SPEC["resize_cases"]], ids=str)
def test_center_crop_resize_is_the_originals(size):
    from skimage import data

    expected = np.load(fixture_path(FOLDER, "resize.npz"))
    photo = data.astronaut()[None]  # (1, H, W, 3) uint8
    h, w = size
    as_uint8 = center_crop_resize(photo, h, w).transpose(0, 3, 1, 2)
    step = np.abs(as_uint8.astype(np.int32) - expected[f"resize_u8_{h}x{w}"].astype(np.int32))
    assert step.max() == 0, (step.max(), (step > 0).mean())
    as_float = center_crop_resize(photo.astype(np.float32) / 255, h, w).transpose(0, 3, 1, 2)
    assert_close(as_float, expected[f"resize_f32_{h}x{w}"], rtol=0, atol=2e-6, what=f"float {size}")
