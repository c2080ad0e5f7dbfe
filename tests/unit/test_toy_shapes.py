"""The demo model's toy world: the clip generator, the held-out split, the evaluator and the bundled tokenizer."""

import os

import numpy as np
from conftest import REPO, run_script
from toy_world.shape_motion import blob_masks, score_video
from toy_world.toy_shapes import (
    COLOURS,
    HELD_OUT,
    MOTIONS,
    SHAPES,
    all_combinations,
    caption,
    make_clips,
    render_clip,
    split_combinations,
)

from opensora.dataset.video_io import read_video_clip, write_video


def test_split_holds_out_whole_combinations_but_no_single_word():
    held_in, held_out = split_combinations()
    assert len(all_combinations()) == len(COLOURS) * len(SHAPES) * len(MOTIONS) == 48
    assert sorted(held_out) == sorted(HELD_OUT) and not set(held_in) & set(held_out)
    for i, values in enumerate((COLOURS, SHAPES, MOTIONS)):
        assert {c[i] for c in held_in} == set(values)  # every word is still seen in training


def test_clips_are_deterministic_and_shaped():
    a = [c[3] for c in make_clips(all_combinations()[:3], 2, seed=5)]
    b = [c[3] for c in make_clips(all_combinations()[:3], 2, seed=5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[0].shape == (17, 64, 64, 3) and a[0].dtype == np.uint8
    assert not np.array_equal(a[0], a[1])


def _centroid(frame):
    ys, xs = np.nonzero(blob_masks(frame[None])[0])  # the evaluator's notion of the shape
    return xs.mean(), ys.mean()


def test_every_clip_starts_near_its_captions_starting_edge():
    """The layout a caption implies must be shared by its clips: each shape starts in the first 40% of the frame
    along its motion and ends in the last 40% (uniform starts over a short travel left the direction unlearned)."""
    for _, _, (_, _, motion), frames in make_clips(all_combinations(), 3, seed=7):
        dx, dy = MOTIONS[motion]
        axis, sign = (0, dx) if dx else (1, dy)
        first, last = _centroid(frames[0])[axis], _centroid(frames[-1])[axis]
        if sign < 0:
            first, last = 63 - first, 63 - last
        assert first < 0.4 * 64 and last > 0.6 * 64, (motion, first, last)


def test_evaluator_on_ground_truth_clips():
    clips = list(make_clips(all_combinations(), 2, seed=123))
    scores = [score_video(frames, colour, motion) for _, _, (colour, _, motion), frames in clips]
    accuracy = np.mean([s["ok"] for s in scores])
    assert accuracy >= 0.95, accuracy


def test_evaluator_survives_mp4_and_rejects_wrong_answers(tmp_path):
    rng = np.random.default_rng(0)
    frames = render_clip("blue", "triangle", "from bottom to top", rng)
    path = write_video(str(tmp_path / "clip.mp4"), frames)
    decoded = read_video_clip(path, 17)
    assert score_video(decoded, "blue", "from bottom to top")["ok"]
    assert not score_video(decoded, "yellow", "from bottom to top")["colour_ok"]
    assert not score_video(decoded, "blue", "from top to bottom")["motion_ok"]
    still = np.repeat(frames[:1], 17, axis=0)  # a shape that does not move
    assert score_video(still, "blue", "from bottom to top")["motion"] is None
    blank = np.full_like(frames, 40)  # no shape at all
    assert score_video(blank, "blue", "from bottom to top") == {
        "colour": None, "motion": None, "colour_ok": False, "motion_ok": False, "ok": False}


def test_bundled_tokenizer_gives_one_token_per_caption_word():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(os.path.join(REPO, "assets", "demo_model", "t5"), local_files_only=True)
    text = caption("green", "square", "from top to bottom")
    ids = tok(text).input_ids
    assert len(ids) == len(text.split()) + 1 and ids[-1] == tok.eos_token_id == 1
    assert tok.unk_token_id not in ids and tok.pad_token_id == 0
    assert tok.tokenize(text + ".")[-2:] == ["▁bottom", "."]  # punctuation does not swallow the word
    assert tok.convert_tokens_to_ids("<extra_id_0>") == len(tok) - 1  # T5 layout: sentinels at the end


def test_eval_tool_end_to_end_on_a_random_model(tiny_t2v_models, tmp_path):
    """examples/toy_world/eval_demo_model.py through infer_diffusion.py: one scored video per prompt, a contact sheet,
    and the chance-level score a random-weight model deserves (the evaluator is not fooled by noise)."""
    import json

    from PIL import Image

    m = tiny_t2v_models
    proc = run_script(
        [
            "examples/toy_world/eval_demo_model.py",
            "--config",
            "configs/diffusion/latte_17x256x256_122.yaml",
            "--output_path",
            str(tmp_path),
            "--held_in_videos",
            "0",
            "--held_out_videos",
            "1",
            "--model_config",
            f"{m['latte_dir']}/config.json",
            "--checkpoint",
            f"{m['latte_dir']}/model.ckpt",
            "--vae_config",
            m["vae"],
            "--vae_checkpoint",
            "",
            "--t5_model_dir",
            m["t5"],
            "--sample_method",
            "DDIM",
            "--sampling_steps",
            "3",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    report = json.loads((run_dir / "scores.json").read_text())
    assert [v["caption"] for v in report["videos"]] == [caption(*c) for c in HELD_OUT]
    assert set(report["summary"]) == {"held_out"} and report["summary"]["held_out"]["videos"] == len(HELD_OUT)
    assert report["summary"]["held_out"]["ok"] <= 0.25
    sheet = Image.open(run_dir / "contact_sheet.png")
    assert sheet.size == (8 * (64 + 4), 3 * 64 + 4)


def test_bundled_t5_is_what_the_tool_makes(tmp_path):
    """assets/demo_model/t5 is reproducible: examples/toy_world/make_demo_t5.py writes the same weights and
    vocabulary."""
    from safetensors.numpy import load_file

    proc = run_script(["examples/toy_world/make_demo_t5.py", "--output_dir", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    bundled = os.path.join(REPO, "assets", "demo_model", "t5")
    made, shipped = (
        load_file(str(tmp_path / "model.safetensors")),
        load_file(os.path.join(bundled, "model.safetensors")),
    )
    assert made.keys() == shipped.keys() and all(np.array_equal(made[k], shipped[k]) for k in made)
    for name in ("config.json", "tokenizer.json"):
        with open(tmp_path / name) as a, open(os.path.join(bundled, name)) as b:
            assert a.read() == b.read(), name


def test_bundled_t5_tells_word_order_apart():
    """Captions with the same words in another order ("from left to right" / "from right to left") must give
    token sets as far apart as two colours do: LatteT2V's cross-attention has no key positions, so it sees the
    encoder's outputs as a set. A random T5 with its default near-zero position bias gave 0.04 here (colours 0.42)."""
    from scipy.optimize import linear_sum_assignment

    from opensora.models.text_encoder.embedder import T5Embedder

    embedder = T5Embedder(os.path.join(REPO, "assets", "demo_model", "t5"), max_length=16)
    (lr, rl, tb, bt, green), mask = embedder.encode(
        [
            "a red circle moves from left to right",
            "a red circle moves from right to left",
            "a red circle moves from top to bottom",
            "a red circle moves from bottom to top",
            "a green circle moves from left to right",
        ]
    )
    n = int(mask[0].sum())

    def set_distance(a, b):  # optimal one-to-one matching of the token vectors, relative to their size
        cost = np.linalg.norm(a[:n, None] - b[None, :n], axis=-1)
        rows, cols = linear_sum_assignment(cost)
        return cost[rows, cols].sum() / np.linalg.norm(a[:n], axis=-1).sum()

    colour = set_distance(lr, green)
    assert set_distance(lr, rl) > 0.8 * colour and set_distance(tb, bt) > 0.8 * colour, (
        set_distance(lr, rl),
        set_distance(tb, bt),
        colour,
    )
