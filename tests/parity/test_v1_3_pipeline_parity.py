"""The v1.3 text-to-video pipeline against the ORIGINAL OpenSoraPipeline run as its sample script runs it
(tests/fixtures/v1_3_pipeline, benchmarks/original/v1_3/make_v1_3_pipeline_fixtures.py): tiny mT5 -> tiny
OpenSoraT2V_v1_3 with EulerAncestral v-prediction / DDIM, CFG with guidance rescale, the script's prompt wrapper and
negative prompt -> tiny WF-VAE, from the same numpy noise stream."""

import json

import numpy as np
import pytest
from conftest import assert_close, fixture_path
from original_weights import original_state

from opensora.diffusion.schedulers import create_v1_3_scheduler
from opensora.io import load_state_into
from opensora.models.ae import load_autoencoder
from opensora.models.diffusion.opensora_v1_3 import OpenSoraT2V_v1_3
from opensora.models.text_encoder import T5Embedder
from opensora.pipelines.pipeline_opensora import NEGATIVE_PROMPT, POSITIVE_PROMPT_TEMPLATE, OpenSoraPipeline

FOLDER = "v1_3_pipeline"
SPEC = json.load(open(fixture_path(FOLDER, "cases.json")))


@pytest.fixture(scope="module")
def models():
    transformer = OpenSoraT2V_v1_3(SPEC["transformer_config"])
    load_state_into(transformer, original_state("transformer", FOLDER), source="pipeline fixture weight rule")
    transformer.set_train(False)
    vae = load_autoencoder(fixture_path("wfvae_tiny", "ln_release"))
    vae.set_train(False)
    return T5Embedder(fixture_path("mt5_tiny", "hf"), use_clean_caption=False), vae, transformer


def test_the_sample_scripts_prompt_strings_are_the_originals():
    assert POSITIVE_PROMPT_TEMPLATE == SPEC["positive_prompt"]
    assert NEGATIVE_PROMPT == SPEC["negative_prompt"]


@pytest.mark.parametrize("name", list(SPEC["cases"]))
def test_pipeline_matches_the_original(models, name):
    case, tol = SPEC["cases"][name], SPEC["tolerances"][name]
    expected = np.load(fixture_path(FOLDER, f"{name}.npz"))
    text_encoder, vae, transformer = models
    scheduler = create_v1_3_scheduler(case["sample_method"], case["prediction_type"], case["rescale_betas_zero_snr"])
    pipe = OpenSoraPipeline(text_encoder, vae, transformer, scheduler)
    steps = []
    video = pipe(POSITIVE_PROMPT_TEMPLATE.format(case["prompt"]), NEGATIVE_PROMPT, case["num_frames"],
                 case["height"], case["width"], case["steps"], case["guidance_scale"], case["guidance_rescale"],
                 seed=case["seed"], max_sequence_length=SPEC["max_sequence_length"],
                 callback=lambda i, t, latents: steps.append(np.asarray(latents)), progress=False)
    np.testing.assert_array_equal(np.asarray(pipe.scheduler.timesteps, np.float64), expected["timesteps"])
    for i, latents in enumerate(steps):
        key = f"latents_step{i}"
        assert_close(latents, expected[key], rtol=1e-4, atol=tol[key], what=f"{name} {key}")
    video_float = pipe.decode_float(steps[-1])
    assert_close(video_float, expected["video_float"], rtol=0, atol=tol["video_float"], what=f"{name} video")
    assert video.shape == expected["video_uint8"].shape == (1, case["num_frames"], case["height"], case["width"], 3)
    step = np.abs(video.astype(np.int32) - expected["video_uint8"].astype(np.int32))
    assert step.max() <= tol["video_uint8_max_step"] and (step > 0).mean() < 0.01, (step.max(), (step > 0).mean())


def test_initial_noise_and_ancestral_noise_come_from_one_stream(models):
    """What the fixture's generator replaced diffusers' randn_tensor with: the seed's stream, latents first."""
    case = SPEC["cases"]["euler_ancestral"]
    expected = np.load(fixture_path(FOLDER, "euler_ancestral.npz"))
    rng = np.random.default_rng(case["seed"])
    np.testing.assert_array_equal(rng.standard_normal(expected["initial_latents"].shape).astype(np.float32),
                                  expected["initial_latents"])
    np.testing.assert_array_equal(rng.standard_normal(expected["noise_step0"].shape).astype(np.float32),
                                  expected["noise_step0"])


INPAINT = json.load(open(fixture_path("v1_3_inpaint", "pipeline_cases.json")))


@pytest.mark.parametrize("name", list(INPAINT["cases"]))
def test_image_to_video_pipeline_matches_the_original(models, name):
    """OpenSoraInpaintPipeline (tests/fixtures/v1_3_inpaint, make_inpaint_fixtures.py): i2v, a transition, and i2v
    sized by max_hxw instead of --crop_for_hw, with the tiny inpaint DiT; one numpy stream as the CLI draws it."""
    from opensora.models.diffusion.opensora_v1_3 import OpenSoraInpaint_v1_3
    from opensora.pipelines.pipeline_inpaint import OpenSoraInpaintPipeline

    case, tol = INPAINT["cases"][name], INPAINT["tolerances"][name]
    expected = np.load(fixture_path("v1_3_inpaint", f"pipeline_{name}.npz"))
    text_encoder, vae, _ = models
    spec = json.load(open(fixture_path("v1_3_inpaint", "cases.json")))
    transformer = OpenSoraInpaint_v1_3(spec["inpaint_config"])
    load_state_into(transformer, original_state("inpaint", "v1_3_inpaint"), source="weight rule")
    transformer.set_train(False)
    scheduler = create_v1_3_scheduler("EulerAncestralDiscrete", "v_prediction", True)
    pipe = OpenSoraInpaintPipeline(text_encoder, vae, transformer, scheduler)
    steps = []
    video = pipe(POSITIVE_PROMPT_TEMPLATE.format(case["prompt"]), [fixture_path("v1_3_inpaint", p)
                                                                   for p in case["images"]],
                 NEGATIVE_PROMPT, case["mask_type"], None, case["crop_for_hw"], case["max_hxw"], case["num_frames"],
                 case["height"], case["width"], case["steps"], case["guidance_scale"], seed=case["seed"],
                 max_sequence_length=SPEC["max_sequence_length"],
                 callback=lambda i, t, latents: steps.append(np.asarray(latents)), progress=False)
    for i, latents in enumerate(steps):
        key = f"latents_step{i}"
        assert_close(latents, expected[key], rtol=1e-4, atol=tol[key], what=f"{name} {key}")
    assert video.shape == expected["video_uint8"].shape, (video.shape, expected["video_uint8"].shape)
    step = np.abs(video.astype(np.int32) - expected["video_uint8"].astype(np.int32))
    assert step.max() <= tol["video_uint8_max_step"] and (step > 0).mean() < 0.01, (step.max(), (step > 0).mean())
