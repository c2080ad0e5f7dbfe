"""What infer_diffusion.py does, stage by stage, with every input checked before a model is built.

MindSpore, the models and transformers are imported by the stage that needs them (not at the top): a bad flag or
file is reported before those imports, in a fraction of a second."""

import gc
import json
import os
import time

import numpy as np

from ..models.diffusion.families import check_parts_fit
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
        args: InferenceSettings (opensora.pipelines.inference_flags) or the parsed flags of infer_diffusion.py.
        frames_optional: an image-to-video model may come without --conditional_pixel_values_path (the web UI
            checks its config before any frame is uploaded).
        rank, world_size: this process among msrun's workers (--use_parallel); only rank 0 writes files."""

    def __init__(self, args, frames_optional=False, rank=0, world_size=1):
        from .inference_flags import InferenceSettings

        args = as_settings(InferenceSettings, args)
        from ..diffusion.schedulers import SAMPLERS
        from ..utils.config import save_config
        from ..utils.logger import setup_logger
        from ..utils.ms_utils import resolve_dtype
        from .io import read_captions

        self.args = args
        self.frames_optional = frames_optional
        self.rank, self.world_size = rank, world_size
        self.warnings = []  # said once the run's log exists
        self.dtype = resolve_dtype(args.dtype, args.device_target)
        self.sample_method = "DDIM" if args.ddim_sampling else args.sample_method
        if self.sample_method not in SAMPLERS:
            raise UserError(f"--sample_method {self.sample_method}: choose one of {', '.join(SAMPLERS)}")
        self.latte_config_path = self._latte_config_path()
        self.latte_config = _read_json(self.latte_config_path, "--model_config")
        from ..models.diffusion.families import family_of_config, is_inpaint, is_v1_3

        self.model_class = family_of_config(self.latte_config, self.latte_config_path)
        self.v1_3, self.inpaint = is_v1_3(self.model_class), is_inpaint(self.model_class)
        self.stage_vae = None  # image-to-video: the VAE its denoising stage loads, kept for decoding
        self.make_scheduler = self._scheduler_factory()
        self.prompt_template, self.negative_prompt = self._prompt_strings()
        if self.sample_method == "PNDM" and args.sampling_steps < PNDM_MIN_STEPS:
            # the original (diffusers' PNDMScheduler) fails here with a numpy broadcast error
            raise UserError(f"--sampling_steps {args.sampling_steps}: PNDM needs at least {PNDM_MIN_STEPS} (its "
                            "Runge-Kutta warm-up takes 4); raise it or use --sample_method DDIM")
        if args.enable_flash_attention and args.device_target != "Ascend":
            raise UserError("--enable_flash_attention: flash attention runs on Ascend only; drop the flag on CPU")
        if str(args.enable_tiling).lower() not in ("auto", "true", "false", "1", "0"):
            raise UserError(f"--enable_tiling {args.enable_tiling}: expected auto, True or False")
        self._check_frames_and_size()
        self._check_sequence_parallel()
        if args.decode_latents:
            if not args.input_latents_dir:
                raise UserError("--decode_latents needs --input_latents_dir (a folder written by --save_latents)")
            if not os.path.isdir(args.input_latents_dir):
                raise UserError(f"--input_latents_dir {args.input_latents_dir}: folder not found (write it with "
                                "--save_latents)")
        else:
            if args.text_embed_cache and self.v1_3:
                raise UserError(f"--text_embed_cache {args.text_embed_cache}: v1.3 models encode each prompt in its "
                                "--prompt_template with the masks kept; drop the flag (the mT5 stage runs)")
            self.cache = load_embed_cache(args.text_embed_cache) if args.text_embed_cache else None
            self.captions = list(self.cache["captions"]) if self.cache else read_captions(args.captions)
            self.conditions = self._read_conditions()
            self.checkpoint = args.checkpoint or os.path.join("models", args.model_version, "model.ckpt")
            _require_file(
                self.checkpoint, "--checkpoint", "convert the release with tools/model_conversion/convert_latte.py"
            )
            self.t5_dir = args.t5_model_dir or args.t5_cache_folder
            if self.cache is None:
                from ..models.text_encoder.embedder import require_t5_folder

                flag = "--t5_model_dir" if args.t5_model_dir else "--t5_cache_folder"
                require_t5_folder(self.t5_dir, flag)
                width = _read_json(os.path.join(self.t5_dir, "config.json"), flag).get("d_model")
                check_parts_fit(self.latte_config, self.latte_config_path, text_width=width,
                                text_source=f"{flag} {self.t5_dir}")
            else:
                check_parts_fit(self.latte_config, self.latte_config_path, text_width=self.cache["text_emb"].shape[-1],
                                text_source=f"--text_embed_cache {args.text_embed_cache}")
        if not args.save_latents:
            if not os.path.isdir(args.vae_config):
                _require_file(args.vae_config, "--vae_config", "use configs/ae/causal_vae_488.yaml (v1.0) or "
                              "configs/ae/wfvae_d8_4x8x8.json (v1.3)")
                _require_file(
                    args.vae_checkpoint,
                    "--vae_checkpoint",
                    "convert the release with tools/model_conversion/convert_vae.py",
                )
        if not args.save_latents:
            check_parts_fit(self.latte_config, self.latte_config_path, vae_config=args.vae_config)
        if rank != 0:  # the other workers compute their share and write nothing
            self.run_dir, self.logger = None, setup_logger(None, rank=rank)
            return
        if args.decode_latents and not args.output_path:  # the videos go beside the latents they come from
            self.run_dir = make_output_dir(args.input_latents_dir, "--input_latents_dir")
            config_name = "decode_config.yaml"  # the first stage's config.yaml stays
        else:
            self.run_dir = make_run_dir(args.output_path or DEFAULT_OUTPUT_PATH)
            config_name = "config.yaml"
        self.logger = setup_logger(self.run_dir)
        for warning in self.warnings:
            self.logger.warning(warning)
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
            f"--model_config: none of {', '.join(candidates)} exists (the release's config.json: LatteT2V, "
            "OpenSoraT2V_v1_3 or OpenSoraInpaint_v1_3)"
        )

    def _read_conditions(self):
        """The inpaint model's given frames per prompt, read and resized now (a bad file is named before any model
        is built): [(frames, mask type, indices)], or None for a text-to-video model."""
        args = self.args
        paths = list(args.conditional_pixel_values_path)
        if not self.inpaint:
            for flag, value in (("--conditional_pixel_values_path", paths), ("--mask_type", args.mask_type)):
                if value:
                    raise UserError(f"{flag}: for OpenSoraInpaint_v1_3 models; {self.latte_config_path} is a "
                                    f"{self.model_class.__name__} (text-to-video)")
            return None
        from .pipeline_inpaint import load_conditions

        if not paths and self.frames_optional:
            return None
        if not paths:
            raise UserError(f"--conditional_pixel_values_path: {self.latte_config_path} is an image-to-video model; "
                            "give the frame(s) to start from (an image, two images, or a video)")
        if len(paths) == 1 and paths[0].endswith(".txt"):  # the sample script's list: one line per prompt
            if not os.path.isfile(paths[0]):
                raise UserError(f"--conditional_pixel_values_path {paths[0]}: file not found")
            per_prompt = [line.strip().split(",") for line in open(paths[0]) if line.strip()]
        else:
            per_prompt = [paths] * len(self.captions)
        if len(per_prompt) != len(self.captions):
            raise UserError(f"--conditional_pixel_values_path {paths[0]}: {len(per_prompt)} lines for "
                            f"{len(self.captions)} prompts (one comma-separated list of frames per prompt)")
        if args.batch_size != 1:
            raise UserError(f"--batch_size {args.batch_size}: image-to-video runs one prompt at a time (its own "
                            "frames), as the original; use --batch_size 1")
        return [load_conditions([p.strip() for p in row], args.mask_type or None, None, self.num_frames,
                                self.height, self.width, args.crop_for_hw, args.max_hxw) for row in per_prompt]

    def _scheduler_factory(self):
        """A function building the run's sampler: v1.0 the diffusers defaults (sample_t2v.py), v1.3 get_scheduler's
        options (sample_utils.py); an option this port does not implement is one line naming the flags."""
        from ..diffusion.schedulers import SAMPLERS, create_v1_3_scheduler

        args = self.args
        if args.guidance_scale <= 1.0:
            self.warnings.append(f"--guidance_scale {args.guidance_scale}: <= 1 turns classifier-free guidance off "
                                 "(one model call per step, no negative prompt)")
        if args.guidance_rescale < 0:
            raise UserError(f"--guidance_rescale {args.guidance_rescale}: must be >= 0 (0 turns it off)")
        if not self.v1_3:
            for flag, value, default in (("--prediction_type", args.prediction_type, "epsilon"),
                                         ("--rescale_betas_zero_snr", args.rescale_betas_zero_snr, False),
                                         ("--guidance_rescale", args.guidance_rescale, 0.0)):
                if value != default:
                    raise UserError(f"{flag} {value}: for v1.3 models; {self.latte_config_path} is a LatteT2V "
                                    "(v1.0 samples as sample_t2v.py: epsilon, default betas, no rescale)")
            return SAMPLERS[self.sample_method]

        def make():
            return create_v1_3_scheduler(self.sample_method, args.prediction_type, args.rescale_betas_zero_snr)

        try:
            make()
        except ValueError as err:
            raise UserError(f"--sample_method {self.sample_method} --prediction_type {args.prediction_type} "
                            f"--rescale_betas_zero_snr {args.rescale_betas_zero_snr}: {err}") from err
        return make

    def _prompt_strings(self):
        """(template, negative prompt): 'auto' is what the family's original sample script uses."""
        from .pipeline_opensora import NEGATIVE_PROMPT, POSITIVE_PROMPT_TEMPLATE

        args = self.args
        template = args.prompt_template
        if template == "auto":
            template = POSITIVE_PROMPT_TEMPLATE if self.v1_3 else "{}"
        if template.count("{}") != 1:
            raise UserError(f"--prompt_template {args.prompt_template!r}: needs exactly one {{}} where the prompt goes")
        negative = args.negative_prompt
        if negative == "auto":
            negative = NEGATIVE_PROMPT if self.v1_3 else ""
        return template, negative

    def _check_frames_and_size(self):
        if self.v1_3:
            return self._check_v1_3_frames_and_size()
        cfg, args = self.latte_config, self.args
        for flag in ("--height", "--width"):
            if getattr(args, flag[2:]):
                raise UserError(f"{flag} {getattr(args, flag[2:])}: for v1.3 models; a LatteT2V generates square "
                                "frames of its checkpoint's size (--image_size)")
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
        self.height = self.width = size

    def _check_sequence_parallel(self):
        args = self.args
        if args.sp_size == 1:
            return
        if not args.use_parallel:
            raise UserError(f"--sp_size {args.sp_size}: needs several ranks: launch with msrun and --use_parallel True "
                            "(scripts/launch.sh, docs/distributed.md)")
        if not self.v1_3:
            raise UserError(f"--sp_size {args.sp_size}: sequence parallel is for OpenSoraT2V v1.3 models (the "
                            "original's LatteT2V of v1.0.0 has none)")
        if args.decode_latents:
            raise UserError(f"--sp_size {args.sp_size} with --decode_latents: decoding has no transformer to split; "
                            "run it on one device")
        from ..parallel.sequence import check_model_split

        if self.world_size != args.sp_size:
            raise UserError(f"--sp_size {args.sp_size}: sampling splits one video over every rank; launch "
                            f"{args.sp_size} workers (msrun --worker_num={args.sp_size}), not {self.world_size}")
        check_model_split(args.sp_size, self.num_frames, self.latent_frames,
                          self.latte_config.get("num_attention_heads", 0))

    def _check_v1_3_frames_and_size(self):
        """Any 4n+1 frames and any multiple of 16 pixels (8x the VAE, then 2x2 patches): the original checks 4n+1 and
        8, and fails later inside the model on a size that is not a multiple of 16."""
        cfg, args = self.latte_config, self.args
        stride = VAE_SPATIAL * cfg["patch_size"]
        frames = args.num_frames or (int(cfg["sample_size_t"]) - 1) * VAE_TEMPORAL + 1
        height = args.height or args.image_size or _first(cfg["sample_size_h"]) * VAE_SPATIAL
        width = args.width or args.image_size or _last(cfg["sample_size_w"]) * VAE_SPATIAL
        if (frames - 1) % VAE_TEMPORAL:
            low = (frames - 1) // VAE_TEMPORAL * VAE_TEMPORAL + 1
            raise UserError(f"--num_frames {frames}: must be 4n+1 (the WF-VAE's 4x time compression keeps frame 0); "
                            f"use {low} or {low + VAE_TEMPORAL}")
        for flag, value in (("--height", height), ("--width", width)):
            if value % stride:
                low = max(stride, value // stride * stride)
                raise UserError(f"{flag} {value}: must be a multiple of {stride} (8x VAE, then {cfg['patch_size']}x"
                                f"{cfg['patch_size']} patches); use {low} or {low + stride}")
        if height % 32 or width % 32:
            self.warnings.append(f"{height}x{width}: the v1.3 model was trained on sizes that are multiples of 32 "
                                 "(--hw_stride 32); other sizes run but were not trained")
        self.num_frames, self.height, self.width = frames, height, width
        self.image_size = height
        self.latent_frames = (frames - 1) // VAE_TEMPORAL + 1
        self.latent_hw = (height // VAE_SPATIAL, width // VAE_SPATIAL)

    # ------------------------------------------------------------------ stages
    def _pipeline(self, text_encoder=None, vae=None, transformer=None, scheduler=None):
        from .pipeline_videogen import VideoGenPipeline

        return VideoGenPipeline(text_encoder, vae, transformer, scheduler, scale_factor=self.args.sd_scale_factor)

    def load_text_encoder(self):
        from ..models.text_encoder import T5Embedder

        return T5Embedder(self.t5_dir, self.args.t5_max_length, self.dtype, use_clean_caption=False,
                          logger=self.logger)

    def encode_prompts(self, embedder=None):
        """[(prompts of a batch, text tensors of the batch)]; the text encoder is loaded and freed unless one is
        given (a server keeps its own). The tensors: v1.0 (prompt_embeds, negative_embeds) as VideoGenPipeline
        builds them; v1.3 (embeds, mask, negative, negative mask) as OpenSoraPipeline builds them."""
        args = self.args
        if self.cache is None:
            embedder = embedder or self.load_text_encoder()
        else:
            embedder = None
            self.logger.info(f"text embeddings from {args.text_embed_cache} (no T5 run)")
        cfg = args.guidance_scale > 1.0
        out = []
        for i in range(0, len(self.captions), args.batch_size):
            batch = self.captions[i : i + args.batch_size]
            if self.v1_3:
                from .pipeline_opensora import OpenSoraPipeline

                pipe = OpenSoraPipeline(embedder, None, None, None)
                texts = [self.prompt_template.format(caption) for caption in batch]
                out.append((batch, pipe.encode_prompt(texts, self.negative_prompt, args.num_videos_per_prompt, cfg,
                                                      args.max_sequence_length)))
                continue
            pipe = self._pipeline(text_encoder=embedder)
            if self.cache is None:
                texts = [self.prompt_template.format(caption) for caption in batch]
                pe, ne = pipe.encode_prompt(
                    texts, self.negative_prompt, args.num_videos_per_prompt, do_classifier_free_guidance=cfg
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
            out.append((batch, (pe, ne)))
        del embedder
        gc.collect()
        return out

    def load_transformer(self):
        from ..utils.amp import apply_precision

        args = self.args
        model = self.model_class(self.latte_config)
        model.load_checkpoint(self.checkpoint, logger=self.logger)
        model.set_train(False)
        apply_precision(model, self.dtype)
        if args.enable_flash_attention:
            model.enable_flash_attention()
        if args.sp_size > 1:  # every rank runs its frames; the output is whole on every rank
            from ..parallel.sequence import sequence_parallel

            model.enable_sequence_parallel(sequence_parallel(args.sp_size, self.rank, self.world_size),
                                           gather_output=True)
        if args.jit:  # one graph for the whole forward; shapes are fixed for a run, so it compiles once
            import mindspore as ms

            model.construct = ms.jit(model.construct)
            self.logger.info(f"compiling the {self.model_class.__name__} forward graph (--jit; first step; "
                             f"{JIT_COMPILE_TIME})")
        return model

    def denoise(self, embeds, model=None, on_step=None, vae=None):
        """-> (names, captions, latents (N, C, T', h, w); a list when image-to-video sizes differ); the transformer
        is loaded and freed unless one is given. `on_step(done, total)` counts model calls over the whole run (a
        progress display). Image-to-video encodes its given frames with the VAE here (kept for decoding)."""
        from .io import safe_name

        args = self.args
        model = model or self.load_transformer()
        scheduler = self.make_scheduler()
        if self.inpaint:
            import random

            from .pipeline_inpaint import OpenSoraInpaintPipeline

            self.stage_vae = vae or self.stage_vae or self.load_vae()
            pipe = OpenSoraInpaintPipeline(None, self.stage_vae, model, scheduler)
        elif self.v1_3:
            from .pipeline_opensora import OpenSoraPipeline

            pipe = OpenSoraPipeline(None, None, model, scheduler)
        else:
            pipe = self._pipeline(transformer=model, scheduler=scheduler)
        pipe.scheduler.set_timesteps(args.sampling_steps)
        self.logger.info(f"sampler {pipe.scheduler.describe_calls(args.sampling_steps)} per batch")
        total = len(pipe.scheduler.timesteps) * len(embeds)
        names, captions, latents = [], [], []
        for b, (batch, text) in enumerate(embeds):
            rng = np.random.default_rng(args.seed + b)  # one stream per batch: a prompt's video depends on its batch
            pipe.scheduler.set_timesteps(args.sampling_steps)  # init_noise_sigma is the sampling schedule's
            calls = len(pipe.scheduler.timesteps)
            callback = None if on_step is None else (lambda i, *_, done=b * calls: on_step(done + i + 1, total))
            if self.inpaint:  # one prompt a batch; its own frames; the latents at their (resized) size
                frames, mask_type, indices = self.conditions[b]
                start = pipe.prepare_latents(text[0].shape[0], self.num_frames, *frames.shape[1:3], rng)
                condition = pipe.condition_input(frames, mask_type, indices, self.num_frames, text[0].shape[0],
                                                 args.guidance_scale > 1.0, rng, random.Random(args.seed + b))
                out = pipe.denoise(*text, start, args.sampling_steps, args.guidance_scale, args.guidance_rescale,
                                   rng=rng, callback=callback, condition=condition)
            elif self.v1_3:
                start = pipe.prepare_latents(text[0].shape[0], self.num_frames, self.height, self.width, rng)
                out = pipe.denoise(*text, start, args.sampling_steps, args.guidance_scale, args.guidance_rescale,
                                   rng=rng, callback=callback)
            else:
                start = pipe.prepare_latents(text[0].shape[0], self.latent_frames, self.latent_hw, rng)
                out = pipe.denoise(*text, start, args.sampling_steps, args.guidance_scale, rng=rng,
                                   callback=callback)
            for j, lat in enumerate(out):
                caption = batch[j // args.num_videos_per_prompt]
                names.append(safe_name(len(names), caption))
                captions.append(caption)
                latents.append(lat)
        del model, pipe
        gc.collect()
        same_shape = len({lat.shape for lat in latents}) == 1
        return names, captions, np.stack(latents) if same_shape else latents

    def load_vae(self, latent_width=None):
        """The autoencoder, tiled as --enable_tiling says (auto: the causal VAE above 256 px, as v1.0's configs;
        the WF-VAE decodes whole, the v1.3 default)."""
        from ..models.ae import load_autoencoder
        from ..utils.amp import apply_precision

        args = self.args
        vae = load_autoencoder(args.vae_config, checkpoint=args.vae_checkpoint or None, logger=self.logger)
        vae.set_train(False)
        apply_precision(vae, self.dtype)
        is_wfvae = hasattr(vae, "denormalize_latents")
        tiling = str(args.enable_tiling).lower()
        width = (latent_width or self.latent_hw[1]) * VAE_SPATIAL
        if tiling in ("true", "1") or (tiling == "auto" and not is_wfvae and width > 256):
            vae.enable_tiling()
            if not is_wfvae:
                vae.tile_overlap_factor = args.tile_overlap_factor
            self.logger.info("VAE tiling on" + ("" if is_wfvae else f" (overlap {args.tile_overlap_factor})"))
        return vae

    def decode_and_save(self, names, latents, vae=None):
        """Decode and write one video per latent; the autoencoder is loaded unless one is given."""
        from ..dataset.video_io import write_video

        args = self.args
        vae = vae or self.stage_vae or self.load_vae(latents[0].shape[-1])
        is_wfvae = hasattr(vae, "denormalize_latents")
        if self.v1_3 or is_wfvae:
            from .pipeline_opensora import OpenSoraPipeline

            pipe = OpenSoraPipeline(None, vae, None, None, scale_factor=args.sd_scale_factor)
        else:
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


def _first(value):
    """sample_size_h as the original's training code writes it: an int, or the (h, w) latent size."""
    return int(value[0] if isinstance(value, (list, tuple)) else value)


def _last(value):
    return int(value[-1] if isinstance(value, (list, tuple)) else value)


def _read_json(path, flag):
    try:
        with open(path) as f:
            config = json.load(f)
    except ValueError as err:
        raise UserError(f"{flag} {path}: not valid JSON ({str(err)[:120]})") from err
    if not isinstance(config, dict):
        raise UserError(f"{flag} {path}: expected a JSON object of config keys")
    return config


def _require_file(path, flag, fix):
    if not path or not os.path.isfile(path):
        raise UserError(f"{flag} {path!r}: file not found; {fix}")
