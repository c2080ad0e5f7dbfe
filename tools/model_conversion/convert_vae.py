"""Convert a causal VAE checkpoint (original PyTorch names) to a MindSpore .ckpt.

    python tools/model_conversion/convert_vae.py --src /path/to/diffusion_pytorch_model.safetensors \
        --target models/ae/causal_vae_488.ckpt

Reads .safetensors, .pt/.pth/.bin (tensors only: no pickle code runs) and .ckpt. Names are matched to the
model built from --model_config; the training loss's `loss.*` keys are dropped; anything else that does not
match is an error.
"""

import argparse
import sys

from mindspore.nn.utils import no_init_parameters

from opensora.models.ae import CausalVAEModel
from opensora.models.checkpoint import convert_for_model
from opensora.utils.errors import run_main


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="source checkpoint (.safetensors, .pt, .pth, .bin, .ckpt)")
    parser.add_argument("--target", required=True, help="output MindSpore checkpoint (.ckpt)")
    parser.add_argument("--model_config", default="configs/ae/causal_vae_488.yaml",
                        help="VAE architecture (YAML or released config.json) the names are checked against")
    parser.add_argument("--debug", action="store_true", help="show stack traces")
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    with no_init_parameters():  # names and shapes only: no memory for weights
        model = CausalVAEModel.from_config_file(args.model_config)
    shapes = {name: tuple(p.shape) for name, p in model.parameters_and_names()}
    convert_for_model(args.src, args.target, shapes, drop_prefixes=("loss.",),
                      config_name=f"--model_config {args.model_config}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
