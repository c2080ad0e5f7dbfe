"""Score the bundled demo models on the toy world's captions, held-in and held-out combinations.

    python examples/toy_world/eval_demo_model.py --config my_t2v.yaml --output_path outputs/demo_eval
    python examples/toy_world/eval_demo_model.py --config examples/toy_world/configs/i2v_demo.yaml --image_to_video

Generates one video per caption with infer_diffusion.py (the user's command; each prompt its own fixed seed),
scores each with examples/toy_world/shape_motion.py (colour of the moving blob, direction of its motion), and writes
<run>/scores.json and <run>/contact_sheet.png (first, middle and last frame of every video). Unknown flags go to
infer_diffusion.py unchanged (e.g. --sampling_steps 100, or another --checkpoint).

--image_to_video (the v1.3-family demo): each prompt also gets a first frame, rendered afresh by the toy world for
its combination (examples/toy_world/toy_shapes.py, seeded by --seed and the prompt's index) and given with
--conditional_pixel_values_path; a video then also scores whether its frame 0 keeps that frame's colour and the
shape's position (centroid within FRAME0_TOLERANCE_PX), and "ok" needs all three.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np

from opensora.dataset.video_io import count_frames, read_video_clip
from opensora.utils.config import HelpFormatter
from toy_world.shape_motion import blob_masks, dominant_colour, score_video
from toy_world.toy_shapes import caption, render_clip, split_combinations

FRAME0_TOLERANCE_PX = 3.0  # a shape's radius is 8-12 px


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--config", required=True, help="infer_diffusion.py run settings of a toy-world model")
    p.add_argument("--output_path", default="outputs/demo_eval", help="videos, scores.json, contact sheet go here")
    p.add_argument("--held_in_videos", type=int, default=1, help="videos per held-in combination (40)")
    p.add_argument("--held_out_videos", type=int, default=2, help="videos per held-out combination (8)")
    p.add_argument("--seed", type=int, default=0, help="prompt k is sampled with seed + k")
    p.add_argument("--image_to_video", action="store_true",
                   help="give each prompt a rendered first frame (v1.3 inpaint models) and score frame 0 too")
    return p


def centroid(frame):
    """(x, y) of the saturated pixels of one uint8 (H, W, 3) frame, or None."""
    mask = blob_masks(frame[None])[0]
    if mask.sum() < 6:
        return None
    y, x = np.nonzero(mask)
    return np.array([x.mean(), y.mean()])


def write_first_frames(prompts, folder, seed):
    """Renders a clip of each prompt's combination (generator seed + 1_000_000 + k: never a training clip) and
    writes its first frame as <folder>/<k>.png; -> the .txt list for --conditional_pixel_values_path, frames."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    paths, frames = [], []
    for k, (_, combo) in enumerate(prompts):
        first = render_clip(*combo, np.random.default_rng(seed + 1_000_000 + k))[0]
        path = os.path.join(folder, f"{k:03d}.png")
        Image.fromarray(first).save(path)
        paths.append(os.path.abspath(path))
        frames.append(first)
    listing = os.path.join(folder, "first_frames.txt")
    with open(listing, "w") as f:
        f.write("\n".join(paths) + "\n")
    return listing, frames


def score_first_frame(generated, given, colour):
    """Whether the generated frame 0 keeps the given frame's colour and the shape's position."""
    where_given, where_made = centroid(given), centroid(generated)
    shift = (float(np.linalg.norm(where_given - where_made)) if where_given is not None and where_made is not None
             else None)
    kept = shift is not None and shift <= FRAME0_TOLERANCE_PX and dominant_colour(generated[None]) == colour
    return {"frame0_shift_px": None if shift is None else round(shift, 2), "frame0_ok": kept}


def eval_prompts(held_in_videos, held_out_videos):
    """[(split, (colour, shape, motion))] in generation order."""
    held_in, held_out = split_combinations()
    return ([("held_in", c) for c in held_in for _ in range(held_in_videos)] +
            [("held_out", c) for c in held_out for _ in range(held_out_videos)])


def generate(config, captions, output_path, seed, extra_flags=()):
    """Runs infer_diffusion.py; returns its run folder's videos in prompt order."""
    before = set(glob.glob(os.path.join(output_path, "*")))
    cmd = [sys.executable, "infer_diffusion.py", "--config", config, "--output_path", output_path, "--seed", str(seed),
           "--save_format", "mp4", *extra_flags, "--captions", *captions]
    subprocess.run(cmd, check=True)
    run_dir = max(set(glob.glob(os.path.join(output_path, "*"))) - before, key=os.path.getmtime)
    videos = sorted(glob.glob(os.path.join(run_dir, "*.mp4")))
    if len(videos) != len(captions):
        raise SystemExit(f"{run_dir}: {len(videos)} videos for {len(captions)} prompts")
    return run_dir, videos


def summarise(results):
    out = {}
    for split in ("held_in", "held_out"):
        rows = [r for r in results if r["split"] == split]
        if not rows:
            continue
        keys = ("colour_ok", "motion_ok", "ok") + (("frame0_ok",) if "frame0_ok" in rows[0] else ())
        out[split] = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys}
        out[split]["videos"] = len(rows)
    return out


def contact_sheet(videos, path, columns=8):
    """First / middle / last frame of each video stacked vertically, videos side by side, in rows of `columns`."""
    from PIL import Image

    tiles = []
    for v in videos:
        mid = len(v) // 2
        tiles.append(np.concatenate([v[0], v[mid], v[-1]], axis=0))
    h, w = tiles[0].shape[:2]
    rows = (len(tiles) + columns - 1) // columns
    sheet = np.full((rows * (h + 4), columns * (w + 4), 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * (h + 4):r * (h + 4) + h, c * (w + 4):c * (w + 4) + w] = tile
    Image.fromarray(sheet).save(path)
    return path


def main(argv=None):
    args, extra_flags = build_parser().parse_known_args(argv)
    prompts = eval_prompts(args.held_in_videos, args.held_out_videos)
    captions = [caption(*combo) for _, combo in prompts]
    given = None
    if args.image_to_video:
        listing, given = write_first_frames(prompts, os.path.join(args.output_path, "first_frames"), args.seed)
        extra_flags = ["--conditional_pixel_values_path", listing, *extra_flags]
    run_dir, paths = generate(args.config, captions, args.output_path, args.seed, extra_flags)
    results, videos = [], []
    for k, ((split, (colour, _, motion)), text, path) in enumerate(zip(prompts, captions, paths)):
        frames = read_video_clip(path, count_frames(path))
        videos.append(frames)
        row = {"split": split, "caption": text, "video": os.path.basename(path), **score_video(frames, colour, motion)}
        if given is not None:
            row.update(score_first_frame(frames[0], given[k], colour))
            row["ok"] = row["ok"] and row["frame0_ok"]
        results.append(row)
    summary = summarise(results)
    with open(os.path.join(run_dir, "scores.json"), "w") as f:
        json.dump({"summary": summary, "videos": results}, f, indent=1)
    sheet = contact_sheet(videos, os.path.join(run_dir, "contact_sheet.png"))
    for split, s in summary.items():
        frame0 = f"  frame 0 kept {s['frame0_ok']:.0%}" if "frame0_ok" in s else ""
        print(f"{split:9s} {s['videos']:3d} videos: colour {s['colour_ok']:.0%}  motion {s['motion_ok']:.0%}{frame0}  "
              f"{'all' if frame0 else 'both'} {s['ok']:.0%}")
    print(f"scores: {os.path.join(run_dir, 'scores.json')}  contact sheet: {sheet}")
    return summary


if __name__ == "__main__":
    main()
