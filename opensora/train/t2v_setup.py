"""Everything train_diffusion.py builds: data, frozen VAE, LatteT2V, diffusion, optimizer, state and resume."""

import json
import os

import mindspore as ms
import numpy as np

from ..utils.errors import UserError

VAE_TEMPORAL, VAE_SPATIAL = 4, 8


class T2VTraining:
    def __init__(self, args):
        from ..dataset.t2v_dataset import TextVideoDataset
        from ..diffusion import create_diffusion
        from ..utils.logger import setup_logger
        from ..utils.ms_utils import init_context, resolve_dtype
        from .checkpoint import load_training_state, resolve_resume, restore_rng
        from .diffusion_task import DiffusionTrainingTask
        from .lr_schedule import learning_rate  # noqa: F401  (validated below)

        self.args = args
        self.dtype = resolve_dtype(args.dtype, args.device_target)
        if args.scheduler not in ("constant", "cosine_decay"):
            raise UserError(f"--scheduler {args.scheduler}: use constant or cosine_decay")
        for flag in ("data_file_path", "video_folder", "text_embed_folder"):
            if not getattr(args, flag):
                raise UserError(f"--{flag} is required")
        self.dataset = TextVideoDataset(args.data_file_path, args.video_folder, args.text_embed_folder,
                                        args.num_frames, args.frame_stride, args.image_size, args.video_column,
                                        args.caption_column, flip=not args.disable_flip,
                                        use_image_num=args.use_image_num)
        self.dataset.preflight()
        os.makedirs(args.output_path, exist_ok=True)
        self.logger = setup_logger(args.output_path)
        self.ckpt_dir = os.path.join(args.output_path, "ckpt")
        init_context(args.mode, args.device_target, args.seed, args.debug)

        self.latte = self._build_latte()
        self.vae = self._build_vae()
        self.task = DiffusionTrainingTask(self.latte, self.vae, create_diffusion(""), args.sd_scale_factor,
                                          args.use_image_num, self.dtype)
        self.trainer = self._build_trainer()
        self.rng = np.random.default_rng(args.seed)
        self.step, self.epoch, self.position = 0, 0, 0
        steps_per_epoch = max(1, len(self.dataset) // args.batch_size // args.gradient_accumulation_steps)
        self.total_steps = args.train_steps or args.epochs * steps_per_epoch
        if args.resume:
            folder = resolve_resume(args.resume, self.ckpt_dir)
            model_state, train_state, meta = load_training_state(folder)
            from ..models.checkpoint import load_state_into

            load_state_into(self.latte, model_state, source=folder)
            self.trainer.optimizer.load_state(train_state)
            if self.trainer.ema is not None:
                for p in self.trainer.ema.shadow:
                    p.set_data(ms.Tensor(train_state[p.name]))
            self.trainer.scaler.scale, self.trainer.scaler.good_steps = meta["loss_scale"], meta["good_steps"]
            self.rng, self.step = restore_rng(meta["rng"]), meta["step"]
            self.epoch, self.position = meta["epoch"], meta["position"]
            self.logger.info(f"resumed from {folder} at step {self.step}")
        if len(self.dataset) < args.batch_size:
            raise UserError(f"--batch_size {args.batch_size} is larger than the dataset ({len(self.dataset)} samples)")

    def next_batch(self):
        bs = self.args.batch_size
        if self.position + bs > len(self.dataset):
            self.epoch, self.position = self.epoch + 1, 0
        order = self.dataset.epoch_order(self.epoch, self.args.seed)
        batch = self.dataset.batch(order[self.position:self.position + bs], self.rng)
        self.position += bs
        return batch

    def _latte_config(self):
        args = self.args
        if args.model_config:
            if not os.path.isfile(args.model_config):
                raise UserError(f"--model_config {args.model_config}: file not found")
            with open(args.model_config) as f:
                return json.load(f)
        if args.model_version != "LatteT2V-XL/122":
            raise UserError(f"--model_version {args.model_version}: only LatteT2V-XL/122 (or pass --model_config)")
        with open("configs/diffusion/model/latte_t2v_17x256x256.json") as f:
            cfg = json.load(f)
        cfg["sample_size"] = [args.image_size // VAE_SPATIAL] * 2  # as the original derives them
        cfg["video_length"] = (args.num_frames - 1) // VAE_TEMPORAL + 1
        return cfg

    def _build_latte(self):
        from ..models.diffusion.latte import LatteT2V

        args = self.args
        cfg = self._latte_config()
        size = cfg["sample_size"][0] if isinstance(cfg["sample_size"], list) else cfg["sample_size"]
        if size * VAE_SPATIAL != args.image_size or (cfg["video_length"] - 1) * VAE_TEMPORAL + 1 != args.num_frames:
            raise UserError(f"--image_size {args.image_size} / --num_frames {args.num_frames} do not match the model "
                            f"(sample_size {size} -> {size * VAE_SPATIAL} px, video_length {cfg['video_length']} -> "
                            f"{(cfg['video_length'] - 1) * VAE_TEMPORAL + 1} frames)")
        latte = LatteT2V(cfg)
        if args.pretrained_model_path:
            latte.load_checkpoint(args.pretrained_model_path, logger=self.logger)
        if args.use_recompute:
            latte.enable_gradient_checkpointing()
        if args.enable_flash_attention:
            latte.enable_flash_attention()
        latte.set_train(True)
        return latte

    def _build_vae(self):
        from ..models.ae import CausalVAEModel
        from ..utils.amp import apply_precision

        args = self.args
        vae = CausalVAEModel.from_pretrained(args.vae_config, checkpoint=args.vae_checkpoint or None, logger=self.logger)
        vae.set_train(False)
        for p in vae.get_parameters():
            p.requires_grad = False
        apply_precision(vae, self.dtype)
        return vae

    def _build_trainer(self):
        from .optim import AdamW
        from .trainer import EMA, LossScaler, Trainer

        args = self.args
        params = self.latte.trainable_params()
        optimizer = AdamW(params, args.start_learning_rate, tuple(args.betas), args.optim_eps,
                          args.weight_decay if args.optim == "adamw" else 0.0)
        scaler = LossScaler(args.init_loss_scale, dynamic=self.dtype == ms.float16, factor=args.loss_scale_factor,
                            window=args.scale_window)
        ema = EMA(params, args.ema_decay) if args.use_ema else None
        return Trainer(self.task.loss, params, optimizer, scaler, args.clip_grad, args.max_grad_norm,
                       args.gradient_accumulation_steps, ema)

    def train_step(self):
        """One micro-batch through the trainer; `self.step` counts optimizer updates."""
        from .lr_schedule import learning_rate

        args = self.args
        batch = self.next_batch()
        latents = self.task.encode(batch, self.rng)
        t, noise = self.task.draw(latents, self.rng)
        lr = learning_rate(self.step, args.scheduler, args.start_learning_rate, args.end_learning_rate,
                           args.warmup_steps, self.total_steps)
        info = self.trainer.step(lr, ms.Tensor(latents, self.dtype), ms.Tensor(t), ms.Tensor(noise, self.dtype),
                                 ms.Tensor(batch["text"], self.dtype), ms.Tensor(batch["mask"]))
        if info["updated"]:
            self.step += 1
        return info

    def save(self):
        from ..models.checkpoint import net_state
        from .checkpoint import rng_state, save_training_state

        trainer = self.trainer
        tensors = {k: v.asnumpy() for k, v in trainer.optimizer.state().items()}
        if trainer.ema is not None:
            tensors.update({p.name: p.asnumpy() for p in trainer.ema.shadow})
        meta = {"loss_scale": trainer.scaler.scale, "good_steps": trainer.scaler.good_steps, "rng": rng_state(self.rng),
                "epoch": self.epoch, "position": self.position}
        return save_training_state(self.ckpt_dir, self.step, net_state(self.latte), tensors, meta,
                                   keep=self.args.ckpt_max_keep)
