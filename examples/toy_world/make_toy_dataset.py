"""Write the synthetic captioned shape videos the bundled demo model is trained on (deterministic from --seed).

    python examples/toy_world/make_toy_dataset.py --output_dir datasets/toy_shapes

Writes <output_dir>/videos/*.mp4 and three annotation csvs (video,caption): train.csv (the 40 held-in
colour/shape/motion combinations), held_in_eval.csv and held_out_eval.csv (new clips, for evaluation; the 8
held-out combinations never appear in train.csv). See examples/toy_world/toy_shapes.py and docs/demo_model.md.
"""

import argparse
import csv
import os

from tqdm import tqdm

from opensora.dataset.video_io import write_video
from opensora.utils.config import HelpFormatter
from toy_world.toy_shapes import make_clips, split_combinations


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--output_dir", default="datasets/toy_shapes", help="videos and csvs go here")
    p.add_argument("--clips_per_combination", type=int, default=25, help="training clips per held-in combination")
    p.add_argument("--eval_clips_per_combination", type=int, default=2,
                   help="held-in/held-out evaluation clips per combination")
    p.add_argument("--num_frames", type=int, default=17, help="frames per clip")
    p.add_argument("--size", type=int, default=64, help="frame size in pixels")
    p.add_argument("--seed", type=int, default=0, help="seed of the rendered motions")
    return p


def write_split(output_dir, csv_name, clips, total):
    rows = []
    for name, cap, _, frames in tqdm(clips, total=total, desc=csv_name, unit="clip"):
        write_video(os.path.join(output_dir, "videos", f"{name}.mp4"), frames, fps=8)
        rows.append((f"videos/{name}.mp4", cap))
    tmp = os.path.join(output_dir, csv_name + ".partial")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video", "caption"])
        writer.writerows(rows)
    os.replace(tmp, os.path.join(output_dir, csv_name))
    return len(rows)


def main(argv=None):
    args = build_parser().parse_args(argv)
    held_in, held_out = split_combinations()
    shape = dict(num_frames=args.num_frames, size=args.size)
    # distinct seeds per split, so evaluation clips are never copies of training clips
    splits = [
        ("train.csv", held_in, args.clips_per_combination, args.seed),
        ("held_in_eval.csv", held_in, args.eval_clips_per_combination, args.seed + 1000),
        ("held_out_eval.csv", held_out, args.eval_clips_per_combination, args.seed + 2000),
    ]
    for csv_name, combos, per_combo, seed in splits:
        clips = make_clips(combos, per_combo, seed, **shape)
        n = write_split(args.output_dir, csv_name, clips, len(combos) * per_combo)
        print(f"{csv_name}: {n} clips ({len(combos)} combinations x {per_combo})")
    print(f"wrote {args.output_dir}")


if __name__ == "__main__":
    main()
