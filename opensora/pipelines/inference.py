"""What infer_diffusion.py does, stage by stage, with every input checked before a model is built.

MindSpore, the models and transformers are imported by the stage that needs them (not at the top): a bad flag or
file is reported before those imports, in a fraction of a second."""

import gc
import json
import os
import time

import numpy as np

from ..utils.errors import UserError, make_output_dir
from ..utils.settings import as_settings

VAE_TEMPORAL, VAE_SPATIAL = 4, 8  # the causal VAE 488: 4x time (frame 0 kept), 8x space
PNDM_MIN_STEPS = 4
JIT_COMPILE_TIME = "~5 s on CPU for the demo model, longer for LatteT2V-XL"
DEFAULT_OUTPUT_PATH = "samples"


def make_run_dir(output_path):
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S")
    run_dir, k = os.path.join(output_path, stamp), 1
    while os.path.exists(run_dir):
        run_dir, k = os.path.join(output_path, f"{stamp}-{k}"), k + 1
    make_output_dir(output_path)
    return make_output_dir(run_dir)


class InferenceSetup:
    """Args:
        args: InferenceSettings (opensora.pipelines.inference_flags) or the parsed flags of infer_diffusion.py."""

    def __init__(self, args):
        from .inference_flags import InferenceSettings

        args = as_settings(InferenceSettings, args)
        from ..diffusion.schedulers import SAMPLERS
        from ..utils.config import save_config
        from ..utils.logger import setup_logger
        from ..utils.ms_utils import resolve_dtype
        from .io import read_captions

        self.args = args
        self.dtype = resolve_dtype(args.dtype, args.device_target)
        self.sample_method = "DDIM" if args.ddim_sampling else args.sample_method
        if self.sample_method not in SAMPLERS:
            raise UserError(f"--sample_method {self.sample_method}: choose one of {', '.join(SAMPLERS)}")
        if self.sample_method == "PNDM" and args.sampling_steps < PNDM_MIN_STEPS:
            # the original (diffusers' PNDMScheduler) fails here with a numpy broadcast error
            raise UserError(f"--sampling_steps {args.sampling_steps}: PNDM needs at least {PNDM_MIN_STEPS} (its "
                            "Runge-Kutta warm-up takes 4); raise it or use --sample_method DDIM")
        if args.enable_flash_attention and args.device_target != "Ascend":
            raise UserError("--enable_flash_attention: flash attention runs on Ascend only; drop the flag on CPU")
        if str(args.enable_tiling).lower() not in ("auto", "true", "false", "1", "0"):
            raise UserError(f"--enable_tiling {args.enable_tiling}: expected auto, True or False")
        self.latte_config_path = self._latte_config_path()
        with open(self.latte_config_path) as f:
            self.latte_config = json.load(f)
        self._check_frames_and_size()
        if args.decode_latents:
            if not args.input_latents_dir:
                raise UserError("--decode_latents needs --input_latents_dir (a folder written by --save_latents)")
            if not os.path.isdir(args.input_latents_dir):
                raise UserError(f"--input_latents_dir {args.input_latents_dir}: folder not found (write it with "
                                "--save_latents)")
        else:
            self.cache = load_embed_cache(args.text_embed_cache) if args.text_embed_cache else None
            self.captions = list(self.cache["captions"]) if self.cache else read_captions(args.captions)
            self.checkpoint = args.checkpoint or os.path.join("models", args.model_version, "model.ckpt")
            _require_file(
                self.checkpoint, "--checkpoint", "convert the release with tools/model_conversion/convert_latte.py"
            )
            self.t5_dir = args.t5_model_dir or args.t5_cache_folder
            if self.cache is None:
                from ..models.text_encoder.embedder import require_t5_folder

                require_t5_folder(self.t5_dir, "--t5_model_dir" if args.t5_model_dir else "--t5_cache_folder")
        if not args.save_latents:
            if not os.path.isdir(args.vae_config):
                _require_file(args.vae_config, "--vae_config", "use configs/ae/causal_vae_488.yaml")
                _require_file(
                    args.vae_checkpoint,
                    "--vae_checkpoint",
                    "convert the release with tools/model_conversion/convert_vae.py",
                )
        if args.decode_latents and not args.output_path:  # the videos go beside the latents they come from
            self.run_dir = make_output_dir(args.input_latents_dir, "--input_latents_dir")
            config_name = "decode_config.yaml"  # the first stage's config.yaml stays
        else:
            self.run_dir = make_run_dir(args.output_path or DEFAULT_OUTPUT_PATH)
            config_name = "config.yaml"
        self.logger = setup_logger(self.run_dir)
        save_config(args, self.run_dir, name=config_name)

    # ------------------------------------------------------------------ checks
    def _latte_config_path(self):
        args = self.args
        candidates = (
            [args.model_config]
            if args.model_config
            else [
                os.path.join("models", args.model_version, "config.json"),
                os.path.join("configs", "diffusion", "model", f"latte_t2v_{args.model_version}.json"),
            ]
        )
        for path in candidates:
            if os.path.isfile(path):
                return path
        raise UserError(
            f"--model_config: none of {', '.join(candidates)} exists (the LatteT2V config.json of the release)"
        )

    def _check_frames_and_size(self):
        cfg, args = self.latte_config, self.args
        sample = cfg["sample_size"] if isinstance(cfg["sample_size"], list) else [cfg["sample_size"]] * 2
        self.latent_hw = tuple(sample)
        self.latent_frames = cfg["video_length"]
        frames = (self.latent_frames - 1) * VAE_TEMPORAL + 1
        if args.num_frames and args.num_frames != frames:
            raise UserError(
                f"--num_frames {args.num_frames}: the checkpoint ({self.latte_config_path}) generates "
                f"{frames} frames (video_length {self.latent_frames}); use --num_frames {frames} or "
                "another checkpoint"
            )
        size = sample[0] * VAE_SPATIAL
        if args.image_size and args.image_size != size:
            raise UserError(
                f"--image_size {args.image_size}: the checkpoint ({self.latte_config_path}) generates "
                f"{size}x{sample[1] * VAE_SPATIAL} frames (sample_size {sample}); use --image_size {size}"
            )
        self.num_frames, self.image_size = frames, size

    # ------------------------------------------------------------------ stages
    def _pipeline(self, text_encoder=None, vae=None, transformer=None, scheduler=None):
        from .pipeline_videogen import VideoGenPipeline

        return VideoGenPipeline(text_encoder, vae, transformer, scheduler, scale_factor=self.args.sd_scale_factor)

    def encode_prompts(self):
        """[(prompts of a batch, prompt_embeds, negative_embeds)], then the T5 is freed."""
        from ..models.text_encoder import T5Embedder

        args = self.args
        if self.cache is None:
            embedder = T5Embedder(
                self.t5_dir, args.t5_max_length, self.dtype, use_clean_caption=False, logger=self.logger
            )
        else:
            embedder = None
            self.logger.info(f"text embeddings from {args.text_embed_cache} (no T5 run)")
        pipe = self._pipeline(text_encoder=embedder)
        cfg = args.guidance_scale > 1.0
        out = []
        for i in range(0, len(self.captions), args.batch_size):
            batch = self.captions[i : i + args.batch_size]
            if self.cache is None:
                pe, ne = pipe.encode_prompt(
                    batch, args.negative_prompt, args.num_videos_per_prompt, do_classifier_free_guidance=cfg
                )
            else:
                c = self.cache
                pe, ne = pipe.encode_prompt(
                    None,
                    num_images_per_prompt=args.num_videos_per_prompt,
                    prompt_embeds=c["text_emb"][i : i + len(batch)],
                    prompt_mask=c["mask"][i : i + len(batch)].astype(np.int32),
                    negative_prompt_embeds=c["negative_text_emb"],
                    do_classifier_free_guidance=cfg,
                )
            out.append((batch, pe, ne))
        del embedder, pipe
        gc.collect()
        return out

    def denoise(self, embeds):
        """-> (names, captions, latents (N, 4, T', h, w)); the transformer is freed afterwards."""
        from ..diffusion.schedulers import SAMPLERS
        from ..models.diffusion.latte import LatteT2V
        from ..utils.amp import apply_precision
        from .io import safe_name

        args = self.args
        latte = LatteT2V(self.latte_config)
        latte.load_checkpoint(self.checkpoint, logger=self.logger)
        latte.set_train(False)
        apply_precision(latte, self.dtype)
        if args.enable_flash_attention:
            latte.enable_flash_attention()
        if args.jit:  # one graph for the whole forward; shapes are fixed for a run, so it compiles once
            import mindspore as ms

            latte.construct = ms.jit(latte.construct)
            self.logger.info(f"compiling the LatteT2V forward graph (--jit; first step; {JIT_COMPILE_TIME})")
        pipe = self._pipeline(transformer=latte, scheduler=SAMPLERS[self.sample_method]())
        pipe.scheduler.set_timesteps(args.sampling_steps)
        self.logger.info(f"sampler {pipe.scheduler.describe_calls(args.sampling_steps)} per batch")
        names, captions, latents = [], [], []
        for b, (batch, pe, ne) in enumerate(embeds):
            rng = np.random.default_rng(args.seed + b)  # one stream per batch: a prompt's video depends on its batch
            start = pipe.prepare_latents(pe.shape[0], self.latent_frames, self.latent_hw, rng)
            out = pipe.denoise(pe, ne, start, args.sampling_steps, args.guidance_scale, rng=rng)
            for j, lat in enumerate(out):
                caption = batch[j // args.num_videos_per_prompt]
                names.append(safe_name(len(names), caption))
                captions.append(caption)
                latents.append(lat)
        del latte, pipe
        gc.collect()
        return names, captions, np.stack(latents)

    def decode_and_save(self, names, latents):
        from ..dataset.video_io import write_video
        from ..models.ae import CausalVAEModel
        from ..utils.amp import apply_precision

        args = self.args
        vae = CausalVAEModel.from_pretrained(
            args.vae_config, checkpoint=args.vae_checkpoint or None, logger=self.logger
        )
        vae.set_train(False)
        apply_precision(vae, self.dtype)
        tiling = str(args.enable_tiling).lower()
        if tiling in ("true", "1") or (tiling == "auto" and latents.shape[-1] * VAE_SPATIAL > 256):
            vae.enable_tiling()
            vae.tile_overlap_factor = args.tile_overlap_factor
            self.logger.info(f"VAE tiling on (overlap {args.tile_overlap_factor})")
        pipe = self._pipeline(vae=vae)
        paths = []
        for name, lat in zip(names, latents):
            video = pipe.decode_latents(lat[None])[0]  # (T, H, W, 3) uint8
            paths.append(write_video(os.path.join(self.run_dir, f"{name}.{args.save_format}"), video, fps=args.fps))
        return paths


def load_embed_cache(path):
    """The npz of `infer_t5.py --captions`: captions, text_emb (N, L, D), mask (N, L), negative_text_emb (1, L, D)."""
    _require_file(path, "--text_embed_cache", "write it with infer_t5.py --captions ... --output_path X.npz")
    data = np.load(path)
    missing = [k for k in ("captions", "text_emb", "mask", "negative_text_emb") if k not in data.files]
    if missing:
        raise UserError(
            f"--text_embed_cache {path}: missing {', '.join(missing)}; re-create it with infer_t5.py --captions"
        )
    return {k: data[k] for k in data.files}


def _require_file(path, flag, fix):
    if not path or not os.path.isfile(path):
        raise UserError(f"{flag} {path!r}: file not found; {fix}")
