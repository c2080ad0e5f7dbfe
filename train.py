"""Train the causal video VAE (Open-Sora-Plan v1.0.0 CausalVAEModel with LPIPSWithDiscriminator), or the v1.3
WF-VAE (WFVAEModel with LPIPSWithDiscriminator3D) when --model_config is a WF-VAE config.json or folder.

    python train.py --config configs/ae/training/causal_vae_video.yaml
    python train.py --config configs/ae/training/wfvae_d8.yaml

Loss: L1 + LPIPS reconstruction NLL, KL (kl_weight), and -- with --use_discriminator -- a PatchGAN hinge loss with
the original's adaptive weight from `disc_start` (in optimizer steps, two per batch, as the original).
Checkpoints go to <output_path>/ckpt/step_XXXXXXXX/ (model.ckpt loads in infer_ae.py --ckpt_path); --resume
continues exactly. Per-step terms: <output_path>/train_log.jsonl, curves: loss_curves.png, reconstructions:
samples/step_XXXXXXXX.mp4 (source | reconstruction).
"""

import sys

from opensora.utils.config import parse_args, save_config
from opensora.utils.errors import run_main


def build_parser():
    from opensora.train.vae_flags import build_vae_train_parser

    return build_vae_train_parser(__doc__)


def main(argv):
    # 1. config
    args = parse_args(build_parser(), argv)
    run = training_for(args)(args)  # checks data, builds models, restores state
    if run.rank == 0:
        save_config(args, args.output_path)

    # 2. train
    from opensora.train.loop import train_loop, write_summary

    last, seconds = train_loop(run, args, desc="train vae", sample_at_end=True)

    # 3. summary
    summary = {"steps": run.step, "final_terms": last.get("terms"), "seconds": round(seconds, 1),
               "output": args.output_path}
    write_summary(run, args, summary)
    return 0


def training_for(args):
    """The family of --model_config (causal VAE YAML / config.json, or a WF-VAE config.json or folder)."""
    from opensora.models.ae import detect_family
    from opensora.utils.errors import UserError

    if detect_family(args.model_config) == "WFVAEModel":
        from opensora.train.wfvae_setup import WFVAETraining

        return WFVAETraining
    given = [f"--{k}" for k in ("loss_type", "wavelet_weight") if getattr(args, k) is not None]
    if given or args.wavelet_loss:
        raise UserError(f"{' '.join(given or ['--wavelet_loss'])}: WF-VAE loss options; --model_config "
                        f"{args.model_config} is a causal VAE")
    from opensora.train.vae_setup import VAETraining

    return VAETraining


if __name__ == "__main__":
    sys.exit(run_main(main))
