"""Cache the causal VAE posterior of every annotated video for `train_diffusion.py --vae_latent_folder`.

    python tools/cache_vae_latents.py --data_file_path datasets/webvid5/video_caption.csv \
        --video_folder datasets/webvid5 --output_dir datasets/webvid5_latents --num_frames 17 --image_size 256 \
        --vae_config configs/ae/causal_vae_488.yaml --vae_checkpoint models/ae/causal_vae_488.ckpt

Writes `<output_dir>/<video path>.npz` with `latent_mean` and `latent_std` (4, T', h, w) of one clip per video
(the first `num_frames` frames at `frame_stride`, centre crop, no flip); training then samples
mean + std * noise per step. Existing files are skipped (resumable). `--batch_size 8 --jit True` encodes 8 clips
per compiled call (the demo model's 1000 toy clips: see docs/demo_model.md).
"""

import argparse
import os
import sys

import numpy as np

from opensora.utils.config import HelpFormatter, add_bool_flag
from opensora.utils.errors import UserError, run_main


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--data_file_path", required=True, help="annotation .csv or .json listing the videos")
    p.add_argument("--video_folder", required=True, help="folder the annotation's video paths are relative to")
    p.add_argument("--output_dir", required=True, help="one npz posterior per video goes here")
    p.add_argument("--video_column", default="video", help="annotation column of the video path")
    p.add_argument("--caption_column", default="caption", help="annotation column of the caption")
    p.add_argument("--num_frames", type=int, default=17, help="frames per clip (4k+1), as train_diffusion.py will use")
    p.add_argument("--frame_stride", type=int, default=1, help="take every Nth frame")
    p.add_argument("--image_size", type=int, default=256, help="frame size in pixels (center crop)")
    p.add_argument("--vae_config", default="configs/ae/causal_vae_488.yaml", help="VAE YAML/config.json or folder")
    p.add_argument("--vae_checkpoint", default="models/ae/causal_vae_488.ckpt", help="VAE weights")
    p.add_argument("--batch_size", type=int, default=1, help="clips encoded together (same numbers, fewer calls)")
    add_bool_flag(p, "--jit", False, "compile the VAE encoder as one graph: ~2x faster, more memory; compiles once "
                  "per batch shape")
    p.add_argument("--debug", action="store_true", help="show stack traces")
    return p


def main(argv):
    args = build_parser().parse_args(argv)
    import mindspore as ms
    from tqdm import tqdm

    from opensora.dataset.annotations import embedding_path, read_annotations
    from opensora.dataset.t2v_dataset import video_file
    from opensora.dataset.video_io import check_causal_num_frames, frames_to_tensor, preprocess_frames, read_video_clip
    from opensora.models.ae import CausalVAEModel
    from opensora.models.ae.distributions import DiagonalGaussianDistribution
    from opensora.utils.ms_utils import init_context

    check_causal_num_frames(args.num_frames)
    rows = read_annotations(args.data_file_path, args.video_column, args.caption_column)
    todo = [v for v, _ in rows if not os.path.isfile(embedding_path(args.output_dir, v))]
    if args.batch_size < 1:
        raise UserError(f"--batch_size {args.batch_size}: must be 1 or more")
    init_context()
    vae = CausalVAEModel.from_pretrained(args.vae_config, checkpoint=args.vae_checkpoint or None)
    vae.set_train(False)
    encode_moments = ms.jit(vae.encode_moments) if args.jit else vae.encode_moments
    bar = tqdm(total=len(todo), desc="latents", unit="video")
    for start in range(0, len(todo), args.batch_size):
        batch = todo[start:start + args.batch_size]
        x = np.stack([frames_to_tensor(preprocess_frames(
            read_video_clip(video_file(args.video_folder, v), args.num_frames, args.frame_stride, start=0),
            args.image_size, args.image_size)) for v in batch])
        posterior = DiagonalGaussianDistribution(encode_moments(ms.Tensor(x)))
        means, stds = posterior.mean.asnumpy(), posterior.std.asnumpy()
        for i, video in enumerate(batch):
            out = embedding_path(args.output_dir, video)
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            np.savez(out + ".partial.npz", latent_mean=means[i], latent_std=stds[i])
            os.replace(out + ".partial.npz", out)  # a killed run leaves no half file: rerun to continue
        bar.update(len(batch))
    bar.close()
    print(f"{len(todo)} videos encoded, {len(rows) - len(todo)} already cached -> {args.output_dir}")
    std = latent_std([embedding_path(args.output_dir, v) for v, _ in rows])
    print(f"posterior mean std {std:.4f}: a VAE of your own wants --sd_scale_factor {1 / std:.4f} (unit-variance "
          "latents, as 0.18215 gives for the released VAE)")
    return 0


def latent_std(paths):
    """Std of the cached posterior means over every element of every file."""
    total, total_sq, n = 0.0, 0.0, 0
    for path in paths:
        mean = np.load(path)["latent_mean"].astype(np.float64)
        total, total_sq, n = total + mean.sum(), total_sq + np.square(mean).sum(), n + mean.size
    return float(np.sqrt(total_sq / n - (total / n) ** 2))


if __name__ == "__main__":
    sys.exit(run_main(main))
