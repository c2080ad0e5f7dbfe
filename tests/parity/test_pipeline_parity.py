"""VideoGenPipeline vs the original pipeline on the tiny fixture models: per-step transformer input, guided eps,
latents (PNDM and DDIM), the decoded video, and the prompt encoding (batch 1 truncation, batch 2 masking)."""

import json

import numpy as np
import pytest
from conftest import assert_close, fixture_path, load_fixture

from opensora.diffusion.schedulers import DDIMScheduler, PNDMScheduler
from opensora.models.ae import CausalVAEModel
from opensora.models.diffusion.latte import LatteT2V
from opensora.models.text_encoder import T5Embedder
from opensora.pipelines.pipeline_videogen import VideoGenPipeline

# Fixture README: pipeline latents rtol 1e-4 atol 1e-4 (CFG x7.5 amplifies eps differences).
RTOL, ATOL = 1e-4, 1e-4


class _StopAfter(Exception):
    pass


@pytest.fixture(scope="module")
def models():
    return CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny")), LatteT2V.from_pretrained(
        fixture_path("latte_tiny")
    )


def run_steps(models, scheduler, steps):
    vae, latte = models
    pipe = VideoGenPipeline(None, vae, latte, scheduler)
    seen = []

    def callback(i, t, latents, info):
        seen.append((t, latents, info))
        if i == steps - 1:
            raise _StopAfter

    with pytest.raises(_StopAfter):
        pipe(
            prompt_embeds=load_fixture("pipeline", "prompt_embeds.npy"),
            negative_prompt_embeds=load_fixture("pipeline", "negative_prompt_embeds.npy"),
            num_inference_steps=50,
            guidance_scale=7.5,
            video_length=5,
            latent_hw=(8, 8),
            latents=load_fixture("pipeline", "latents0.npy"),
            output_type="latents",
            callback=callback,
            progress=False,
        )
    return pipe, seen


@pytest.mark.parametrize("name,cls", [("ddim", DDIMScheduler), ("pndm", PNDMScheduler)])
def test_pipeline_steps(models, name, cls):
    steps = json.load(open(fixture_path("pipeline", name, "call.json")))["call"].split("stopped after ")[1].split()[0]
    pipe, seen = run_steps(models, cls(), int(steps))
    for i, (t, latents, info) in enumerate(seen):
        prefix = f"step{i:02d}_"
        np.testing.assert_array_equal(np.full(2, t), load_fixture("pipeline", name, prefix + "timestep.npy"))
        assert_close(
            info["model_input"], load_fixture("pipeline", name, prefix + "transformer_in.npy"), RTOL, ATOL, "in"
        )
        assert_close(info["guided_eps"], load_fixture("pipeline", name, prefix + "guided_eps.npy"), RTOL, ATOL, "eps")
        assert_close(latents, load_fixture("pipeline", name, prefix + "latents.npy"), RTOL, ATOL, f"{name} latents {i}")
    if name == "ddim":
        assert_close(
            pipe.decode_float(seen[-1][1]), load_fixture("pipeline", "ddim", "decoded_float.npy"), RTOL, ATOL, "decoded"
        )
        video = pipe.decode_latents(seen[-1][1])
        ref = load_fixture("pipeline", "ddim", "decoded_uint8.npy")
        diff = np.abs(video.astype(int) - ref.astype(int))
        assert video.dtype == np.uint8 and video.shape == ref.shape == (1, 17, 64, 64, 3)
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3  # truncating cast: +-1 on a few pixels


def test_transformer_output_per_step(models):
    """The raw 8-channel output, both CFG halves."""
    _, seen = run_steps(models, DDIMScheduler(), 2)
    for i, (_, _, info) in enumerate(seen):
        out = load_fixture("pipeline", "ddim", f"step{i:02d}_transformer_out.npy")
        uncond, cond = out[:1], out[1:]
        assert_close(info["model_output"], uncond + np.float32(7.5) * (cond - uncond), RTOL, ATOL, "cfg on 8 channels")


@pytest.mark.parametrize("batch", ["b1", "b2"])
def test_encode_prompt_masking(batch):
    call = json.load(open(fixture_path("t5_tiny", "encode_prompt", "call.json")))
    prompts = call[batch]["prompt"] if batch in call else None
    embedder = T5Embedder(fixture_path("t5_tiny", "hf"), use_clean_caption=False)
    pipe = VideoGenPipeline(embedder, None, None, None)
    pe, ne = pipe.encode_prompt(prompts)
    assert_close(pe, load_fixture("t5_tiny", "encode_prompt", f"{batch}_prompt_embeds.npy"), 1e-4, 1e-5, "prompt")
    assert_close(ne, load_fixture("t5_tiny", "encode_prompt", f"{batch}_negative_prompt_embeds.npy"), 1e-4, 1e-5, "neg")
