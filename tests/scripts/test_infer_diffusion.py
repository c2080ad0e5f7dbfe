"""infer_diffusion.py end to end on the tiny text-to-video stack."""

import os

import numpy as np
import pytest
from conftest import run_script, t2v_args

from opensora.dataset.video_io import read_video_clip


def run_dir_of(out):
    (run,) = [d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d))]
    return os.path.join(out, run)


def test_end_to_end_mp4_and_odd_prompts(tmp_path, tiny_t2v_models):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("A red fox runs.\n\n../../etc/passwd and a\ttab\n" + "long " * 100 + "\n")
    out = tmp_path / "out"
    result = run_script(t2v_args(tiny_t2v_models, out, "--captions", str(prompts)))
    assert result.returncode == 0, result.stderr
    run = run_dir_of(out)
    videos = sorted(f for f in os.listdir(run) if f.endswith(".mp4"))
    assert len(videos) == 3
    assert videos[0] == "000-A red fox runs.mp4"
    assert all("/" not in v and ".." not in v and "\t" not in v and len(v) < 100 for v in videos)
    assert read_video_clip(os.path.join(run, videos[0]), 17, 1).shape == (17, 64, 64, 3)
    assert "[stage] T5 text encoding" in result.stdout and "[stage] denoising" in result.stdout
    assert "[stage] VAE decoding" in result.stdout and "peak RSS" in result.stdout
    assert "sampler PNDM: 5 steps + 9 warm-up = 14 model calls" in result.stdout  # why the bar shows 14
    assert "PNDM: 5 steps + 9 warm-up = 14 model calls" in result.stderr  # the bar's own label
    assert os.path.isfile(os.path.join(run, "config.yaml"))


def test_two_stage_equals_one_stage_and_seed_determinism(tmp_path, tiny_t2v_models):
    common = ["--captions", "a dog on the beach", "--sample_method", "DDIM", "--save_format", "gif"]
    one = run_script(t2v_args(tiny_t2v_models, tmp_path / "one", *common))
    assert one.returncode == 0, one.stderr
    stage1 = run_script(t2v_args(tiny_t2v_models, tmp_path / "s1", *common, "--save_latents"))
    assert stage1.returncode == 0, stage1.stderr
    latents_dir = run_dir_of(tmp_path / "s1")
    again = run_script(t2v_args(tiny_t2v_models, tmp_path / "s1b", *common, "--save_latents"))
    assert again.returncode == 0
    name = "000-a dog on the beach"
    np.testing.assert_array_equal(np.load(os.path.join(latents_dir, name + ".npy")),
                                  np.load(os.path.join(run_dir_of(tmp_path / "s1b"), name + ".npy")))
    stage2 = run_script(t2v_args(tiny_t2v_models, tmp_path / "s2", *common, "--decode_latents", "--input_latents_dir",
                                 latents_dir))
    assert stage2.returncode == 0, stage2.stderr
    a = read_video_clip(os.path.join(run_dir_of(tmp_path / "one"), name + ".gif"), 17, 1)
    b = read_video_clip(os.path.join(run_dir_of(tmp_path / "s2"), name + ".gif"), 17, 1)
    np.testing.assert_array_equal(a, b)
    beside = t2v_args(tiny_t2v_models, tmp_path / "unused", *common, "--decode_latents", "--input_latents_dir",
                      latents_dir)
    i = beside.index("--output_path")
    del beside[i:i + 2]  # no --output_path flag: the videos go beside the latents
    run_yaml = tmp_path / "run.yaml"  # as the README's two stages: one --config whose output_path is stage 1's
    run_yaml.write_text(f"output_path: {tmp_path / 'unused'}\n")
    stage2b = run_script(beside + ["--config", str(run_yaml)])
    assert stage2b.returncode == 0, stage2b.stderr
    np.testing.assert_array_equal(read_video_clip(os.path.join(latents_dir, name + ".gif"), 17, 1), a)
    assert os.path.isfile(os.path.join(latents_dir, "decode_config.yaml")) and not os.path.exists(tmp_path / "unused")
    other_seed = run_script(t2v_args(tiny_t2v_models, tmp_path / "s3", *common, "--save_latents", "--seed", "7"))
    assert other_seed.returncode == 0
    assert not np.array_equal(np.load(os.path.join(latents_dir, name + ".npy")),
                              np.load(os.path.join(run_dir_of(tmp_path / "s3"), name + ".npy")))


@pytest.mark.parametrize("flags,expected", [
    (["--num_frames", "65"], "--num_frames 65: the checkpoint"),
    (["--image_size", "256"], "--image_size 256: the checkpoint"),
    (["--sample_method", "Foo"], "--sample_method Foo: choose one of"),
    (["--dtype", "bf16"], "--dtype bf16: the CPU backend has no bf16 kernels"),
    (["--checkpoint", "nope.ckpt"], "--checkpoint 'nope.ckpt': file not found"),
    (["--captions", "  "], "--captions: prompt 0 is empty"),
    (["--sample_method", "PNDM", "--sampling_steps", "3"], "--sampling_steps 3: PNDM needs at least 4"),
    (["--t5_model_dir", "nowhere/t5"], "--t5_model_dir nowhere/t5: not found; download https://huggingface.co/"),
    (["--t5_model_dir", "", "--t5_cache_folder", "nowhere/t5"], "--t5_cache_folder nowhere/t5: not found"),
    (["--decode_latents", "--input_latents_dir", "nowhere"], "--input_latents_dir nowhere: folder not found"),
])
def test_bad_input(tmp_path, tiny_t2v_models, flags, expected):
    result = run_script(t2v_args(tiny_t2v_models, tmp_path / "o", *flags))
    assert result.returncode == 2, result.stdout
    assert expected in result.stderr


def test_every_sampler_runs_through_the_script(tmp_path, tiny_t2v_models):
    for method in ("EulerDiscrete", "DPMSolverMultistep"):
        result = run_script(t2v_args(tiny_t2v_models, tmp_path / method, "--sample_method", method, "--save_latents"))
        assert result.returncode == 0, result.stderr
        (npy,) = [f for f in os.listdir(run_dir_of(tmp_path / method)) if f.endswith(".npy")]
        assert np.isfinite(np.load(os.path.join(run_dir_of(tmp_path / method), npy))).all()


def test_text_embed_cache_equals_online_t5(tmp_path, tiny_t2v_models):
    cache = tmp_path / "prompts.npz"
    made = run_script(["infer_t5.py", "--captions", "A red fox runs.", "--t5_max_length", "300", "--clean_caption",
                       "False", "--t5_model_dir", tiny_t2v_models["t5"], "--output_path", str(cache)])
    assert made.returncode == 0, made.stderr
    online = run_script(t2v_args(tiny_t2v_models, tmp_path / "on", "--captions", "A red fox runs.", "--save_latents"))
    cached = run_script(t2v_args(tiny_t2v_models, tmp_path / "off", "--text_embed_cache", str(cache), "--t5_model_dir",
                                 "no/such/dir", "--save_latents"))
    assert online.returncode == 0 and cached.returncode == 0, cached.stderr
    assert "no T5 run" in cached.stdout
    name = "000-A red fox runs.npy"
    np.testing.assert_allclose(np.load(os.path.join(run_dir_of(tmp_path / "on"), name)),
                               np.load(os.path.join(run_dir_of(tmp_path / "off"), name)), atol=1e-5)


def test_compiled_transformer_gives_the_pynative_latents(tmp_path, tiny_t2v_models):
    """--jit True (LatteT2V forward as one graph) samples the same latents as PyNative, over 50 DDIM steps."""
    common = ["--captions", "a dog on the beach", "a cat", "--batch_size", "2", "--sample_method", "DDIM",
              "--save_latents"]
    eager = run_script(t2v_args(tiny_t2v_models, tmp_path / "eager", *common))
    compiled = run_script(t2v_args(tiny_t2v_models, tmp_path / "jit", *common, "--jit", "True"))
    assert eager.returncode == 0 and compiled.returncode == 0, compiled.stderr[-2000:]
    note = "compiling the LatteT2V forward graph (--jit; first step; ~5 s on CPU"  # said before the pause
    assert note in compiled.stdout and "compiling" not in eager.stdout
    for name in ("000-a dog on the beach.npy", "001-a cat.npy"):
        a = np.load(os.path.join(run_dir_of(tmp_path / "eager"), name))
        b = np.load(os.path.join(run_dir_of(tmp_path / "jit"), name))
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())
