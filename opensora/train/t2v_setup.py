"""Everything train_diffusion.py builds: data, frozen VAE, the denoiser (LatteT2V, or OpenSoraT2V v1.3 with its own
objective), diffusion, optimizer, state and resume."""

import json
import os

import mindspore as ms
import numpy as np

from ..dataset.t2v_dataset import TextVideoDataset
from ..dataset.video_io import write_video
from ..diffusion import create_diffusion
from ..io import load_state_into, net_state
from ..models.ae import load_autoencoder
from ..models.diffusion.families import check_parts_fit, family_of_config, is_inpaint, is_v1_3
from ..pipelines.pipeline_videogen import VideoGenPipeline
from ..utils.amp import apply_precision
from ..utils.config import save_config
from ..utils.errors import UserError, make_output_dir
from ..utils.logger import setup_logger
from ..utils.settings import as_settings
from .checkpoint import load_resume_state, save_training_state
from .diffusion_task import DiffusionTrainingTask
from .distributed import start_training
from .loop import train_loop, write_summary
from .lr_schedule import learning_rate
from .t2v_flags import T2VTrainSettings
from .trainer import restore_trainer, trainer_from_args, trainer_state

VAE_TEMPORAL, VAE_SPATIAL = 4, 8
V1_3_MODEL_VERSION = "OpenSoraT2V_v1_3-2B/122"
V1_3_MODEL_CONFIG = "configs/diffusion/model/opensora_v1_3_any93x640x640.json"
# train_diffusion.py flags of the v1.3 objective, with the value that leaves them off (a LatteT2V run refuses others)
V1_3_FLAGS = (("prediction_type", "epsilon"), ("rescale_betas_zero_snr", False), ("snr_gamma", 0.0),
              ("noise_offset", 0.0), ("max_height", 0), ("max_width", 0), ("drop_short_ratio", 1.0),
              ("group_data", False), ("mask_config", ""))


def null_text_embedding(args):
    """(text (L, D), mask (L,)) of the empty prompt for --cfg, from --null_text_embed; None without --cfg."""
    if not args.cfg:
        return None
    if not 0 < args.cfg < 1:
        raise UserError(f"--cfg {args.cfg}: a probability in (0, 1) (0 turns caption dropout off)")
    path = args.null_text_embed
    if not path or not os.path.isfile(path):
        raise UserError(f"--cfg {args.cfg} needs --null_text_embed (got '{path}'): write it with "
                        "python infer_t5.py --captions \"any caption\" --output_path <npz> (same --t5_model_dir and "
                        "--t5_max_length as --text_embed_folder)")
    with np.load(path) as z:
        if "negative_text_emb" not in z:
            raise UserError(f"--null_text_embed {path}: no negative_text_emb (write it with infer_t5.py --captions)")
        return z["negative_text_emb"][0].astype(np.float32), z["negative_mask"][0].astype(np.int32)


def inpaint_masks(args):
    """The inpaint model's training masks from --mask_config (the original's scripts/train_configs/mask_config.yaml
    keys: min_clear_ratio, max_clear_ratio, mask_type_ratio_dict_video); without one, random_temporal only."""
    import yaml

    from .v1_3_task import InpaintMasks

    cfg = {}
    if args.mask_config:
        if not os.path.isfile(args.mask_config):
            raise UserError(f"--mask_config {args.mask_config}: file not found")
        with open(args.mask_config) as f:
            cfg = yaml.safe_load(f) or {}
        known = {"min_clear_ratio", "max_clear_ratio", "mask_type_ratio_dict_video", "mask_type_ratio_dict_image"}
        if not isinstance(cfg, dict) or set(cfg) - known:
            raise UserError(f"--mask_config {args.mask_config}: expected the keys {', '.join(sorted(known))}")
    try:
        return InpaintMasks(cfg.get("mask_type_ratio_dict_video"), float(cfg.get("min_clear_ratio", 0.0)),
                            float(cfg.get("max_clear_ratio", 1.0)))
    except ValueError as err:
        raise UserError(f"--mask_config {args.mask_config}: {err}") from err


def check_input_files(args):
    """The checkpoints and configs of a run exist, each missing one named with its flag and how to make it."""
    def require(path, flag, fix):
        if not os.path.exists(path):
            raise UserError(f"{flag} {path}: not found; {fix}")

    if args.pretrained_model_path:
        require(args.pretrained_model_path, "--pretrained_model_path",
                "convert the release (or Latte's t2v.pt) with python tools/model_conversion/convert_latte.py "
                f"--src <downloaded file> --target {args.pretrained_model_path}")
    if args.model_config:
        require(args.model_config, "--model_config", "give the LatteT2V config.json of the release")
    if not args.vae_latent_folder:
        require(args.vae_config, "--vae_config", "use configs/ae/causal_vae_488.yaml or a released VAE folder")
        if args.vae_checkpoint:
            require(args.vae_checkpoint, "--vae_checkpoint",
                    "convert the release with python tools/model_conversion/convert_vae.py --src "
                    f"<diffusion_pytorch_model.safetensors> --target {args.vae_checkpoint}")


def run_t2v_training(args, config_to_save=None, **options):
    """What train_diffusion.py runs: build (T2VTraining(args, **options)), save the resolved config, train, write
    the summary. `config_to_save`: the settings to record as config.yaml (default `args`; a caller with options of
    its own passes its full flags). Returns the summary dict."""

    run = T2VTraining(args, **options)  # checks data, builds models, restores state
    if run.rank == 0:
        save_config(config_to_save or args, run.args.output_path)
    last, seconds = train_loop(run, run.args, desc="train")
    return write_summary(run, run.args, {"steps": run.step, "final_loss": last.get("loss"),
                                         "seconds": round(seconds, 1), "skipped_samples": run.dataset.bad_samples,
                                         "output": run.args.output_path})


class T2VTraining:
    """Args:
        args: T2VTrainSettings (opensora.train.t2v_flags) or the parsed flags of train_diffusion.py.
        timestep_range: (LOW, HIGH): t ~ U[LOW, HIGH) (default: the original's [0, 1000)).
        mse_weight: one MSE multiplier per timestep (default: none, as the original); e.g. the demo model's
            examples/toy_world/loss_weights.py.
        option_names: what the caller calls these two in its errors (its flags)."""

    def __init__(self, args, timestep_range=None, mse_weight=None,
                 option_names=("timestep_range", "mse_weight")):

        self.args = args = as_settings(T2VTrainSettings, args)
        self.rank, self.world_size, self.dtype = start_training(args)
        for flag in ("data_file_path", "video_folder", "text_embed_folder"):
            if not getattr(args, flag):
                raise UserError(f"--{flag} is required")
        cfg = self._model_config()
        self.model_class = family_of_config(cfg, args.model_config or f"--model_version {args.model_version}")
        self.v1_3, self.inpaint = is_v1_3(self.model_class), is_inpaint(self.model_class)
        objective = self._check_family_flags(timestep_range, mse_weight, option_names)
        self.sp = self._sequence_parallel(cfg)
        # the data-parallel layout: ranks of one sequence-parallel group share their samples
        self.dp_rank, self.dp_size = (self.sp.dp_rank, self.sp.dp_size) if self.sp else (self.rank, self.world_size)
        self.height, self.width = args.max_height or args.image_size, args.max_width or args.image_size
        self.dataset = TextVideoDataset(args.data_file_path, args.video_folder, args.text_embed_folder,
                                        args.num_frames, args.frame_stride, args.image_size, args.video_column,
                                        args.caption_column, flip=not args.disable_flip,
                                        use_image_num=args.use_image_num, world_size=self.dp_size,
                                        vae_latent_folder=args.vae_latent_folder, caption_dropout=args.cfg,
                                        null_text=null_text_embedding(args), height=self.height, width=self.width,
                                        drop_short_ratio=args.drop_short_ratio, group_data=args.group_data,
                                        seed=args.seed, v1_3_resize=self.v1_3, model_ds_t=args.sp_size)
        self.dataset.preflight()
        if self.dataset.mixed_durations() and args.batch_size > 1 and not args.group_data:
            raise UserError(f"--drop_short_ratio {args.drop_short_ratio} gives clips of several durations; with "
                            f"--batch_size {args.batch_size} add --group_data True (batches of one duration)")
        make_output_dir(args.output_path)
        self.logger = setup_logger(args.output_path, rank=self.rank)
        if self.dataset.duration_summary:
            self.logger.info(self.dataset.duration_summary)
        source = args.model_config or f"--model_version {args.model_version}"
        check_parts_fit(cfg, source, text_width=self.dataset.text_width(),
                        text_source=f"--text_embed_folder {args.text_embed_folder}")
        self.ckpt_dir = os.path.join(args.output_path, "ckpt")
        check_input_files(args)  # every file the models need, before any model is built
        if not args.vae_latent_folder:
            check_parts_fit(cfg, source, vae_config=args.vae_config)
        if self.v1_3:
            self.latte = self._prepare_model(self.model_class(cfg))  # any 4n+1 x 16k size: RoPE, no fixed table
            if self.sp:
                self.latte.enable_sequence_parallel(self.sp)
            self.vae = self._build_vae()
            from .v1_3_task import V1_3TrainingTask

            self.task = V1_3TrainingTask(self._compute_model(), self.vae, objective, args.noise_offset,
                                         self.dp_size, self.dp_rank, self.dtype, graph=args.jit,
                                         scale_factor=args.sd_scale_factor, masks=self.masks)
            if self.sp:
                self.task.loss.enable_sequence_parallel(self.sp)
        else:
            self._build_latte_task(cfg, timestep_range, mse_weight, option_names)
        self._finish_setup()

    def _build_latte_task(self, cfg, timestep_range, mse_weight, option_names):
        args = self.args
        diffusion = create_diffusion("")
        low, high = timestep_range or (0, diffusion.num_timesteps)
        if not 0 <= low < high <= diffusion.num_timesteps:
            raise UserError(f"{option_names[0]} {low} {high}: need 0 <= LOW < HIGH <= {diffusion.num_timesteps}")
        if mse_weight is not None and np.shape(mse_weight) != (diffusion.num_timesteps,):
            raise UserError(f"{option_names[1]}: one weight per timestep ({diffusion.num_timesteps}) needed, got "
                            f"shape {np.shape(mse_weight)}")

        self.latte = self._build_latte(cfg)
        self.vae = None if args.vae_latent_folder else self._build_vae()  # latents cached: no VAE in memory
        self.task = DiffusionTrainingTask(self._compute_model(), self.vae, diffusion, args.sd_scale_factor,
                                          args.use_image_num, self.dtype, graph=args.jit, timestep_range=(low, high),
                                          mse_weight=mse_weight)

    def _finish_setup(self):
        args = self.args
        self.trainer = self._build_trainer()
        self.step, self.epoch, self.position = 0, 0, 0
        self.global_batch = args.batch_size * self.dp_size
        steps_per_epoch = max(1, len(self.dataset) // self.global_batch // args.gradient_accumulation_steps)
        self.total_steps = args.train_steps or args.epochs * steps_per_epoch
        if args.resume:
            folder, model_state, train_state, meta = load_resume_state(args.resume, self.ckpt_dir, self.logger)

            load_state_into(self.latte, model_state, source=folder)

            restore_trainer(self.trainer, train_state, meta)
            self.step = meta["step"]
            self.epoch, self.position = meta["epoch"], meta["position"]
            self.logger.info(f"resumed from {folder} at step {self.step}")
        if len(self.dataset) < self.global_batch:
            raise UserError(f"--batch_size {args.batch_size} x {self.dp_size} ranks is larger than the dataset "
                            f"({len(self.dataset)} samples)")
        self.micro_step = 0

    def next_batch(self):
        """This rank's slice of the next global batch, with one generator per sample from (seed, position)."""
        gb = self.global_batch
        order = self.dataset.epoch_order(self.epoch, self.args.seed, gb)
        if self.position + gb > len(order):
            self.epoch, self.position = self.epoch + 1, 0
            order = self.dataset.epoch_order(self.epoch, self.args.seed, gb)
        start = self.position + self.dp_rank * self.args.batch_size
        indices = order[start:start + self.args.batch_size]
        self.rngs = [np.random.default_rng([self.args.seed, self.epoch, start + k]) for k in range(len(indices))]
        batch = self.dataset.batch(indices, self.rngs)
        self.position += gb
        return batch

    def _sequence_parallel(self, cfg):
        """--sp_size / --zero_stage checked against the model and the run (one line each, before any model is
        built) -> the layout (None: no sequence parallel)."""
        args = self.args
        if (args.sp_size > 1 or args.zero_stage) and not args.use_parallel:
            flag = f"--sp_size {args.sp_size}" if args.sp_size > 1 else f"--zero_stage {args.zero_stage}"
            raise UserError(f"{flag}: needs several ranks: launch with msrun and --use_parallel True "
                            "(scripts/launch.sh, docs/distributed.md)")
        if args.sp_size == 1:
            return None
        if not self.v1_3:
            raise UserError(f"--sp_size {args.sp_size}: sequence parallel is for OpenSoraT2V v1.3 models (the "
                            "original's LatteT2V of v1.0.0 has none); use data parallel alone")
        from ..parallel.sequence import check_model_split, sequence_parallel

        check_model_split(args.sp_size, args.num_frames, (args.num_frames - 1) // VAE_TEMPORAL + 1,
                          cfg.get("num_attention_heads", 0))
        if args.sample_interval:
            raise UserError(f"--sp_size {args.sp_size} with --sample_interval {args.sample_interval}: training-time "
                            "samples run on rank 0 alone; sample a checkpoint with infer_diffusion.py --sp_size")
        return sequence_parallel(args.sp_size, self.rank, self.world_size)

    def _world_mean(self, value):
        from mindspore import ops

        return float(ops.AllReduce()(ms.Tensor([value], ms.float32)).asnumpy()[0]) / self.world_size

    def _model_config(self):
        args = self.args
        if args.model_config:
            if not os.path.isfile(args.model_config):
                raise UserError(f"--model_config {args.model_config}: file not found")
            with open(args.model_config) as f:
                return json.load(f)
        if args.model_version == V1_3_MODEL_VERSION:  # the release's architecture at this run's size
            with open(V1_3_MODEL_CONFIG) as f:
                cfg = json.load(f)
            latent = [(args.max_height or args.image_size) // VAE_SPATIAL, (args.max_width or args.image_size)
                      // VAE_SPATIAL]
            cfg.update(sample_size_h=latent, sample_size_w=latent,  # the (h, w) pair, as the original writes it
                       sample_size_t=(args.num_frames - 1) // VAE_TEMPORAL + 1)
            return cfg
        if args.model_version != "LatteT2V-XL/122":
            raise UserError(f"--model_version {args.model_version}: LatteT2V-XL/122 or {V1_3_MODEL_VERSION} (or "
                            "pass --model_config)")
        with open("configs/diffusion/model/latte_t2v_17x256x256.json") as f:
            cfg = json.load(f)
        cfg["sample_size"] = [args.image_size // VAE_SPATIAL] * 2  # as the original derives them
        cfg["video_length"] = (args.num_frames - 1) // VAE_TEMPORAL + 1
        return cfg

    def _check_family_flags(self, timestep_range, mse_weight, option_names):
        """The v1.3 flags go with a v1.3 model, the demo's options with LatteT2V; -> the V1_3Objective (v1.3)."""
        args = self.args
        if not self.v1_3:
            for flag, off in V1_3_FLAGS:
                if getattr(args, flag) != off:
                    raise UserError(f"--{flag} {getattr(args, flag)}: for OpenSoraT2V v1.3 models; this run trains a "
                                    "LatteT2V (v1.0's IDDPM objective)")
            return None
        for value, name in zip((timestep_range, mse_weight), option_names):
            if value is not None:
                raise UserError(f"{name}: for LatteT2V's IDDPM objective, not the v1.3 one")
        for flag in ("vae_latent_folder", "use_image_num"):
            if getattr(args, flag):
                raise UserError(f"--{flag}: not for v1.3 models here (their latents come from the WF-VAE at "
                                "training time; images train as 1-frame clips)")
        if (args.num_frames - 1) % VAE_TEMPORAL:
            raise UserError(f"--num_frames {args.num_frames}: must be 4n+1")
        for flag in ("max_height", "max_width"):
            value = getattr(args, flag) or args.image_size
            if value % (2 * VAE_SPATIAL):
                raise UserError(f"--{flag} {value}: must be a multiple of 16 (8x VAE, then 2x2 patches)")
        self.masks = inpaint_masks(args) if self.inpaint else None
        if args.mask_config and not self.inpaint:
            raise UserError(f"--mask_config {args.mask_config}: for OpenSoraInpaint_v1_3 models")
        from ..diffusion.v1_3_loss import V1_3Objective

        try:
            return V1_3Objective(args.prediction_type, args.rescale_betas_zero_snr, args.snr_gamma or None)
        except ValueError as err:
            raise UserError(f"--prediction_type {args.prediction_type} --rescale_betas_zero_snr "
                            f"{args.rescale_betas_zero_snr} --snr_gamma {args.snr_gamma}: {err}") from err

    def _build_latte(self, cfg):
        args = self.args
        size = cfg["sample_size"][0] if isinstance(cfg["sample_size"], list) else cfg["sample_size"]
        if size * VAE_SPATIAL != args.image_size or (cfg["video_length"] - 1) * VAE_TEMPORAL + 1 != args.num_frames:
            raise UserError(f"--image_size {args.image_size} / --num_frames {args.num_frames} do not match the model "
                            f"(sample_size {size} -> {size * VAE_SPATIAL} px, video_length {cfg['video_length']} -> "
                            f"{(cfg['video_length'] - 1) * VAE_TEMPORAL + 1} frames)")
        return self._prepare_model(self.model_class(cfg))

    def _prepare_model(self, model):
        args = self.args
        if args.pretrained_model_path:
            model.load_checkpoint(args.pretrained_model_path, logger=self.logger)
        if args.use_recompute:
            model.enable_gradient_checkpointing()
        if args.enable_flash_attention:
            model.enable_flash_attention()
        model.set_train(True)
        return model

    def _compute_model(self):
        """The cell the loss calls: the transformer itself, or (fp16) an amp wrapper over the same fp32 master
        weights that computes in fp16 with norms/softmax in fp32. Checkpoints are always written from the
        unwrapped transformer, so parameter names stay the original's."""
        if self.dtype == ms.float32:
            return self.latte
        wrapped = ms.amp.auto_mixed_precision(self.latte, "O2", dtype=self.dtype)
        wrapped.set_train(True)
        return wrapped

    def _build_vae(self):
        args = self.args
        checkpoint = args.vae_checkpoint or None
        vae = load_autoencoder(args.vae_config, checkpoint=checkpoint, logger=self.logger)
        vae.set_train(False)
        for p in vae.get_parameters():
            p.requires_grad = False
        apply_precision(vae, self.dtype)
        return vae

    def _build_trainer(self):
        params = self.latte.trainable_params()
        return trainer_from_args(
            self.args,
            params,
            self.task.loss,
            self.args.start_learning_rate,
            self.world_size,
            self.dtype == ms.float16,
            grad_fn=self.task.grad_fn(params),
            zero_stage=self.args.zero_stage,
            rank=self.rank,
        )

    def train_step(self):
        """One micro-batch through the trainer; `self.step` counts optimizer updates."""
        args = self.args
        batch = self.next_batch()
        latents = self.task.encode(batch, self.rngs)
        t, noise = self.task.draw(latents, self.rngs)
        lr = learning_rate(
            self.step,
            args.scheduler,
            args.start_learning_rate,
            args.end_learning_rate,
            args.warmup_steps,
            self.total_steps,
        )
        # fp32 inputs: the diffusion terms are computed in fp32; the amp-wrapped transformer casts its own inputs
        if self.v1_3:
            inputs = self.task.loss_inputs(latents, t, noise, batch["text"], batch["mask"])
        else:
            inputs = (ms.Tensor(latents), ms.Tensor(t), ms.Tensor(noise), ms.Tensor(batch["text"]),
                      ms.Tensor(batch["mask"]))
        info = self.trainer.step(lr, *inputs)
        if self.sp:  # each rank's loss is of its frames: the clip's is their mean (what one device would log)
            info["loss"] = self._world_mean(info["loss"])
        if info["updated"]:
            self.step += 1
        return info

    @property
    def curves_title(self):
        return f"{self.model_class.__name__} training"

    def log_terms(self, info):
        return {"loss": info["loss"], "grad_norm": info.get("grad_norm")}

    def describe(self, info):
        return f"loss {info['loss']:.5f}"

    def write_sample(self):
        if self.inpaint:
            return write_v1_3_sample_video(self, self.step, first_frame_of_training_clip=True)
        if self.v1_3:
            return write_v1_3_sample_video(self, self.step)
        return write_sample_video(self, self.step)

    def save(self):
        """Rank 0 writes (all ranks hold the same weights); other ranks return None. Sharded optimizer moments
        (--zero_stage 1) are gathered first, by every rank."""
        from ..parallel.zero import ShardedAdamW

        sharded = isinstance(self.trainer.optimizer, ShardedAdamW)
        if self.rank != 0 and not sharded:
            return None
        tensors, meta = trainer_state(self.trainer)
        if self.rank != 0:
            return None
        meta.update(epoch=self.epoch, position=self.position)
        return save_training_state(
            self.ckpt_dir, self.step, net_state(self.latte), tensors, meta, keep=self.args.ckpt_max_keep
        )


def write_sample_video(run, step):
    """The original's validation: p_sample_loop over a respaced chain (clip_denoised=False) for the first
    training caption, decoded by the VAE, written as <output_path>/samples/step_XXXXXXXX.mp4."""

    args = run.args
    if run.vae is None:
        run.vae = run._build_vae()
    emb = np.load(run.dataset.items[0][1])
    text = ms.Tensor(emb["text_emb"][None].astype(np.float32))
    mask = ms.Tensor(emb["mask"][None].astype(np.int32))
    cfg = run.latte.config
    hw = cfg["sample_size"] if isinstance(cfg["sample_size"], list) else [cfg["sample_size"]] * 2
    shape = (1, run.latte.in_channels, cfg["video_length"], hw[0], hw[1])
    noise = ms.Tensor(np.random.default_rng([args.seed, step]).standard_normal(shape).astype(np.float32))
    run.latte.set_train(False)
    try:
        latents = create_diffusion(str(args.sample_steps)).p_sample_loop(
            run.task.latte,
            shape,
            noise=noise,
            clip_denoised=False,
            model_kwargs={"encoder_hidden_states": text, "encoder_attention_mask": mask},
        )
    finally:
        run.latte.set_train(True)
    video = VideoGenPipeline(None, run.vae, None, None, args.sd_scale_factor).decode_latents(latents.asnumpy())[0]
    return write_video(os.path.join(args.output_path, "samples", f"step_{step:08d}.mp4"), video, fps=8)


def write_v1_3_sample_video(run, step, first_frame_of_training_clip=False):
    """The first training caption sampled by the v1.3 pipeline (EulerAncestralDiscrete with the run's prediction type
    and schedule, --sample_steps steps, no guidance: the negative prompt is not cached), at the training size, written
    as <output_path>/samples/step_XXXXXXXX.mp4. The inpaint model continues the first frame of that caption's clip
    (image-to-video)."""
    from ..dataset.video_io import tensor_to_frames
    from ..diffusion.schedulers import create_v1_3_scheduler
    from ..pipelines.pipeline_inpaint import OpenSoraInpaintPipeline
    from ..pipelines.pipeline_opensora import OpenSoraPipeline

    args = run.args
    steps = int(args.sample_steps) if str(args.sample_steps).isdigit() else 0
    if steps < 1:
        raise UserError(f"--sample_steps {args.sample_steps}: a number of EulerAncestral steps for v1.3 models")
    emb = np.load(run.dataset.items[0][1])
    text, mask = emb["text_emb"][None].astype(np.float32), emb["mask"][None].astype(np.int32)
    scheduler = create_v1_3_scheduler("EulerAncestralDiscrete", args.prediction_type, args.rescale_betas_zero_snr)
    pipe = (OpenSoraInpaintPipeline if first_frame_of_training_clip else OpenSoraPipeline)(None, run.vae, run.latte,
                                                                                           scheduler)
    rng = np.random.default_rng([args.seed, step])
    condition = None
    run.latte.set_train(False)
    try:
        scheduler.set_timesteps(steps)
        start = pipe.prepare_latents(1, args.num_frames, run.height, run.width, rng)
        if first_frame_of_training_clip:
            clip = run.dataset.get(0, np.random.default_rng([args.seed, step, 1]))["video"]
            first = tensor_to_frames(clip)[:1]  # (1, H, W, 3) uint8
            condition = pipe.condition_input(first, "i2v", [0], args.num_frames, 1, False, rng)
        latents = pipe.denoise(text, mask, None, None, start, steps, guidance_scale=1.0, rng=rng, progress=False,
                               condition=condition)
    finally:
        run.latte.set_train(True)
    video = pipe.decode_latents(latents)[0]
    return write_video(os.path.join(args.output_path, "samples", f"step_{step:08d}.mp4"), video, fps=8)
