"""Convert a causal VAE checkpoint (original PyTorch names) to a MindSpore .ckpt.

    python tools/model_conversion/convert_vae.py --src /path/to/diffusion_pytorch_model.safetensors \
        --target models/ae/causal_vae_488.ckpt

Reads .safetensors, .pt/.pth/.bin (tensors only: no pickle code runs) and .ckpt. Names are matched to the
model built from --model_config; the training loss's `loss.*` keys are dropped; anything else that does not
match is an error.
"""

import argparse
import sys

from opensora.models.ae import CausalVAEModel
from opensora.models.checkpoint import map_names, read_state_dict, save_state
from opensora.utils.errors import UserError, run_main


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
    if not args.target.endswith(".ckpt"):
        raise UserError(f"--target {args.target}: the output must be a .ckpt file")
    state = read_state_dict(args.src)
    model = CausalVAEModel.from_config_file(args.model_config)
    targets = {name: tuple(p.shape) for name, p in model.parameters_and_names()}
    mapped, dropped, unexpected = map_names(state, targets.keys(), drop_prefixes=("loss.",))
    missing = [n for n in targets if n not in mapped]
    shape_errors = [n for n, v in mapped.items() if tuple(v.shape) != targets[n]]
    print(f"converted {len(mapped)} / dropped {len(dropped)} (loss.*) / missing {len(missing)} / "
          f"unexpected {len(unexpected)} / shape mismatches {len(shape_errors)}")
    if missing or unexpected or shape_errors:
        parts = [f"{label} e.g. {', '.join(names[:3])}" for label, names in
                 (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shape_errors)) if names]
        detail = "; ".join(parts)
        raise UserError(f"{args.src}: does not match --model_config {args.model_config}: {detail}")
    state = {name: mapped[name].astype("float32") for name in targets}
    save_state(state, args.target)
    print(f"saved {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
