"""The flags of infer_diffusion.py, defined once: the parser the script uses and InferenceSettings, the typed
settings InferenceSetup takes (opensora.utils.settings)."""

import argparse

from ..utils.config import HelpFormatter, add_bool_flag, add_common_flags, non_negative_int, positive_int, seed_int
from ..utils.settings import settings_class


def build_inference_parser(description=""):
    p = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    add_common_flags(p)
    p.add_argument("--model_version", default="17x256x256", help="folder under models/ with config.json + model.ckpt")
    p.add_argument(
        "--model_config", default="", help="LatteT2V config.json (default: models/<model_version>/config.json)"
    )
    p.add_argument("--checkpoint", default="", help="Latte weights (default: models/<model_version>/model.ckpt)")
    p.add_argument("--vae_config", default="configs/ae/causal_vae_488.yaml", help="VAE YAML/config.json or folder")
    p.add_argument(
        "--vae_checkpoint",
        default="models/ae/causal_vae_488.ckpt",
        help="VAE weights (tools/model_conversion/convert_vae.py)",
    )
    p.add_argument("--t5_model_dir", default="", help="Hugging Face T5 folder (tokenizer + weights)")
    p.add_argument(
        "--t5_cache_folder", default="models/t5-v1_1-xxl", help="the original port's name for --t5_model_dir"
    )
    p.add_argument("--t5_max_length", type=positive_int, default=300,
                   help="prompt tokens (the original pipeline uses 300)")
    p.add_argument(
        "--text_embed_cache",
        default="",
        help="npz from `infer_t5.py --captions ... --output_path X.npz`: "
        "its prompts and embeddings replace --captions and the T5 stage",
    )
    p.add_argument("--condition", default="text", choices=["text"], help="conditioning (text only, as the original)")
    p.add_argument("--text_encoder", default="t5", choices=["t5"], help="text encoder (T5 v1.1)")
    p.add_argument("--clip_checkpoint", default="", help="unused (kept for the original configs)")
    p.add_argument("--captions", nargs="+", default=["a sunset over the sea"], help="prompts, or one .txt file")
    p.add_argument(
        "--negative_prompt", default="auto",
        help="prompt guided away from; auto: v1.0 models the empty prompt, v1.3 models the v1.3 sample script's "
        "(nsfw, lowres, bad anatomy, ...), as the originals"
    )
    p.add_argument(
        "--prompt_template", default="auto",
        help="each prompt is put into this at {}; auto: v1.0 models none, v1.3 models the sample script's "
        "'high quality, high aesthetic, {}' wrapper (with its newlines)"
    )
    p.add_argument(
        "--num_frames", type=non_negative_int, default=0,
        help="frames to generate; must match the checkpoint (0: from it)"
    )
    p.add_argument(
        "--image_size", type=non_negative_int, default=0,
        help="frame size in pixels; must match the checkpoint (0: from it); v1.3: height = width = this"
    )
    p.add_argument("--height", type=non_negative_int, default=0,
                   help="v1.3 models: frame height in pixels, a multiple of 16 (0: the config's)")
    p.add_argument("--width", type=non_negative_int, default=0,
                   help="v1.3 models: frame width in pixels, a multiple of 16 (0: the config's)")
    p.add_argument("--max_sequence_length", type=positive_int, default=512,
                   help="v1.3 models: prompt tokens, padded (the original's 512); v1.0 uses --t5_max_length")
    p.add_argument("--guidance_rescale", type=float, default=0.0,
                   help="v1.3 models: rescale the guided prediction's std towards the text one's (0: off, as the "
                   "sample script; Lin et al. 2023 suggest 0.7)")
    p.add_argument("--prediction_type", default="epsilon", choices=["epsilon", "v_prediction"],
                   help="v1.3 models: what the model predicts (the release: v_prediction)")
    p.add_argument("--conditional_pixel_values_path", nargs="+", default=[],
                   help="v1.3 inpaint models: the given frames -- one image (image-to-video), two (a transition), "
                   "one video (continuation); or a .txt with one comma-separated list per prompt")
    p.add_argument("--mask_type", default="", help="v1.3 inpaint models: t2iv, i2v, transition, continuation, clear, "
                   "random_temporal ('': from the conditions, as the original)")
    add_bool_flag(p, "--crop_for_hw", False, "v1.3 inpaint models: centre-crop the conditions to --height x --width "
                  "(the release's sample command); else resize them to --max_hxw pixels, cropped to multiples of 32")
    p.add_argument("--max_hxw", type=positive_int, default=236544,
                   help="v1.3 inpaint models without --crop_for_hw: most pixels of a condition (480 x 480)")
    add_bool_flag(p, "--rescale_betas_zero_snr", False,
                  "v1.3 models: zero-terminal-SNR betas and 'trailing' timesteps (the release: True)")
    p.add_argument("--sd_scale_factor", type=float, default=0.18215, help="latents = VAE sample x this")
    p.add_argument(
        "--sample_method", default="PNDM", help="PNDM, DDIM, DDPM, EulerDiscrete, ... (see README)"
    )
    add_bool_flag(p, "--ddim_sampling", False, "compatibility: same as --sample_method DDIM")
    p.add_argument("--sampling_steps", type=positive_int, default=50,
                   help="sampler steps (PNDM adds warm-up model calls)")
    p.add_argument(
        "--guidance_scale", type=float, default=7.5, help="classifier-free guidance; <= 1 turns guidance off"
    )
    p.add_argument("--seed", type=seed_int, default=42, help="seed of the initial noise (one stream per batch)")
    p.add_argument("--num_videos_per_prompt", type=positive_int, default=1, help="videos generated for each prompt")
    p.add_argument("--batch_size", type=positive_int, default=1, help="prompts per denoising batch")
    p.add_argument("--dtype", default="fp32", help="fp32 | fp16 (norms/softmax fp32) | bf16 (not on CPU)")
    p.add_argument("--amp_level", default="O2", help="accepted for compatibility; precision is set by --dtype")
    add_bool_flag(p, "--enable_flash_attention", False, "Ascend only")
    add_bool_flag(
        p,
        "--jit",
        False,
        "compile the LatteT2V forward as one MindSpore graph: 2.2-2.6x faster on CPU for "
        "LatteT2V-XL, ~3x the peak memory (docs/performance.md)",
    )
    p.add_argument("--enable_tiling", type=str, default="auto", help="VAE tiling: auto (on above 256 px), True, False")
    p.add_argument("--tile_overlap_factor", type=float, default=0.25, help="overlap of neighbouring VAE tiles")
    add_bool_flag(p, "--save_latents", False, "stop after denoising and save latents as .npy (stage 1 of 2)")
    add_bool_flag(p, "--decode_latents", False, "decode the .npy latents of --input_latents_dir (stage 2 of 2)")
    p.add_argument("--input_latents_dir", default="", help="with --decode_latents: the folder --save_latents wrote")
    p.add_argument("--output_path", default="", help="a time-stamped run folder is created inside (empty: "
                   "samples/); --decode_latents without this flag writes into --input_latents_dir")
    p.add_argument("--fps", type=positive_int, default=8, help="frame rate of the written videos")
    p.add_argument("--save_format", default="mp4", choices=["mp4", "gif"], help="video format")
    add_bool_flag(p, "--use_parallel", False, "run on msrun's workers (with --sp_size; rank 0 writes the videos)")
    p.add_argument("--sp_size", type=positive_int, default=1,
                   help="v1.3 models with --use_parallel: split the latent frames over this many ranks (sequence "
                   "parallel, the original's --sp_size; the same videos as one device; 1: off)")
    return p


InferenceSettings = settings_class("InferenceSettings", build_inference_parser(),
                                   "The flags of infer_diffusion.py as typed fields (python infer_diffusion.py -h).")
