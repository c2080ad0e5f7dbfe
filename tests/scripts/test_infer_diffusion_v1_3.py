"""infer_diffusion.py with a v1.3 stack (tiny mT5 + tiny OpenSoraT2V_v1_3 + tiny WF-VAE), as a user runs it: convert
the release folders, then sample; the latents it saves are the ORIGINAL pipeline's (tests/fixtures/v1_3_pipeline)."""

import json
import os

import numpy as np
import pytest
from conftest import assert_close, fixture_path, run_script
from original_weights import original_state

from opensora.dataset.video_io import read_video_clip

SPEC = json.load(open(fixture_path("v1_3_pipeline", "cases.json")))


def run_dir_of(out):
    (run,) = [d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d))]
    return os.path.join(out, run)


@pytest.fixture(scope="module")
def v1_3_models(tmp_path_factory):
    """Release-format folders converted by the repo's tools: the transformer (safetensors + config.json) and the
    WF-VAE (merged.ckpt + config.json)."""
    from safetensors.numpy import save_file

    root = tmp_path_factory.mktemp("v1_3")
    release = root / "any_tiny"
    release.mkdir()
    (release / "config.json").write_text(json.dumps(SPEC["transformer_config"]))
    save_file(original_state("transformer", "v1_3_pipeline"), str(release / "diffusion_pytorch_model.safetensors"))
    converted = run_script(["tools/model_conversion/convert_latte.py", "--src",
                            str(release / "diffusion_pytorch_model.safetensors"), "--target", str(root / "model.ckpt")])
    assert converted.returncode == 0, converted.stderr[-2000:]
    vae = fixture_path("wfvae_tiny", "ln_release")
    vae_converted = run_script(["tools/model_conversion/convert_vae.py", "--src", os.path.join(vae, "merged.ckpt"),
                                "--target", str(root / "wfvae.ckpt")])
    assert vae_converted.returncode == 0, vae_converted.stderr[-2000:]
    return {"config": str(release / "config.json"), "checkpoint": str(root / "model.ckpt"),
            "vae_config": os.path.join(vae, "config.json"), "vae_checkpoint": str(root / "wfvae.ckpt"),
            "t5": fixture_path("mt5_tiny", "hf")}


def v1_3_args(models, out, case, *extra):
    return ["infer_diffusion.py", "--model_config", models["config"], "--checkpoint", models["checkpoint"],
            "--vae_config", models["vae_config"], "--vae_checkpoint", models["vae_checkpoint"],
            "--t5_model_dir", models["t5"], "--output_path", str(out), "--captions", case["prompt"],
            "--sample_method", case["sample_method"], "--prediction_type", case["prediction_type"],
            "--rescale_betas_zero_snr", str(case["rescale_betas_zero_snr"]), "--guidance_scale",
            str(case["guidance_scale"]), "--guidance_rescale", str(case["guidance_rescale"]),
            "--sampling_steps", str(case["steps"]), "--seed", str(case["seed"]), "--num_frames",
            str(case["num_frames"]), "--height", str(case["height"]), "--width", str(case["width"]),
            "--max_sequence_length", str(SPEC["max_sequence_length"]), *extra]


def test_two_stages_give_the_original_pipelines_latents_and_a_video(tmp_path, v1_3_models):
    case = SPEC["cases"]["euler_ancestral"]
    expected = np.load(fixture_path("v1_3_pipeline", "euler_ancestral.npz"))
    stage1 = run_script(v1_3_args(v1_3_models, tmp_path / "s1", case, "--save_latents"))
    assert stage1.returncode == 0, stage1.stderr[-3000:]
    assert "EulerAncestralDiscrete: 3 steps" in stage1.stdout
    run = run_dir_of(tmp_path / "s1")
    (name,) = [f for f in os.listdir(run) if f.endswith(".npy")]
    latents = np.load(os.path.join(run, name))
    last = f"latents_step{case['steps'] - 1}"
    assert_close(latents, expected[last], rtol=1e-4, atol=SPEC["tolerances"]["euler_ancestral"][last], what=last)
    stage2 = run_script(v1_3_args(v1_3_models, tmp_path / "s2", case, "--decode_latents", "--input_latents_dir", run,
                                  "--save_format", "gif"))
    assert stage2.returncode == 0, stage2.stderr[-3000:]
    (gif,) = [f for f in os.listdir(run_dir_of(tmp_path / "s2")) if f.endswith(".gif")]
    frames = read_video_clip(os.path.join(run_dir_of(tmp_path / "s2"), gif), case["num_frames"], 1)
    assert frames.shape == (case["num_frames"], case["height"], case["width"], 3)
    # a gif's palette moves levels: compare with the original's video through the same writer
    from opensora.dataset.video_io import write_video

    reference = write_video(str(tmp_path / "reference.gif"), expected["video_uint8"][0], fps=8)
    reference = read_video_clip(reference, case["num_frames"], 1)
    error = np.abs(frames.astype(np.float64) - reference).mean()
    assert error < 0.5, error


def test_one_stage_writes_an_mp4_of_the_asked_size(tmp_path, v1_3_models):
    case = SPEC["cases"]["ddim"]
    result = run_script(v1_3_args(v1_3_models, tmp_path, case))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[stage] VAE decoding (1 videos)" in result.stdout
    (video,) = [f for f in os.listdir(run_dir_of(tmp_path)) if f.endswith(".mp4")]
    frames = read_video_clip(os.path.join(run_dir_of(tmp_path), video), case["num_frames"], 1)
    assert frames.shape == (case["num_frames"], case["height"], case["width"], 3)


@pytest.mark.parametrize("flags,expected", [
    (["--num_frames", "10"], "--num_frames 10: must be 4n+1"),
    (["--height", "40"], "--height 40: must be a multiple of 16"),
    (["--width", "72"], "--width 72: must be a multiple of 16"),
    (["--sample_method", "HeunDiscrete"], "HeunDiscrete: the v1.3 sample script cannot build it"),
    (["--sample_method", "DPMSolverMultistep"], "prediction_type='v_prediction' is not implemented"),
    (["--guidance_rescale", "-1"], "--guidance_rescale -1.0: must be >= 0"),
    (["--prompt_template", "no slot"], "--prompt_template 'no slot': needs exactly one {}"),
    (["--text_embed_cache", "x.npz"], "--text_embed_cache x.npz: v1.3 models encode each prompt"),
])
def test_bad_input_is_one_line_before_any_model(tmp_path, v1_3_models, flags, expected):
    result = run_script(v1_3_args(v1_3_models, tmp_path, SPEC["cases"]["euler_ancestral"], *flags))
    assert result.returncode == 2 and expected in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_v1_3_flags_are_refused_for_a_latte_model(tmp_path, tiny_t2v_models):
    from conftest import t2v_args

    result = run_script(t2v_args(tiny_t2v_models, tmp_path, "--prediction_type", "v_prediction"))
    assert result.returncode == 2 and "--prediction_type v_prediction: for v1.3 models" in result.stderr
    result = run_script(t2v_args(tiny_t2v_models, tmp_path, "--height", "64"))
    assert result.returncode == 2 and "--height 64: for v1.3 models" in result.stderr


def test_a_vae_with_other_latent_channels_is_named_before_any_model(tmp_path, v1_3_models):
    config = json.load(open(v1_3_models["vae_config"]))
    config.update(latent_dim=8, scale=[1.0] * 8, shift=[0.0] * 8)
    wide = tmp_path / "wfvae_d8.json"
    wide.write_text(json.dumps(config))
    args = v1_3_args(v1_3_models, tmp_path, SPEC["cases"]["ddim"])
    args[args.index("--vae_config") + 1] = str(wide)
    result = run_script(args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "wfvae_d8.json: its latents have 8 channels, the model's" in result.stderr
    assert "in_channels is 4" in result.stderr and len(result.stderr.strip().splitlines()) == 1


INPAINT = json.load(open(fixture_path("v1_3_inpaint", "pipeline_cases.json")))


@pytest.fixture(scope="module")
def inpaint_model(tmp_path_factory):
    """The tiny OpenSoraInpaint_v1_3 as a release folder, converted by the repo's converter."""
    from safetensors.numpy import save_file

    root = tmp_path_factory.mktemp("inpaint")
    (root / "config.json").write_text(json.dumps(json.load(open(fixture_path("v1_3_inpaint", "cases.json")))
                                                 ["inpaint_config"]))
    save_file(original_state("inpaint", "v1_3_inpaint"), str(root / "diffusion_pytorch_model.safetensors"))
    converted = run_script(["tools/model_conversion/convert_latte.py", "--src",
                            str(root / "diffusion_pytorch_model.safetensors"), "--target", str(root / "model.ckpt")])
    assert converted.returncode == 0, converted.stderr[-2000:]
    assert "OpenSoraInpaint_v1_3" in converted.stdout + converted.stderr or "missing 0" in converted.stdout
    return {"config": str(root / "config.json"), "checkpoint": str(root / "model.ckpt")}


def inpaint_args(v1_3_models, inpaint_model, out, name, *extra):
    case = dict(INPAINT["cases"][name], sample_method="EulerAncestralDiscrete", prediction_type="v_prediction",
                rescale_betas_zero_snr=True, guidance_rescale=0.0)
    models = dict(v1_3_models, **inpaint_model)
    args = v1_3_args(models, out, case, "--conditional_pixel_values_path",
                     *[fixture_path("v1_3_inpaint", p) for p in case["images"]], "--crop_for_hw",
                     str(case["crop_for_hw"]), "--max_hxw", str(case["max_hxw"]), *extra)
    if case["mask_type"]:
        args += ["--mask_type", case["mask_type"]]
    return args


@pytest.mark.parametrize("name", ["i2v", "i2v_max_hxw"])
def test_image_to_video_through_the_script_gives_the_originals_latents(tmp_path, v1_3_models, inpaint_model, name):
    expected = np.load(fixture_path("v1_3_inpaint", f"pipeline_{name}.npz"))
    case, tol = INPAINT["cases"][name], INPAINT["tolerances"][name]
    result = run_script(inpaint_args(v1_3_models, inpaint_model, tmp_path / "s1", name, "--save_latents"))
    assert result.returncode == 0, result.stderr[-3000:]
    run = run_dir_of(tmp_path / "s1")
    (latents,) = [np.load(os.path.join(run, f)) for f in os.listdir(run) if f.endswith(".npy")]
    last = f"latents_step{case['steps'] - 1}"
    assert_close(latents, expected[last], rtol=1e-4, atol=tol[last], what=f"{name} {last}")
    decoded = run_script(inpaint_args(v1_3_models, inpaint_model, tmp_path / "s2", name, "--decode_latents",
                                      "--input_latents_dir", run))
    assert decoded.returncode == 0, decoded.stderr[-3000:]
    (video,) = [f for f in os.listdir(run_dir_of(tmp_path / "s2")) if f.endswith(".mp4")]
    import imageio.v2 as imageio

    frames = np.stack(list(imageio.get_reader(os.path.join(run_dir_of(tmp_path / "s2"), video)).iter_data()))
    assert frames.shape == expected["video_uint8"].shape[1:]


def test_image_to_video_inputs_are_checked_before_any_model(tmp_path, v1_3_models, inpaint_model):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    cases = [
        ([], "an image-to-video model; give the frame(s) to start from"),
        (["--conditional_pixel_values_path", str(broken)], "broken.png: cannot read the image"),
        (["--conditional_pixel_values_path", str(tmp_path / "none.png")], "none.png: file not found"),
        (["--conditional_pixel_values_path", str(tmp_path / "notes.doc")], "not an image"),
        (["--mask_type", "sideways"], "--mask_type sideways: choose one of"),
    ]
    base = inpaint_args(v1_3_models, inpaint_model, tmp_path / "o", "i2v")
    cut = base.index("--conditional_pixel_values_path")
    base = base[:cut] + base[cut + 2:]  # without the frames
    for extra, expected in cases:
        flags = extra if extra[:1] == ["--conditional_pixel_values_path"] or not extra else \
            extra + ["--conditional_pixel_values_path", fixture_path("v1_3_inpaint", "cond_first.png")]
        result = run_script(base + flags)
        assert result.returncode == 2 and expected in result.stderr, (extra, result.stderr[-1500:])
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    t2v = run_script(v1_3_args(v1_3_models, tmp_path / "t", SPEC["cases"]["ddim"], "--conditional_pixel_values_path",
                               fixture_path("v1_3_inpaint", "cond_first.png")))
    assert t2v.returncode == 2 and "for OpenSoraInpaint_v1_3 models" in t2v.stderr, t2v.stderr[-1500:]
