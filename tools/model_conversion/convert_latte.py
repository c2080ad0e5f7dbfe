"""Convert a LatteT2V checkpoint (Open-Sora-Plan release or Latte's t2v.pt), or an Open-Sora-Plan v1.3
OpenSoraT2V_v1_3 release, to a MindSpore .ckpt.

    python tools/model_conversion/convert_latte.py --src models/17x256x256/diffusion_pytorch_model.safetensors \
        --target models/17x256x256/model.ckpt
    python tools/model_conversion/convert_latte.py --src models/t2v.pt --target models/t2v.ckpt
    python tools/model_conversion/convert_latte.py --src any93x640x640/diffusion_pytorch_model.safetensors \
        --target models/v1.3_any93x640x640/model.ckpt

The model class is the config's `_class_name` (LatteT2V when it names none).

Reads .safetensors (fp32/fp16/bf16 -> fp32) and .pt/.bin (tensors only: no pickle code runs; an `ema`,
`state_dict` or `model` entry is unwrapped). Names are checked strictly against --model_config.
"""

import argparse
import json
import sys

from mindspore.nn.utils import no_init_parameters

from opensora.io import convert_for_model, format_report
from opensora.models.diffusion.families import family_of_config
from opensora.utils.config import HelpFormatter, config_beside
from opensora.utils.errors import run_main

DEFAULT_CONFIG = "configs/diffusion/model/latte_t2v_17x256x256.json"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--src", "-s", required=True, help="source checkpoint (.safetensors, .pt, .bin, .ckpt)")
    parser.add_argument("--target", "-t", required=True, help="output MindSpore checkpoint (.ckpt)")
    parser.add_argument("--model_config", default="",
                        help="model config.json (LatteT2V or OpenSoraT2V_v1_3); default: the config.json next to "
                        "--src, else " + DEFAULT_CONFIG)
    parser.add_argument("--debug", action="store_true", help="show stack traces")
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    config_path = config_beside(args.src, args.model_config, DEFAULT_CONFIG)
    with open(config_path) as f:
        config = json.load(f)
    with no_init_parameters():  # names and shapes only: no memory for weights
        model = family_of_config(config, config_path)(config)
    shapes = {name: tuple(p.shape) for name, p in model.parameters_and_names()}
    report = convert_for_model(args.src, args.target, shapes, config_name=f"--model_config {config_path}")
    print(format_report(report))
    print(f"saved {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
