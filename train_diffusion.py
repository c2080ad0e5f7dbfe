"""Train LatteT2V on videos with cached T5 embeddings (Open-Sora-Plan v1.0.0 train_t2v.py).

    python train_diffusion.py --config configs/diffusion/training/latte_17x256x256_122.yaml \
        --data_file_path datasets/webvid5/video_caption.csv --video_folder datasets/webvid5 \
        --text_embed_folder datasets/webvid5

Frozen causal VAE -> latents x 0.18215 (sampled posterior); t ~ U[0, 1000); IDDPM loss (mse + vb); AdamW.
Checkpoints go to <output_path>/ckpt/step_XXXXXXXX/ (atomic, last --ckpt_max_keep kept); --resume continues
exactly (weights, optimizer, EMA, loss scale, step and data/noise RNG).
"""

import argparse
import sys

from opensora.utils.config import (
    HelpFormatter,
    add_bool_flag,
    add_common_flags,
    add_optimization_flags,
    add_run_flags,
    parse_args,
    save_config,
)
from opensora.utils.errors import run_main


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_common_flags(p)
    # data
    p.add_argument("--data_file_path", default="", help="annotation .csv (video,caption) or PKU .json")
    p.add_argument("--video_folder", default="", help="folder the annotation's video paths are relative to")
    p.add_argument("--text_embed_folder", default="", help="npz files written by infer_t5.py")
    p.add_argument("--vae_latent_folder", default="", help="posteriors cached by tools/cache_vae_latents.py "
                   "(no VAE at training time; fixed clip, no flip)")
    p.add_argument("--cfg", type=float, default=0.0, help="caption dropout for classifier-free guidance: replace a "
                   "caption by the empty prompt with this probability (later Open-Sora-Plan's --cfg 0.1; v1.0.0: 0)")
    p.add_argument("--null_text_embed", default="", help="with --cfg: npz of infer_t5.py --captions mode, whose "
                   "negative_text_emb / negative_mask (of --negative_prompt, default \"\") are the empty prompt")
    p.add_argument("--video_column", default="video", help="annotation column of the video path")
    p.add_argument("--caption_column", default="caption", help="annotation column of the caption")
    add_bool_flag(p, "--filter_nonexistent", False, "accepted; missing files are reported before training instead")
    add_bool_flag(p, "--disable_flip", True, "no random horizontal flip")
    p.add_argument("--num_frames", type=int, default=17, help="frames per training clip (4k+1)")
    p.add_argument("--frame_stride", type=int, default=1, help="take every Nth frame of the source video")
    p.add_argument("--image_size", type=int, default=256, help="frame size in pixels (square crop)")
    p.add_argument("--use_image_num", type=int, default=0, help="images per video for joint image-video training")
    # model
    p.add_argument("--model_version", default="LatteT2V-XL/122", help="LatteT2V size when no --model_config is given")
    p.add_argument("--model_config", default="", help="LatteT2V config.json (default: LatteT2V-XL/122 derived from "
                   "--image_size and --num_frames)")
    p.add_argument("--pretrained_model_path", default="", help="weights to start from (converted t2v.ckpt, a stage)")
    p.add_argument("--vae_config", default="configs/ae/causal_vae_488.yaml", help="VAE YAML/config.json or folder")
    p.add_argument("--vae_checkpoint", default="models/ae/causal_vae_488.ckpt",
                   help="VAE weights (tools/model_conversion/convert_vae.py)")
    p.add_argument("--sd_scale_factor", type=float, default=0.18215, help="latents = VAE sample x this")
    add_bool_flag(p, "--enable_flash_attention", False, "Ascend only")
    add_bool_flag(p, "--use_recompute", False, "per-block recompute (the original's --gradient_checkpointing)")
    add_bool_flag(p, "--jit", True, "compile the train step (loss + gradients) as one MindSpore graph (several "
                  "times faster on CPU; False: PyNative, op by op)")
    p.add_argument("--dtype", default="fp32", help="fp32 | fp16")
    p.add_argument("--amp_level", default="O2", help="accepted for compatibility")
    # optimisation
    add_optimization_flags(p, end_learning_rate=2e-5)
    p.add_argument("--start_learning_rate", type=float, default=2e-5, help="learning rate (after the warm-up)")
    p.add_argument("--timestep_range", type=int, nargs=2, default=[0, 1000], metavar=("LOW", "HIGH"),
                   help="train on t ~ U[LOW, HIGH) (added; the original: 0 1000). A narrower range focuses a phase "
                   "of training on some noise levels, e.g. 500 1000 on the steps that lay out a frame")
    p.add_argument("--x0_weight_cap", type=float, default=0.0,
                   help="weight the MSE of step t by min(max(1/SNR_t, 1), CAP), an x0-space loss at high noise (added; "
                   "0, the original: every t alike). Trains the layout that the high-noise steps decide")
    add_run_flags(p, "outputs/latte_train", "write a sample video every N steps (0: never)")
    p.add_argument(
        "--sample_steps", default="250", help="respaced sampling chain of those videos: '250', 'ddim20', ..."
    )
    return p


def main(argv):
    # 1. config
    args = parse_args(build_parser(), argv)
    from opensora.train.t2v_setup import T2VTraining

    run = T2VTraining(args)  # checks data, builds models, restores state
    if run.rank == 0:
        save_config(args, args.output_path)

    # 2. train
    from opensora.train.loop import train_loop, write_summary

    last, seconds = train_loop(run, args, desc="train")

    # 3. summary
    write_summary(
        run,
        args,
        {
            "steps": run.step,
            "final_loss": last.get("loss"),
            "seconds": round(seconds, 1),
            "skipped_samples": run.dataset.bad_samples,
            "output": args.output_path,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
