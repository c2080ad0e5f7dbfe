"""The bundled demo model (assets/demo_model, docs/demo_model.md), trained by this repo's own scripts.

These tests pin what the bundled weights measurably do, so a change to the model code or the pipeline that
breaks them fails here; the text-to-video test asserts issue #9's targets themselves (colour and motion right for
80% / 60% of prompts). docs/demo_model.md says how the weights were trained."""

import json
import os
import subprocess

import mindspore as ms
import numpy as np
from toy_world.toy_shapes import make_clips, split_combinations

from opensora.dataset.video_io import count_frames, frames_to_tensor, read_video_clip, tensor_to_frames
from opensora.utils.metrics import video_psnr_ssim
from tests.conftest import REPO, run_launcher, run_script

DEMO = os.path.join(REPO, "assets", "demo_model")
PSNR_FLOOR = 30.0  # issue #9's target; the bundled VAE measures 30.17 dB on these clips


def demo_vae():
    from opensora.models.ae import CausalVAEModel

    vae = CausalVAEModel.from_pretrained(os.path.join(REPO, "examples", "toy_world", "configs", "causal_vae_demo.json"),
                                         checkpoint=os.path.join(DEMO, "vae.ckpt"))
    vae.set_train(False)
    return vae


def reconstruct(vae, frames):
    """As infer_ae.py: the posterior's mode, decoded, back to uint8 frames."""
    x = ms.Tensor(frames_to_tensor(frames)[None])
    return tensor_to_frames(vae.decode(vae.encode(x).mode()).asnumpy()[0])


def test_demo_vae_psnr_on_held_out_clips():
    """The 16 clips of held_out_eval.csv (8 combinations never in the training set), rendered afresh.
    Bundled weights (stage 3, step 1500): 30.17 dB here; #9 asks 30. The stage-2 weights gave 27.8 dB."""
    vae = demo_vae()
    _, held_out = split_combinations()
    scores = [video_psnr_ssim(frames, reconstruct(vae, frames))[0] for *_, frames in make_clips(held_out, 2, seed=2000)]
    print("held-out PSNR", np.mean(scores))
    assert np.mean(scores) >= PSNR_FLOOR, scores


def run_evaluation(tmp_path, *flags):
    """examples/toy_world/eval_demo_model.py on its 56 prompts (40 held-in, 16 held-out) -> its summary."""
    proc = run_script(["examples/toy_world/eval_demo_model.py", *flags, "--output_path", str(tmp_path)],
                      timeout=1500)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [scores] = [os.path.join(r, "scores.json") for r, _, fs in os.walk(tmp_path) if "scores.json" in fs]
    with open(scores) as f:
        summary = json.load(f)["summary"]
    print(summary)
    assert summary["held_in"]["videos"] == 40 and summary["held_out"]["videos"] == 16
    return summary


def test_make_demo_command_writes_a_video(tmp_path):
    """`make demo` = scripts/cpu/demo.sh = infer_diffusion.py with the demo config; CAPTIONS (one prompt, spaces
    and all) replaces the YAML's list."""
    dry = subprocess.run(["make", "-n", "demo", "CAPTIONS=a green square moves from top to bottom"], cwd=REPO,
                         capture_output=True, text=True)
    assert 'scripts/cpu/demo.sh --captions "a green square moves from top to bottom"' in dry.stdout, dry.stdout
    out = tmp_path / "demo"
    proc = run_launcher("scripts/cpu/demo.sh", ["--output_path", str(out), "--captions",
                                                "a green square moves from top to bottom"], 1, 0, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    videos = [os.path.join(r, f) for r, _, fs in os.walk(out) for f in fs if f.endswith(".mp4")]
    assert len(videos) == 1 and "a green square" in videos[0]
    frames = read_video_clip(videos[0], count_frames(videos[0]))
    assert frames.shape == (17, 64, 64, 3)


def test_generated_videos_meet_the_issues_colour_and_motion_targets(tmp_path):
    """examples/toy_world/eval_demo_model.py on all 56 prompts (fixed seeds): issue #9's acceptance, colour and
    direction both right for >= 80% of held-in and >= 60% of held-out prompts. The bundled LatteT2V (stage 6) scores
    98% / 94% here (39 of 40, 15 of 16), so a float difference that flips a video or two across machines still passes,
    while a model or pipeline change that loses the direction (stage 5 scored 35% / 12.5%) fails."""
    summary = run_evaluation(tmp_path, "--config", "examples/toy_world/configs/t2v_demo.yaml")
    assert summary["held_in"]["ok"] >= 0.8, summary
    assert summary["held_out"]["ok"] >= 0.6, summary
    assert summary["held_in"]["colour_ok"] >= 0.9 and summary["held_out"]["colour_ok"] >= 0.85, summary


def test_layout_probe_finds_the_captions_direction_at_high_noise(tmp_path):
    """examples/toy_world/probe_caption_layout.py on the bundled LatteT2V: the x0 it implies holds its caption's
    direction (alpha ~ 1 at t = 300; 0.5 at t = 900 with the defaults, where stage 5, whose samples moved at chance, had
    ~0.1). The unit test of its measure is test_direction_alpha_of_the_conditional_mean_is_one."""
    out = tmp_path / "probe.json"
    proc = run_script(
        [
            "examples/toy_world/probe_caption_layout.py",
            "--config",
            "examples/toy_world/configs/t2v_demo.yaml",
            "--timesteps",
            "300",
            "900",
            "--clips_per_combination",
            "1",
            "--noise_draws",
            "2",
            "--output_json",
            str(out),
        ],
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {row["t"]: row for row in json.load(open(out))["rows"]}
    assert rows[300]["alpha_mean"] > 0.8 and rows[300]["own_direction_nearest"] >= 0.95, rows
    assert rows[900]["alpha_mean"] > 0.3, rows


def test_direction_alpha_of_the_conditional_mean_is_one():
    from toy_world.probe_caption_layout import direction_alpha

    rng = np.random.default_rng(0)
    motions = ["l", "r", "u", "d"]
    means = {(c, m): rng.standard_normal((4, 5, 8, 8)) for c in ("red", "blue") for m in motions}
    groups = [("red", "u"), ("blue", "l")]
    centre = {c: np.mean([means[(c, m)] for m in motions], axis=0) for c in ("red", "blue")}
    alpha, nearest = direction_alpha(np.stack([means[g] for g in groups]), groups, means)
    np.testing.assert_allclose(alpha, 1.0, rtol=1e-12)
    assert nearest.all()
    alpha, nearest = direction_alpha(np.stack([centre["red"], centre["blue"]]), groups, means)  # ignores direction
    np.testing.assert_allclose(alpha, 0.0, atol=1e-12)
    alpha, _ = direction_alpha(np.stack([means[("red", "d")], means[("blue", "r")]]), groups, means)
    assert (alpha < 0).all()  # another direction's mean: it is not along this one


# ----------------------------------------------------------------------------- the v1.3-family demo (make demo-i2v)
DEMO_V1_3 = os.path.join(REPO, "assets", "demo_model_v1_3")
I2V_CONFIG = "examples/toy_world/configs/i2v_demo.yaml"
WFVAE_PSNR_FLOOR = 25.7  # the bundled WF-VAE (step 2500) measures 26.2 dB on these clips


def test_demo_wfvae_psnr_on_held_out_clips():
    """The v1.3-family demo's WF-VAE on the 16 held-out clips of test_demo_vae_psnr_on_held_out_clips."""
    from opensora.models.ae.wfvae import WFVAEModel

    vae = WFVAEModel.from_pretrained(os.path.join(REPO, "examples", "toy_world", "configs", "wfvae_demo.json"),
                                     checkpoint=os.path.join(DEMO_V1_3, "wfvae.ckpt"))
    vae.set_train(False)
    _, held_out = split_combinations()
    scores = [video_psnr_ssim(frames, reconstruct(vae, frames))[0] for *_, frames in make_clips(held_out, 2, seed=2000)]
    print("held-out PSNR", np.mean(scores))
    assert np.mean(scores) >= WFVAE_PSNR_FLOOR, scores


def test_make_demo_i2v_continues_the_bundled_first_frame(tmp_path):
    """`make demo-i2v` = scripts/cpu/demo_i2v.sh: the bundled first frame (a blue square at the left) continued as
    "a blue square moves from left to right": frame 0 keeps its colour and place, and the square moves right."""
    from PIL import Image
    from toy_world.eval_demo_model import score_first_frame
    from toy_world.shape_motion import score_video

    dry = subprocess.run(["make", "-n", "demo-i2v", "IMAGE=my frame.png",
                          "CAPTIONS=a red circle moves from top to bottom"], cwd=REPO, capture_output=True, text=True)
    assert ('scripts/cpu/demo_i2v.sh --conditional_pixel_values_path "my frame.png"' in dry.stdout and
            '--captions "a red circle moves from top to bottom"' in dry.stdout), dry.stdout
    out = tmp_path / "demo_i2v"
    proc = run_launcher("scripts/cpu/demo_i2v.sh", ["--output_path", str(out)], 1, 0, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    videos = [os.path.join(r, f) for r, _, fs in os.walk(out) for f in fs if f.endswith(".mp4")]
    assert len(videos) == 1 and "a blue square moves from left to right" in videos[0]
    frames = read_video_clip(videos[0], count_frames(videos[0]))
    assert frames.shape == (17, 64, 64, 3)
    given = np.asarray(Image.open(os.path.join(DEMO_V1_3, "first_frame.png")).convert("RGB"))
    kept = score_first_frame(frames[0], given, "blue")
    assert kept["frame0_ok"], kept
    motion = score_video(frames, "blue", "from left to right")
    assert motion["ok"], motion


def test_image_to_video_demo_keeps_the_frame_and_moves_the_captions_way(tmp_path):
    """examples/toy_world/eval_demo_model.py --image_to_video on all 56 prompts, each with a first frame rendered
    afresh for its combination: frame 0 keeps the given colour and place, the colour stays and the shape moves the
    caption's way, for >= 80% / 60% of held-in / held-out prompts (issue #9's targets; docs/demo_model.md has the
    bundled weights' scores)."""
    summary = run_evaluation(tmp_path, "--config", I2V_CONFIG, "--image_to_video")
    assert summary["held_in"]["ok"] >= 0.8 and summary["held_out"]["ok"] >= 0.6, summary
    assert summary["held_in"]["frame0_ok"] >= 0.9 and summary["held_out"]["frame0_ok"] >= 0.85, summary
