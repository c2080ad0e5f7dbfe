"""Causal video VAE reconstruction: encode + decode every video (or image) of a folder or csv, save
side-by-side source|reconstruction videos, report PSNR/SSIM per clip and on average.

    python infer_ae.py --model_config configs/ae/causal_vae_488.yaml --ckpt_path models/ae/causal_vae_488.ckpt \
        --data_path datasets/mixkit --dataset_name video --dtype fp16 --size 512 --crop_size 512 \
        --frame_stride 1 --num_frames 33 --batch_size 1 --output_path samples/causal_vae_recons
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from opensora.utils.config import add_bool_flag, add_common_flags, parse_args, save_config
from opensora.utils.errors import UserError, make_output_dir, run_main


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_flags(p)
    p.add_argument("--model_config", default="configs/ae/causal_vae_488.yaml",
                   help="VAE architecture: YAML, released config.json, or a released folder (config + weights)")
    p.add_argument("--ckpt_path", default="", help="weights (.ckpt, .safetensors, .pt); optional for a folder")
    p.add_argument("--data_path", default="", help="folder of videos/images, or one video file")
    p.add_argument("--csv_path", default="", help="csv whose first column is a path (relative to --data_path)")
    p.add_argument("--dataset_name", default="video", choices=["video", "image"])
    p.add_argument("--output_path", default="samples/vae_recons")
    p.add_argument("--num_frames", type=int, default=17, help="frames per clip; 4k+1 for the causal VAE")
    p.add_argument("--frame_stride", type=int, default=1)
    p.add_argument("--size", type=int, default=256, help="resize the short side to this")
    p.add_argument("--crop_size", type=int, default=256, help="center crop to this square")
    p.add_argument("--batch_size", type=int, default=1)
    p.add_argument("--dtype", default="fp32", help="fp32 | fp16 (GroupNorm stays fp32) | bf16 (not on CPU)")
    add_bool_flag(p, "--enable_tiling", False, "encode/decode in overlapping H/W tiles (large frames)")
    p.add_argument("--tile_overlap_factor", type=float, default=0.25)
    p.add_argument("--time_chunk_frames", type=int, default=0,
                   help="encode/decode long clips in causal chunks of this many frames (4k+1; 0 = off). "
                        "Bounds memory; seams differ from a whole-clip run (see docs/performance.md)")
    add_bool_flag(p, "--sample_posterior", False, "decode a posterior sample instead of its mode (not deterministic)")
    add_bool_flag(p, "--save_vis", True, "write side-by-side source|reconstruction videos")
    p.add_argument("--save_format", default="mp4", choices=["mp4", "gif"])
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    return p


def main(argv):
    # 1. config
    args = parse_args(build_parser(), argv)
    from opensora.dataset.vae_dataset import VAEClips, list_media
    from opensora.utils.logger import setup_logger
    from opensora.utils.ms_utils import init_context, peak_rss_gb, resolve_dtype

    dtype = resolve_dtype(args.dtype, args.device_target)
    paths = list_media(args.data_path, args.dataset_name, args.csv_path)
    clips = VAEClips(paths, args.dataset_name, args.num_frames, args.frame_stride, args.size, args.crop_size)
    clips.preflight()
    make_output_dir(args.output_path)
    logger = setup_logger(args.output_path)
    save_config(args, args.output_path)

    # 2. context
    ms = init_context(args.mode, args.device_target, args.seed, args.debug)

    # 3. build
    from opensora.models.ae import CausalVAEModel
    from opensora.utils.amp import apply_precision

    if not args.ckpt_path and not os.path.isdir(args.model_config):
        raise UserError("--ckpt_path is required unless --model_config is a released folder with weights")
    vae = CausalVAEModel.from_pretrained(args.model_config, checkpoint=args.ckpt_path or None, logger=logger)
    vae.set_train(False)
    apply_precision(vae, dtype)
    if args.time_chunk_frames:
        try:
            vae.enable_time_chunking(args.time_chunk_frames)
        except ValueError as err:
            raise UserError(f"--time_chunk_frames: {err}") from err
    if args.enable_tiling:
        vae.enable_tiling()
        vae.tile_overlap_factor = args.tile_overlap_factor

    # 4. run
    from tqdm import tqdm

    from opensora.dataset.video_io import side_by_side, tensor_to_frames, write_video
    from opensora.utils.metrics import video_psnr_ssim

    results, start = [], time.time()
    batches = [paths[i:i + args.batch_size] for i in range(0, len(paths), args.batch_size)]
    for batch_paths in tqdm(batches, desc="reconstruct", unit="batch"):
        x = np.stack([clips.load(p) for p in batch_paths])  # (B, 3, T, H, W)
        posterior = vae.encode(ms.Tensor(x, dtype))
        z = posterior.sample() if args.sample_posterior else posterior.mode()
        recon = vae.decode(z).astype(ms.float32).asnumpy()
        for path, src, rec in zip(batch_paths, x, recon):
            src_frames, rec_frames = tensor_to_frames(src), tensor_to_frames(rec)
            psnr, ssim = video_psnr_ssim(src_frames, rec_frames)
            name = os.path.splitext(os.path.basename(path))[0]
            results.append({"file": path, "psnr": psnr, "ssim": ssim})
            logger.info(f"{name}: PSNR {psnr:.2f} dB, SSIM {ssim:.4f}")
            if args.save_vis:
                out = os.path.join(args.output_path, f"{len(results) - 1:03d}-{name}.{args.save_format}")
                write_video(out, side_by_side(src_frames, rec_frames), fps=args.fps)

    # 5. summary
    summary = {"num_clips": len(results), "mean_psnr": float(np.mean([r["psnr"] for r in results])),
               "mean_ssim": float(np.mean([r["ssim"] for r in results])), "seconds": round(time.time() - start, 2),
               "peak_rss_gb": round(peak_rss_gb(), 2), "clips": results}
    with open(os.path.join(args.output_path, "metrics.json"), "w") as f:
        json.dump(summary, f, indent=2)
    logger.info(f"{len(results)} clips: mean PSNR {summary['mean_psnr']:.2f} dB, mean SSIM {summary['mean_ssim']:.4f}, "
                f"{summary['seconds']} s, peak RSS {summary['peak_rss_gb']} GB -> {args.output_path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
