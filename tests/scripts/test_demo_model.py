"""The bundled demo model (assets/demo_model, docs/demo_model.md), trained by this repo's own scripts.

These tests pin what the bundled weights measurably do, so a change to the model code or the pipeline that
breaks them fails here. Issue #9's targets are higher than some of these floors (30 dB; colour *and* motion
right for 80% / 60% of prompts); docs/demo_model.md says where the training stands."""

import json
import os

import mindspore as ms
import numpy as np

from opensora.dataset.toy_shapes import make_clips, split_combinations
from opensora.dataset.video_io import count_frames, frames_to_tensor, read_video_clip, tensor_to_frames
from opensora.utils.metrics import video_psnr_ssim
from tests.conftest import REPO, run_script

DEMO = os.path.join(REPO, "assets", "demo_model")
PSNR_FLOOR = 29.8  # the bundled VAE, less a margin for float differences across machines


def demo_vae():
    from opensora.models.ae import CausalVAEModel

    vae = CausalVAEModel.from_pretrained(os.path.join(REPO, "configs", "demo", "causal_vae_demo.json"),
                                         checkpoint=os.path.join(DEMO, "vae.ckpt"))
    vae.set_train(False)
    return vae


def reconstruct(vae, frames):
    """As infer_ae.py: the posterior's mode, decoded, back to uint8 frames."""
    x = ms.Tensor(frames_to_tensor(frames)[None])
    return tensor_to_frames(vae.decode(vae.encode(x).mode()).asnumpy()[0])


def test_demo_vae_psnr_on_held_out_clips():
    """The 16 clips of held_out_eval.csv (8 combinations never in the training set), rendered afresh.
    Bundled weights (stage 3, step 600): 30.0 dB here; #9 asks 30. The stage-2 weights gave 27.8 dB."""
    vae = demo_vae()
    _, held_out = split_combinations()
    scores = [video_psnr_ssim(frames, reconstruct(vae, frames))[0] for *_, frames in make_clips(held_out, 2, seed=2000)]
    print("held-out PSNR", np.mean(scores))
    assert np.mean(scores) >= PSNR_FLOOR, scores


def test_make_demo_command_writes_a_video(tmp_path):
    """`make demo`: infer_diffusion.py with the demo config; a --captions override replaces the YAML's list."""
    out = tmp_path / "demo"
    proc = run_script(["infer_diffusion.py", "--config", "configs/demo/t2v_demo.yaml", "--output_path", str(out),
                       "--captions", "a green square moves from top to bottom"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    videos = [os.path.join(r, f) for r, _, fs in os.walk(out) for f in fs if f.endswith(".mp4")]
    assert len(videos) == 1 and "a green square" in videos[0]
    frames = read_video_clip(videos[0], count_frames(videos[0]))
    assert frames.shape == (17, 64, 64, 3)


def test_generated_videos_have_the_captions_colour_and_held_in_direction(tmp_path):
    """tools/eval_demo_model.py on all 56 prompts (fixed seeds). The bundled LatteT2V (stage 5) draws the
    caption's colour for 87.5% of held-in and 94% of held-out prompts, and moves it the caption's way for 37.5%
    of held-in prompts (chance 25%; #9 asks 80% for colour and direction both); the held-out direction (12.5%) is
    still at chance, so it is reported, not asserted."""
    proc = run_script(["tools/eval_demo_model.py", "--config", "configs/demo/t2v_demo.yaml",
                       "--output_path", str(tmp_path)], timeout=1500)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [scores] = [os.path.join(r, "scores.json") for r, _, fs in os.walk(tmp_path) if "scores.json" in fs]
    with open(scores) as f:
        summary = json.load(f)["summary"]
    print(summary)
    assert summary["held_in"]["videos"] == 40 and summary["held_out"]["videos"] == 16
    assert summary["held_in"]["colour_ok"] >= 0.85, summary
    assert summary["held_out"]["colour_ok"] >= 0.85, summary
    assert summary["held_in"]["motion_ok"] >= 0.35, summary  # 14 of 40; chance gives ~10
