"""The flags of train.py (causal VAE and WF-VAE training), defined once: the parser the script uses and
VAETrainSettings, the typed settings VAETraining / WFVAETraining take (opensora.utils.settings)."""

import argparse

from ..utils.config import (
    HelpFormatter,
    add_bool_flag,
    add_common_flags,
    add_optimization_flags,
    add_run_flags,
    positive_int,
)
from ..utils.settings import settings_class


def build_vae_train_parser(description=""):
    p = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    add_common_flags(p)
    # model and loss
    p.add_argument("--model_config", default="configs/ae/causal_vae_488.yaml",
                   help="VAE architecture + lossconfig (YAML), or a released config.json")
    p.add_argument("--pretrained", default="", help="initial VAE weights, e.g. models/causal_vae_488_init.ckpt "
                   "from tools/model_conversion/inflate_vae2d_to_vae3d.py (empty: random init)")
    add_bool_flag(p, "--use_discriminator", False, "PatchGAN adversarial loss from disc_start")
    p.add_argument("--disc_start", type=int, default=None, help="override lossconfig.disc_start (optimizer steps)")
    p.add_argument("--perceptual_weight", type=float, default=None,
                   help="override lossconfig.perceptual_weight (0: no LPIPS, no VGG16 weights needed)")
    p.add_argument("--disc_weight", type=float, default=None,
                   help="override the adaptive GAN weight's factor (lossconfig.disc_weight; WF-VAE default 0.5)")
    p.add_argument("--kl_weight", type=float, default=None, help="override the KL weight (WF-VAE default 1e-6)")
    p.add_argument("--logvar_init", type=float, default=None, help="override the NLL's fixed logvar (default 0)")
    p.add_argument("--loss_type", default=None, choices=["l1", "l2"], help="WF-VAE pixel loss (default l1)")
    add_bool_flag(p, "--wavelet_loss", False, "WF-VAE: the original's wavelet term (always 0 in v1.3.1: its forward "
                  "returns no coefficients)")
    p.add_argument("--wavelet_weight", type=float, default=None, help="WF-VAE wavelet term weight (default 0.1)")
    p.add_argument("--lpips_ckpt_path", default="models/ae/lpips_vgg-426bf45c.ckpt",
                   help="LPIPS VGG16 trunk + heads (tools/model_conversion/convert_lpips.py)")
    add_bool_flag(p, "--use_recompute", False, "recompute each encoder/decoder level in the backward pass")
    add_bool_flag(p, "--jit", True, "compile the VAE step as one MindSpore graph (8x faster on CPU; "
                  "False: PyNative, op by op)")
    p.add_argument("--dtype", default="fp32", help="fp32 | fp16 (amp O2 over fp32 master weights)")
    p.add_argument("--amp_level", default="O2", help="accepted for compatibility")
    # data
    p.add_argument("--data_path", default="", help="folder of videos (or images), or one file")
    p.add_argument("--csv_path", default="", help="csv whose first column lists the files (relative to data_path)")
    p.add_argument("--dataset_name", default="video", choices=["video", "image"], help="what --data_path holds")
    p.add_argument("--num_frames", type=positive_int, default=17, help="frames per training clip (4k+1)")
    p.add_argument("--frame_stride", type=positive_int, default=1, help="take every Nth frame of the source video")
    p.add_argument("--size", type=positive_int, default=384, help="resize the short side to this")
    p.add_argument("--crop_size", type=positive_int, default=256, help="random crop of this size")
    add_bool_flag(p, "--flip", False, "random horizontal flip")
    # optimisation
    add_optimization_flags(p, optim="adam", betas=(0.5, 0.9), weight_decay=0.0, scheduler="cosine_decay",
                           batch_size=4, epochs=10, init_loss_scale=1024.0)
    p.add_argument("--base_learning_rate", type=float, default=4.5e-6,
                   help="learning rate (times batch x accumulation x ranks with --scale_lr)")
    add_bool_flag(p, "--scale_lr", True, "lr = base_learning_rate x batch_size x accumulation x ranks")
    add_bool_flag(p, "--freeze_encoder", False, "train the decoder only (encoder and quant_conv fixed): the "
                  "latent space stays as it is, so a diffusion model trained on its latents stays valid")
    add_run_flags(p, "outputs/vae_train", "write a source|reconstruction mp4 every N steps (0: only at the end)")
    return p


VAETrainSettings = settings_class("VAETrainSettings", build_vae_train_parser(),
                                  "The flags of train.py as typed fields (see python train.py -h).")
