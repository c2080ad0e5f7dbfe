"""Convert a causal VAE or WF-VAE checkpoint (original PyTorch names) -- or a 2-D image VAE -- to a MindSpore .ckpt.

    python tools/model_conversion/convert_vae.py --src /path/to/diffusion_pytorch_model.safetensors \
        --target models/ae/causal_vae_488.ckpt
    python tools/model_conversion/convert_vae.py --src Open-Sora-Plan-v1.3.0/vae/merged.ckpt \
        --target models/wfvae/model.ckpt

The architecture comes from --model_config, else the config.json next to --src, else configs/ae/causal_vae_488.yaml.
A WF-VAE config (the v1.3 release's vae/config.json: `_class_name` WFVAEModel) makes it a WF-VAE: its merged.ckpt (a
torch training checkpoint) is read as the original's init_from_ckpt reads it (the EMA weights when it has any, else
state_dict's gen_model), and the Haar filters it lacks are written at their constant values.

A 2-D VAE (e.g. sd-vae-ft-mse in diffusers names, or an LDM-named AutoencoderKL) is recognised by its keys and
written as a MindSpore 2-D VAE checkpoint (LDM names, GroupNorm gamma/beta, attention as 1x1 convs), the input
of tools/model_conversion/inflate_vae2d_to_vae3d.py.

Reads .safetensors, .pt/.pth/.bin (tensors only: no pickle code runs) and .ckpt. Names are matched to the
model built from --model_config; the training loss's `loss.*` keys are dropped; anything else that does not
match is an error.
"""

import argparse
import sys

from mindspore.nn.utils import no_init_parameters

from opensora.io import convert_for_model, format_report
from opensora.models.ae import CausalVAEModel, detect_family
from opensora.models.ae.families import IMAGE_VAE_CLASSES, declared_class
from opensora.utils.config import HelpFormatter, config_beside
from opensora.utils.errors import UserError, run_main

DEFAULT_CONFIG = "configs/ae/causal_vae_488.yaml"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--src", required=True, help="source checkpoint (.safetensors, .pt, .pth, .bin, .ckpt)")
    parser.add_argument("--target", required=True, help="output MindSpore checkpoint (.ckpt)")
    parser.add_argument("--model_config", default="",
                        help="VAE architecture (YAML or released config.json) the names are checked against; "
                        f"default: the config.json next to --src, else {DEFAULT_CONFIG}")
    parser.add_argument("--debug", action="store_true", help="show stack traces")
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    from opensora.io import read_state_dict
    from opensora.models.ae.inflation import detect_2d_layout

    config_path = config_beside(args.src, args.model_config, DEFAULT_CONFIG)
    image_vae = declared_class(config_path) in IMAGE_VAE_CLASSES  # e.g. sd-vae-ft-mse's own config.json
    if not image_vae and detect_family(config_path) == "WFVAEModel":
        return convert_wfvae(config_path, args)
    state = read_state_dict(args.src)
    if detect_2d_layout(state):
        return convert_2d(state, args)
    if image_vae:
        raise UserError(f"{args.src}: {config_path} names a 2-D image VAE, but the checkpoint has neither diffusers "
                        "nor LDM AutoencoderKL names; pass the right --src or --model_config")
    with no_init_parameters():  # names and shapes only: no memory for weights
        model = CausalVAEModel.from_config_file(config_path)
    shapes = {name: tuple(p.shape) for name, p in model.parameters_and_names()}
    report = convert_for_model(args.src, args.target, shapes, drop_prefixes=("loss.",),
                               config_name=f"--model_config {config_path}")
    print(format_report(report))
    print(f"saved {args.target}")
    return 0


def convert_wfvae(config_path, args):
    """A WF-VAE checkpoint (torch merged.ckpt / .pt, safetensors, MindSpore .ckpt) -> a complete MindSpore .ckpt.

    The weights are picked as the original's init_from_ckpt picks them (read_wfvae_state: EMA when present); the
    Haar filters the EMA weights lack get their constants (the original's non-strict load keeps them too)."""
    from opensora.models.ae.wfvae import WFVAEModel, read_wfvae_state

    with no_init_parameters():  # names and shapes only: no memory for weights
        model = WFVAEModel.from_config_file(config_path)
    shapes = {name: tuple(p.shape) for name, p in model.parameters_and_names()}
    state = read_wfvae_state(args.src)
    filled = model.fill_fixed(state)
    report = convert_for_model(args.src, args.target, shapes, drop_prefixes=("loss.",),
                               config_name=f"--model_config {config_path}", state=filled)
    added = len(filled) - len(state)
    print(f"{args.src}: a WFVAEModel checkpoint ({config_path})"
          + (f"; {added} constant Haar filters not in it, written at their values" if added else ""))
    print(format_report(report))
    print(f"saved {args.target}")
    return 0


def convert_2d(state, args):
    import re

    from opensora.io import save_state
    from opensora.models.ae.inflation import to_ldm_2d

    if not args.target.endswith(".ckpt"):
        raise UserError(f"--target {args.target}: the output must be a .ckpt file")
    ldm, layout = to_ldm_2d(state, source=args.src)
    norm = re.compile(r"(norm\d?|norm_out)\.(weight|bias)$")  # GroupNorm affine -> MindSpore gamma/beta
    out = {norm.sub(lambda m: f"{m.group(1)}.{'gamma' if m.group(2) == 'weight' else 'beta'}", k): v
           for k, v in ldm.items()}
    save_state(out, args.target)
    print(f"{args.src}: a 2-D VAE in {layout} names ({len(out)} tensors); wrote the MindSpore 2-D VAE checkpoint "
          f"{args.target} -- next: python tools/model_conversion/inflate_vae2d_to_vae3d.py --src {args.target} "
          "--target models/causal_vae_488_init.ckpt")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
