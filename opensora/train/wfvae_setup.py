"""train.py for the v1.3 WF-VAE: VAETraining with the WF-VAE, LPIPSWithDiscriminator3D and the original
train_causalvae.py's schedule -- one optimizer step per batch: the discriminator's on odd steps from disc_start,
the generator's otherwise. The loss takes the original's flags (--disc_start, --disc_weight, --kl_weight,
--logvar_init, --perceptual_weight, --loss_type, --wavelet_loss/--wavelet_weight) with the original's defaults;
the discriminator's AdamW has weight decay 0.01 and gradient clipping at 1.0, as the original hard-codes."""

import dataclasses
import os

import mindspore as ms

from ..models.ae.losses import LPIPSWithDiscriminator3D
from ..models.ae.wfvae import WFVAEModel
from ..utils.amp import apply_precision
from ..utils.errors import UserError
from ..utils.settings import as_settings
from .lr_schedule import learning_rate
from .vae_flags import VAETrainSettings
from .vae_setup import VAETraining
from .wfvae_task import WFVAETrainingTask

# train_causalvae.py's defaults for the loss flags this repo's train.py leaves unset (None)
ORIGINAL_LOSS_DEFAULTS = dict(disc_start=5, disc_weight=0.5, kl_weight=1e-6, logvar_init=0.0, perceptual_weight=1.0,
                              loss_type="l1", wavelet_weight=0.1)
DISC_WEIGHT_DECAY, DISC_MAX_GRAD_NORM = 0.01, 1.0


class WFVAETraining(VAETraining):
    curves_title = "WF-VAE training"

    def __init__(self, args):
        args = as_settings(VAETrainSettings, args)
        if args.gradient_accumulation_steps != 1:
            raise UserError(f"--gradient_accumulation_steps {args.gradient_accumulation_steps}: the WF-VAE schedule "
                            "alternates generator and discriminator steps per batch (the original accumulates none); "
                            "use 1")
        super().__init__(args)

    # ------------------------------------------------------------------ building
    def _build_vae(self):
        args = self.args
        if args.pretrained and not os.path.isfile(args.pretrained):
            raise UserError(f"--pretrained {args.pretrained}: file not found (a WF-VAE merged.ckpt, safetensors or "
                            "converted .ckpt; or set pretrained: '' to start from random weights)")
        vae = WFVAEModel.from_pretrained(args.model_config, checkpoint=args.pretrained or None, logger=self.logger)
        if not args.pretrained and not os.path.isdir(args.model_config):  # a folder brings its weights
            self.logger.info("no --pretrained: the WF-VAE starts from random weights")
        if args.use_recompute:
            for cell in [vae.encoder.down1, vae.encoder.down2, vae.encoder.mid, vae.decoder.mid, vae.decoder.up2,
                         vae.decoder.up1]:
                cell.recompute()
        vae.set_train(True)
        if args.freeze_encoder:
            for p in vae.encoder.trainable_params():
                p.requires_grad = False  # the original's get_encoder() modules left out of the optimizer
            self.logger.info("--freeze_encoder: training the decoder only")
        if self.dtype != ms.float32:  # amp O2 in place: fp16 compute over fp32 master weights, norms in fp32

            apply_precision(vae, self.dtype)
        return vae

    def _build_loss(self):
        args = self.args
        params = {k: (getattr(args, k) if getattr(args, k) is not None else v)
                  for k, v in ORIGINAL_LOSS_DEFAULTS.items()}
        loss = LPIPSWithDiscriminator3D(**params, use_discriminator=args.use_discriminator)
        if loss.perceptual_loss is not None:
            loss.perceptual_loss.load_weights(args.lpips_ckpt_path)
        if loss.discriminator is not None:
            loss.discriminator.init_weights(args.seed)
            loss.discriminator.set_train(True)
        if args.wavelet_loss:
            self.logger.warning("--wavelet_loss: v1.3.1's WFVAEModel.forward returns no wavelet coefficients, so "
                                "the original's wavelet term is always 0; it is 0 here too")
        self.logger.info(f"loss: {params}, discriminator {'on' if args.use_discriminator else 'off'}")
        return loss

    def _build_task(self):
        return WFVAETrainingTask(self.vae, self.loss, graph=self.args.jit)

    def discriminator_args(self):
        return dataclasses.replace(self.args, **{"optim": "adamw", "weight_decay": DISC_WEIGHT_DECAY,
                                     "clip_grad": True, "max_grad_norm": DISC_MAX_GRAD_NORM})

    # ------------------------------------------------------------------ one step
    def train_step(self):
        """The original's step `current_step` (= self.step): the discriminator's when it is odd and >= disc_start,
        else the generator's. Returns the stepped trainer's info with the logged terms under "terms"."""
        args = self.args
        videos, noise = self.next_batch()
        lr = learning_rate(self.step, args.scheduler, self.lr, args.end_learning_rate, args.warmup_steps,
                           self.total_steps)
        video, noise = ms.Tensor(videos), ms.Tensor(noise)
        disc_factor = self.loss.adopted_disc_factor(self.step)
        if self.disc_trainer is not None and self.step % 2 == 1 and self.step >= self.loss.disc_start:
            _, recon = self.task.forward(video, noise)
            info = self.disc_trainer.step(lr, video, recon, ms.Tensor(disc_factor, ms.float32))
            logits_real, logits_fake = info.pop("aux")
            terms = {"disc_loss": info["loss"], "logits_real": float(logits_real.asnumpy()),
                     "logits_fake": float(logits_fake.asnumpy())}
        else:
            use_gan = self.disc_trainer is not None and self.step >= self.loss.disc_start
            d_weight = 0.0
            if use_gan:
                d_weight = float(self.task.adaptive_weight(video, noise).asnumpy()) if self.loss.disc_factor > 0 \
                    else 1.0
            info = self.trainer.step(lr, video, noise, ms.Tensor(d_weight * disc_factor, ms.float32))
            recon, nll_loss, kl_loss, g_loss, wl_loss = info.pop("aux")
            terms = {"total_loss": info["loss"], "nll_loss": float(nll_loss.asnumpy()),
                     "kl_loss": float(kl_loss.asnumpy()), "wl_loss": float(wl_loss.asnumpy())}
            if self.disc_trainer is not None:
                terms.update(d_weight=d_weight, disc_factor=disc_factor,
                             g_loss=float(g_loss.asnumpy()) if use_gan else 0.0)
        info["terms"] = terms
        self.last_batch = (videos, recon)
        if info["updated"]:
            self.step += 1
        return info

