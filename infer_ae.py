"""Autoencoder reconstruction (the v1.0 causal VAE, or the v1.3 WF-VAE): encode + decode every video (or image) of
a folder or csv, save side-by-side source|reconstruction videos, report PSNR/SSIM per clip and on average.
The family is read from the config (`_class_name` of a released config.json); `--ae` names it explicitly.

    python infer_ae.py --model_config configs/ae/causal_vae_488.yaml --ckpt_path models/ae/causal_vae_488.ckpt \
        --data_path datasets/mixkit --dataset_name video --dtype fp16 --size 512 --crop_size 512 \
        --frame_stride 1 --num_frames 33 --batch_size 1 --output_path samples/causal_vae_recons
"""

import argparse
import sys

from opensora.utils.config import (
    HelpFormatter,
    add_bool_flag,
    add_common_flags,
    parse_args,
    positive_int,
    save_config,
    seed_int,
)
from opensora.utils.errors import make_output_dir, run_main


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_common_flags(p)
    p.add_argument("--model_config", default="configs/ae/causal_vae_488.yaml",
                   help="VAE architecture: YAML, released config.json, or a released folder (config + weights)")
    p.add_argument("--ae_path", default="", help="the v1.3 scripts' name for --model_config (a released folder)")
    p.add_argument("--ae", default="", help="autoencoder family, e.g. CausalVAEModel or WFVAEModel_D8_4x8x8 (v1.3 "
                   "names); default: read from the config")
    p.add_argument("--ckpt_path", default="", help="weights (.ckpt, .safetensors, .pt); optional for a folder")
    p.add_argument("--data_path", default="", help="folder of videos/images, or one video file")
    p.add_argument("--csv_path", default="", help="csv whose first column is a path (relative to --data_path)")
    p.add_argument("--dataset_name", default="video", choices=["video", "image"], help="what --data_path holds")
    p.add_argument("--output_path", default="samples/vae_recons", help="reconstructions and metrics.json go here")
    p.add_argument("--num_frames", type=positive_int, default=17, help="frames per clip; 4k+1 (the WF-VAE requires it)")
    p.add_argument("--frame_stride", type=positive_int, default=1, help="take every Nth frame of the source video")
    p.add_argument("--size", type=positive_int, default=256, help="resize the short side to this")
    p.add_argument("--crop_size", type=positive_int, default=256, help="center crop to this square")
    p.add_argument("--batch_size", type=positive_int, default=1, help="clips per encode/decode call")
    p.add_argument("--dtype", default="fp32", help="fp32 | fp16 (GroupNorm stays fp32) | bf16 (not on CPU)")
    add_bool_flag(p, "--enable_tiling", False, "encode/decode in overlapping H/W tiles (large frames)")
    p.add_argument("--tile_overlap_factor", type=float, default=0.25,
                   help="overlap of neighbouring tiles with --enable_tiling")
    p.add_argument("--time_chunk_frames", type=int, default=0,
                   help="encode/decode long clips in causal chunks of this many frames (4k+1; 0 = off). "
                        "Bounds memory; seams differ from a whole-clip run (see docs/performance.md)")
    add_bool_flag(p, "--sample_posterior", False, "decode a posterior sample instead of its mode (not deterministic)")
    add_bool_flag(p, "--save_vis", True, "write side-by-side source|reconstruction videos")
    p.add_argument("--save_format", default="mp4", choices=["mp4", "gif"], help="side-by-side video format")
    p.add_argument("--fps", type=positive_int, default=8, help="frame rate of the written videos")
    p.add_argument("--seed", type=seed_int, default=42, help="seed of --sample_posterior's noise")
    return p


def main(argv):
    # 1. config
    args = parse_args(build_parser(), argv)
    from opensora.dataset.vae_dataset import VAEClips, list_media
    from opensora.utils.logger import setup_logger
    from opensora.utils.ms_utils import init_context, resolve_dtype

    dtype = resolve_dtype(args.dtype, args.device_target)
    check_clip_size(args)
    paths = list_media(args.data_path, args.dataset_name, args.csv_path)
    clips = VAEClips(paths, args.dataset_name, args.num_frames, args.frame_stride, args.size, args.crop_size)
    clips.preflight()
    make_output_dir(args.output_path)
    logger = setup_logger(args.output_path)
    save_config(args, args.output_path)

    # 2. context
    init_context(args.mode, args.device_target, args.seed, args.debug)

    # 3. build
    from opensora.pipelines.reconstruction import ReconstructionPipeline, ReconstructionSettings

    settings = ReconstructionSettings(
        model_config=args.ae_path or args.model_config, ckpt_path=args.ckpt_path, ae=args.ae, dtype=dtype,
        output_path=args.output_path, batch_size=args.batch_size, enable_tiling=args.enable_tiling,
        tile_overlap_factor=args.tile_overlap_factor, time_chunk_frames=args.time_chunk_frames,
        sample_posterior=args.sample_posterior, save_vis=args.save_vis, save_format=args.save_format, fps=args.fps)
    pipeline = ReconstructionPipeline(settings, logger)

    # 4. run and 5. summary (metrics.json beside the videos)
    pipeline.run(paths, clips.load)
    return 0


def check_clip_size(args):
    """Sizes the autoencoder reconstructs whole, checked before anything is built (the WF-VAE's rule)."""
    from opensora.models.ae import detect_family
    from opensora.models.ae.wfvae.config import check_clip_size as check_wfvae_clip

    family = detect_family(args.ae_path or args.model_config)
    if family == "WFVAEModel" or args.ae.startswith("WFVAEModel"):
        check_wfvae_clip(1 if args.dataset_name == "image" else args.num_frames, args.crop_size, args.crop_size)


if __name__ == "__main__":
    sys.exit(run_main(main))
