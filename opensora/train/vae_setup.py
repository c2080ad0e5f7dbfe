"""Everything train.py builds: clips, the causal VAE, LPIPSWithDiscriminator, the two optimizers, state, resume.
The v1.3 WF-VAE's variant (its loss, its one-optimizer-step-per-batch schedule) is wfvae_setup.py."""

import os

import mindspore as ms
import numpy as np

from ..dataset.vae_dataset import VAEClips, list_media
from ..dataset.video_io import side_by_side, tensor_to_frames, write_video
from ..io import load_state_into, net_state
from ..models.ae import CausalVAEModel
from ..models.ae.causal_vae.config import load_loss_config
from ..models.ae.losses import LPIPSWithDiscriminator
from ..utils.errors import UserError, make_output_dir
from ..utils.logger import setup_logger
from ..utils.settings import as_settings
from .checkpoint import load_resume_state, save_training_state
from .distributed import start_training
from .lr_schedule import learning_rate
from .trainer import restore_trainer, trainer_from_args, trainer_state
from .vae_flags import VAETrainSettings
from .vae_task import VAETrainingTask


class VAETraining:
    """Args:
        args: VAETrainSettings (opensora.train.vae_flags) or the parsed flags of train.py."""

    def __init__(self, args):
        args = as_settings(VAETrainSettings, args)

        self.args = args
        self.rank, self.world_size, self.dtype = start_training(args)
        paths = list_media(args.data_path, args.dataset_name, args.csv_path)
        self.clips = VAEClips(paths, args.dataset_name, args.num_frames, args.frame_stride, args.size,
                              args.crop_size, start="random", crop_mode="random", flip=args.flip)
        self.clips.preflight()
        self.global_batch = args.batch_size * self.world_size
        if len(self.clips) < self.global_batch:
            raise UserError(f"--batch_size {args.batch_size} x {self.world_size} ranks is larger than the dataset "
                            f"({len(self.clips)} {args.dataset_name}s in {args.csv_path or args.data_path})")
        make_output_dir(args.output_path)
        self.logger = setup_logger(args.output_path, rank=self.rank)
        self.ckpt_dir = os.path.join(args.output_path, "ckpt")

        self.vae = self._build_vae()
        self.loss = self._build_loss()
        self.task = self._build_task()
        self.lr = args.base_learning_rate * (args.batch_size * args.gradient_accumulation_steps * self.world_size
                                             if args.scale_lr else 1)
        self.trainer = self._build_trainer(self.vae.trainable_params(), self.task.generator,
                                              self.dtype == ms.float16)
        self.disc_trainer = None
        if self.loss.discriminator is not None:
            self.disc_trainer = self._build_trainer(self.loss.discriminator.trainable_params(),
                                                    self.task.discriminator, False, ema=False,
                                                    args=self.discriminator_args())
        steps_per_epoch = max(1, len(self.clips) // self.global_batch // args.gradient_accumulation_steps)
        self.total_steps = args.train_steps or args.epochs * steps_per_epoch
        self.step, self.epoch, self.position = 0, 0, 0
        if args.resume:
            self._resume()
        self.last_batch = None

    # ------------------------------------------------------------------ building
    def _build_vae(self):
        args = self.args
        if args.pretrained and not os.path.isfile(args.pretrained):
            raise UserError(f"--pretrained {args.pretrained}: file not found; make it from a 2D VAE with "
                            "python tools/model_conversion/inflate_vae2d_to_vae3d.py --src <vae_2d> "
                            f"--target {args.pretrained} (or set pretrained: '' to start from random weights)")
        vae = CausalVAEModel.from_pretrained(args.model_config, checkpoint=args.pretrained or None,
                                             logger=self.logger)
        if not args.pretrained:
            self.logger.info("no --pretrained: the VAE starts from random weights")
        if args.use_recompute:
            for cell in list(vae.encoder.down) + list(vae.decoder.up) + [vae.encoder.mid, vae.decoder.mid]:
                cell.recompute()
        vae.set_train(True)
        if args.freeze_encoder:
            for p in vae.encoder.trainable_params() + vae.quant_conv.trainable_params():
                p.requires_grad = False  # out of the optimizer and the gradient, but still saved with the model
            self.logger.info("--freeze_encoder: training the decoder and post_quant_conv only")
        if self.dtype != ms.float32:  # amp O2 in place: fp16 compute over fp32 master weights, GroupNorm in fp32
            ms.amp.auto_mixed_precision(vae, "O2", dtype=self.dtype)
        return vae

    def _build_loss(self):
        args = self.args
        params = load_loss_config(args.model_config)
        if args.perceptual_weight is not None:
            params["perceptual_weight"] = args.perceptual_weight
        for key in ("disc_start", "disc_weight", "kl_weight", "logvar_init"):
            if getattr(args, key) is not None:
                params[key] = getattr(args, key)
        try:
            loss = LPIPSWithDiscriminator(**params, use_discriminator=args.use_discriminator)
        except TypeError as err:
            raise UserError(f"{args.model_config}: bad lossconfig ({err})") from err
        if loss.perceptual_loss is not None:
            loss.perceptual_loss.load_weights(args.lpips_ckpt_path)
        if loss.discriminator is not None:
            loss.discriminator.init_weights(args.seed)
            loss.discriminator.set_train(True)
        self.logger.info(f"loss: {params}, discriminator {'on' if args.use_discriminator else 'off'}")
        return loss

    def _build_task(self):
        return VAETrainingTask(self.vae, self.loss, graph=self.args.jit)

    def discriminator_args(self):
        """The discriminator optimizer's flags: the generator's (the original port uses one optimizer config)."""
        return self.args

    def _build_trainer(self, params, loss_fn, dynamic_scale, ema=True, args=None):
        return trainer_from_args(args or self.args, params, loss_fn, self.lr, self.world_size, dynamic_scale, ema,
                                 grad_fn=self.task.grad_fn(loss_fn, params))

    # ------------------------------------------------------------------ data
    def next_batch(self):
        """This rank's slice of the next global batch; sample k's clip start, crop, flip and posterior noise
        come from a generator seeded by (seed, epoch, position of k), so resume and data parallel are exact."""
        args, gb = self.args, self.global_batch
        if self.position + gb > len(self.clips):
            self.epoch, self.position = self.epoch + 1, 0
        order = self.clips.epoch_order(self.epoch, args.seed)
        first = self.position + self.rank * args.batch_size
        rngs = [np.random.default_rng([args.seed, self.epoch, first + k]) for k in range(args.batch_size)]
        videos = np.stack([self.clips.load(self.clips.paths[order[first + k]], rngs[k])
                           for k in range(args.batch_size)])
        latent = self.vae.latent_shape(videos.shape[1:])
        noise = np.stack([r.standard_normal(latent) for r in rngs]).astype(np.float32)
        self.position += gb
        return videos, noise

    # ------------------------------------------------------------------ one step
    def train_step(self):
        """Generator step, then (with a discriminator) the discriminator step on the same reconstructions.
        Returns the generator trainer's info with every logged term under "terms"."""
        args = self.args
        videos, noise = self.next_batch()
        lr = learning_rate(self.step, args.scheduler, self.lr, args.end_learning_rate, args.warmup_steps,
                           self.total_steps)
        use_gan = self.disc_trainer is not None
        gen_step = 2 * self.step if use_gan else self.step  # the original's global_step (optimizer steps)
        disc_factor = self.loss.adopted_disc_factor(gen_step) if use_gan else 0.0
        video, noise = ms.Tensor(videos), ms.Tensor(noise)
        d_weight = self.task.adaptive_weight(video, noise) if disc_factor > 0 else None
        factor = ms.Tensor(0.0 if d_weight is None else float(d_weight.asnumpy()) * disc_factor, ms.float32)
        info = self.trainer.step(lr, video, noise, factor)
        recon, nll_loss, rec_loss, kl_loss, g_loss = info.pop("aux")
        terms = {"total_loss": info["loss"], "nll_loss": float(nll_loss.asnumpy()),
                 "rec_loss": float(rec_loss.asnumpy()), "kl_loss": float(kl_loss.asnumpy())}
        if use_gan:
            terms["g_loss"] = float(g_loss.asnumpy())
            if d_weight is not None:
                terms["d_weight"] = float(d_weight.asnumpy())
            terms["disc_factor"] = disc_factor
            if not info.get("overflow"):
                disc_factor = self.loss.adopted_disc_factor(gen_step + 1)
                dinfo = self.disc_trainer.step(lr, video, recon, ms.Tensor(disc_factor, ms.float32))
                logits_real, logits_fake = dinfo.pop("aux")
                terms.update(disc_loss=dinfo["loss"], logits_real=float(logits_real.asnumpy()),
                             logits_fake=float(logits_fake.asnumpy()), disc_grad_norm=dinfo.get("grad_norm", 0.0))
        info["terms"] = terms
        self.last_batch = (videos, recon)
        if info["updated"]:
            self.step += 1
        return info

    curves_title = "causal VAE training"

    def log_terms(self, info):
        return info["terms"]

    def describe(self, info):
        return " ".join(f"{k} {v:.5g}" for k, v in info["terms"].items())

    # ------------------------------------------------------------------ checkpoints
    def save(self):
        """Rank 0 writes (all ranks hold the same weights); others return None."""
        if self.rank != 0:
            return None

        tensors, meta = trainer_state(self.trainer)
        meta.update(epoch=self.epoch, position=self.position)
        if self.disc_trainer is not None:
            tensors.update({f"disc.{k}": v for k, v in net_state(self.loss.discriminator).items()})
            tensors.update(trainer_state(self.disc_trainer, prefix="disc_opt.")[0])
        return save_training_state(self.ckpt_dir, self.step, net_state(self.vae), tensors, meta,
                                   keep=self.args.ckpt_max_keep)

    def _resume(self):
        folder, model_state, train_state, meta = load_resume_state(self.args.resume, self.ckpt_dir, self.logger)
        load_state_into(self.vae, model_state, source=folder)
        restore_trainer(self.trainer, {k: v for k, v in train_state.items() if not k.startswith("disc")}, meta)
        if self.disc_trainer is not None:
            disc = {k[len("disc."):]: v for k, v in train_state.items() if k.startswith("disc.")}
            if not disc:
                raise UserError(f"--resume {folder}: saved without a discriminator; resume with "
                                "--use_discriminator False")
            load_state_into(self.loss.discriminator, disc, source=f"{folder} (discriminator)")
            restore_trainer(self.disc_trainer, train_state, prefix="disc_opt.")
        self.step, self.epoch, self.position = meta["step"], meta["epoch"], meta["position"]
        self.logger.info(f"resumed from {folder} at step {self.step}")

    # ------------------------------------------------------------------ what a person looks at
    def write_sample(self):
        """Source | reconstruction of the last batch's first clip: <output_path>/samples/step_XXXXXXXX.mp4."""
        videos, recon = self.last_batch
        rec = np.clip(recon.asnumpy()[0], -1.0, 1.0)
        path = os.path.join(self.args.output_path, "samples", f"step_{self.step:08d}.mp4")
        return write_video(path, side_by_side(tensor_to_frames(videos[0]), tensor_to_frames(rec)), fps=8)
