"""Clips and images for the VAE scripts: a folder (non-recursive) or a csv whose first column is the path."""

import csv
import os

import numpy as np

from ..utils.errors import UserError
from .video_io import (
    check_causal_num_frames,
    frames_to_tensor,
    is_image_file,
    is_video_file,
    preprocess_frames,
    read_image,
    read_video_clip,
)


def list_media(data_path, dataset_name="video", csv_path=""):
    """Paths of the videos (or images) to use, sorted; a csv's first column, relative to `data_path`."""
    want = is_video_file if dataset_name == "video" else is_image_file
    if csv_path:
        if not os.path.isfile(csv_path):
            raise UserError(f"--csv_path {csv_path}: file not found")
        with open(csv_path, newline="") as f:
            rows = [r for r in csv.reader(f) if r]
        if rows and not os.path.splitext(rows[0][0])[1]:
            rows = rows[1:]  # header row
        paths = [r[0] if os.path.isabs(r[0]) else os.path.join(data_path or "", r[0]) for r in rows]
    else:
        if not data_path or not os.path.isdir(data_path):
            if data_path and os.path.isfile(data_path) and want(data_path):
                return [data_path]
            raise UserError(f"--data_path {data_path!r}: not a folder of {dataset_name}s (or pass --csv_path)")
        paths = sorted(os.path.join(data_path, n) for n in os.listdir(data_path) if want(n))
    if not paths:
        raise UserError(f"no {dataset_name} files found in {csv_path or data_path}")
    return paths


class VAEClips:
    """Yields (path, clip) with clip float32 (C, T, H, W) in [-1, 1]; an image is a T=1 clip, which the causal
    VAE encodes to one latent frame."""

    def __init__(self, paths, dataset_name="video", num_frames=17, frame_stride=1, size=256, crop_size=256,
                 start=0, crop_mode="center", flip=False, seed=0):
        if dataset_name == "video":
            check_causal_num_frames(num_frames)
        self.paths, self.dataset_name = paths, dataset_name
        self.num_frames, self.frame_stride, self.start = num_frames, frame_stride, start
        self.size, self.crop_size, self.crop_mode, self.flip = size, crop_size, crop_mode, flip
        self.rng = np.random.default_rng(seed)

    def preflight(self):
        """Open every file before any compute, so a bad or short file fails at once, naming it."""
        from .video_io import clip_span, count_frames

        for path in self.paths:
            if self.dataset_name == "image":
                read_image(path)
                continue
            span = clip_span(self.num_frames, self.frame_stride)
            length = count_frames(path)
            if length < span:
                raise UserError(f"{path}: video has {length} frames; num_frames={self.num_frames} with "
                                f"frame_stride={self.frame_stride} needs {span}; lower --num_frames or --frame_stride")

    def __len__(self):
        return len(self.paths)

    def load(self, path, rng=None):
        """The clip of `path`; its random start, crop and flip come from `rng` (default: the reader's own)."""
        rng = rng if rng is not None else self.rng
        if self.dataset_name == "video":
            frames = read_video_clip(path, self.num_frames, self.frame_stride, self.start, rng)
        else:
            frames = read_image(path)
        flip = bool(self.flip and rng.random() < 0.5)
        frames = preprocess_frames(frames, self.size, self.crop_size, self.crop_mode, flip, rng)
        return frames_to_tensor(frames)

    def epoch_order(self, epoch, seed):
        """The shuffled order of an epoch: a function of (seed, epoch) only, so a resume can rebuild it."""
        return np.random.default_rng([seed, epoch]).permutation(len(self.paths))

    def __iter__(self):
        for path in self.paths:
            yield path, self.load(path)
