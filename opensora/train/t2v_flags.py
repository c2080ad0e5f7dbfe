"""The flags of train_diffusion.py, defined once: the parser the script uses and T2VTrainSettings, the typed
settings T2VTraining takes (opensora.utils.settings)."""

import argparse

from ..utils.config import (
    HelpFormatter,
    add_bool_flag,
    add_common_flags,
    add_optimization_flags,
    add_run_flags,
    non_negative_int,
    positive_int,
)
from ..utils.settings import settings_class


def build_t2v_train_parser(description=""):
    p = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
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
    p.add_argument("--num_frames", type=positive_int, default=17, help="frames per training clip (4k+1)")
    p.add_argument("--frame_stride", type=positive_int, default=1, help="take every Nth frame of the source video")
    p.add_argument("--image_size", type=positive_int, default=256, help="frame size in pixels (square crop)")
    p.add_argument("--max_height", type=non_negative_int, default=0,
                   help="v1.3 models: frame height in pixels, a multiple of 16 (0: --image_size)")
    p.add_argument("--max_width", type=non_negative_int, default=0,
                   help="v1.3 models: frame width in pixels, a multiple of 16 (0: --image_size)")
    p.add_argument("--drop_short_ratio", type=float, default=1.0,
                   help="v1.3 models: drop a video shorter than --num_frames with this probability, else train it at "
                   "the longest 4n+1 >= 29 frames it has (the original's; 1: every clip --num_frames long)")
    add_bool_flag(p, "--group_data", False, "v1.3 models: every global batch of one duration (needed with "
                  "--drop_short_ratio < 1 and --batch_size > 1, as the original's sampler)")
    p.add_argument("--use_image_num", type=non_negative_int, default=0,
                   help="images per video for joint image-video training")
    # model
    p.add_argument("--model_version", default="LatteT2V-XL/122",
                   help="model when no --model_config is given: LatteT2V-XL/122 or OpenSoraT2V_v1_3-2B/122")
    p.add_argument("--model_config", default="", help="LatteT2V or OpenSoraT2V_v1_3 config.json (default: "
                   "--model_version derived from the frame size and --num_frames)")
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
    # v1.3 objective (train_t2v_diffusers.py's flags)
    p.add_argument("--prediction_type", default="epsilon", choices=["epsilon", "v_prediction"],
                   help="v1.3 models: what the model learns to predict (the release: v_prediction)")
    add_bool_flag(p, "--rescale_betas_zero_snr", False, "v1.3 models: zero-terminal-SNR betas (the release: True)")
    p.add_argument("--snr_gamma", type=float, default=0.0,
                   help="v1.3 models: min-SNR loss weighting with this gamma (the release: 5.0; 0: off)")
    p.add_argument("--noise_offset", type=float, default=0.0,
                   help="v1.3 models: add this x N(0, 1) per sample and channel to the noise (0: off)")
    p.add_argument("--mask_config", default="", help="v1.3 inpaint models: YAML of the training masks (the "
                   "original's scripts/train_configs/mask_config.yaml; default: random_temporal masks only)")
    # scale-out (docs/distributed.md)
    p.add_argument("--sp_size", type=positive_int, default=1,
                   help="v1.3 models with --use_parallel: split each sample's latent frames over this many ranks "
                   "(sequence parallel, the original's --sp_size; it divides the ranks, the latent frames and the "
                   "attention heads; 1: off)")
    p.add_argument("--zero_stage", type=int, default=0, choices=[0, 1],
                   help="with --use_parallel: 1 shards the AdamW moments over the ranks (ZeRO stage 1; the "
                   "checkpoints stay whole and resume on any number of ranks); 0: every rank holds them")
    # optimisation
    add_optimization_flags(p, end_learning_rate=2e-5)
    p.add_argument("--start_learning_rate", type=float, default=2e-5, help="learning rate (after the warm-up)")
    add_run_flags(p, "outputs/latte_train", "write a sample video every N steps (0: never)")
    p.add_argument(
        "--sample_steps", default="250", help="respaced sampling chain of those videos: '250', 'ddim20', ..."
    )
    return p


T2VTrainSettings = settings_class("T2VTrainSettings", build_t2v_train_parser(),
                                  "The flags of train_diffusion.py as typed fields (see python train_diffusion.py -h).")
