"""Initialise the causal video VAE from a 2-D image VAE ("tail" inflation).

    python tools/model_conversion/inflate_vae2d_to_vae3d.py --src /path/to/vae_2d.ckpt \
        --target models/causal_vae_488_init.ckpt

--src: a 2-D AutoencoderKL in diffusers names (sd-vae-ft-mse's diffusion_pytorch_model.safetensors) or LDM names
(.safetensors/.ckpt/.pt, e.g. the MindSpore 2-D checkpoint convert_vae.py writes). Each 2-D kernel goes to the
last temporal tap of the 3-D kernel (zeros elsewhere), so a 1-frame clip reproduces the 2-D VAE; norms and
biases are copied. The report lists every 3-D parameter left at its init (none for the 488 model).
"""

import argparse
import sys

from opensora.utils.config import HelpFormatter
from opensora.utils.errors import run_main


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--src", required=True, help="2-D VAE checkpoint (.safetensors, .ckpt, .pt/.pth/.bin)")
    p.add_argument("--target", default="models/causal_vae_488_init.ckpt", help="output .ckpt (the training "
                   "config's `pretrained`)")
    p.add_argument("--model_config", default="configs/ae/causal_vae_488.yaml",
                   help="causal VAE architecture (YAML or config.json) to inflate into")
    p.add_argument("--seed", type=int, default=42, help="init of 3-D parameters without a 2-D source, if any")
    p.add_argument("--debug", action="store_true", help="show stack traces")
    return p


def main(argv):
    args = build_parser().parse_args(argv)
    if not args.target.endswith(".ckpt"):
        from opensora.utils.errors import UserError

        raise UserError(f"--target {args.target}: the output must be a .ckpt file")
    import mindspore as ms

    from opensora.io import net_state, read_state_dict, save_state
    from opensora.models.ae import CausalVAEModel
    from opensora.models.ae.inflation import inflate, to_ldm_2d

    ms.set_seed(args.seed)
    ldm, layout = to_ldm_2d(read_state_dict(args.src), source=args.src)
    model = CausalVAEModel.from_config_file(args.model_config)
    state, report = inflate(ldm, net_state(model), source=args.src)
    print(f"{args.src}: 2-D VAE in {layout} names, {len(ldm)} tensors")
    print(f"inflated {len(report['inflated'])} kernels, copied {len(report['copied'])} tensors, "
          f"left at init {len(report['kept_init'])}, unused 2-D tensors {len(report['unused'])}")
    for label in ("kept_init", "unused"):
        for name in report[label]:
            print(f"  {label}: {name}")
    save_state(state, args.target)
    print(f"saved {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
