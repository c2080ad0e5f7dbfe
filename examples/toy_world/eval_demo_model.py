"""Score the bundled demo text-to-video model on the toy world's captions, held-in and held-out combinations.

    python examples/toy_world/eval_demo_model.py --config my_t2v.yaml --output_path outputs/demo_eval

Generates one video per caption with infer_diffusion.py (the user's command; each prompt its own fixed seed),
scores each with examples/toy_world/shape_motion.py (colour of the moving blob, direction of its motion), and writes
<run>/scores.json and <run>/contact_sheet.png (first, middle and last frame of every video). Unknown flags go to
infer_diffusion.py unchanged (e.g. --sampling_steps 100, or another --checkpoint).
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
from toy_world.shape_motion import score_video
from toy_world.toy_shapes import caption, split_combinations


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--config", required=True, help="infer_diffusion.py run settings of a toy-world model")
    p.add_argument("--output_path", default="outputs/demo_eval", help="videos, scores.json, contact sheet go here")
    p.add_argument("--held_in_videos", type=int, default=1, help="videos per held-in combination (40)")
    p.add_argument("--held_out_videos", type=int, default=2, help="videos per held-out combination (8)")
    p.add_argument("--seed", type=int, default=0, help="prompt k is sampled with seed + k")
    return p


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
        out[split] = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in ("colour_ok", "motion_ok", "ok")}
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
    run_dir, paths = generate(args.config, captions, args.output_path, args.seed, extra_flags)
    results, videos = [], []
    for (split, (colour, _, motion)), text, path in zip(prompts, captions, paths):
        frames = read_video_clip(path, count_frames(path))
        videos.append(frames)
        results.append({"split": split, "caption": text, "video": os.path.basename(path),
                        **score_video(frames, colour, motion)})
    summary = summarise(results)
    with open(os.path.join(run_dir, "scores.json"), "w") as f:
        json.dump({"summary": summary, "videos": results}, f, indent=1)
    sheet = contact_sheet(videos, os.path.join(run_dir, "contact_sheet.png"))
    for split, s in summary.items():
        print(f"{split:9s} {s['videos']:3d} videos: colour {s['colour_ok']:.0%}  motion {s['motion_ok']:.0%}  "
              f"both {s['ok']:.0%}")
    print(f"scores: {os.path.join(run_dir, 'scores.json')}  contact sheet: {sheet}")
    return summary


if __name__ == "__main__":
    main()
