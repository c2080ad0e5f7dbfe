"""Build the LPIPS checkpoint the VAE training loss reads: VGG16 trunk + the v0.1 linear heads.

    python tools/model_conversion/convert_lpips.py --vgg /path/to/vgg16-397923af.pth \
        --target models/ae/lpips_vgg-426bf45c.ckpt

--vgg: torchvision's ImageNet VGG16 (vgg16-397923af.pth; .safetensors and mindcv/MindSpore .ckpt work too).
--heads: the LPIPS v0.1 heads. Default: lpips/weights/v0.1/vgg.pth of an installed `lpips` package (the file
the original loads, md5 d507d734...), found without importing the package; the original MindSpore port's
lpips_vgg-426bf45c.ckpt (heads only) works as well. No pickle code runs: .pth files are read tensor by tensor.
"""

import argparse
import importlib.util
import os
import sys

from opensora.utils.config import HelpFormatter
from opensora.utils.errors import UserError, run_main


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--vgg", required=True, help="VGG16 ImageNet weights (torchvision vgg16-397923af.pth)")
    p.add_argument("--heads", default="", help="LPIPS v0.1 vgg heads (default: from the installed lpips package)")
    p.add_argument("--target", default="models/ae/lpips_vgg-426bf45c.ckpt", help="output .ckpt")
    p.add_argument("--debug", action="store_true", help="show stack traces")
    return p


def installed_lpips_heads():
    spec = importlib.util.find_spec("lpips")  # locates the package; its torch-importing code does not run
    if spec is None or not spec.submodule_search_locations:
        return ""
    path = os.path.join(list(spec.submodule_search_locations)[0], "weights", "v0.1", "vgg.pth")
    return path if os.path.isfile(path) else ""


def main(argv):
    args = build_parser().parse_args(argv)
    heads = args.heads or installed_lpips_heads()
    if not heads:
        raise UserError("--heads: no LPIPS heads given and no `lpips` package found; pip install lpips --no-deps "
                        "(or pass --heads /path/to/lpips/weights/v0.1/vgg.pth)")
    if not args.target.endswith(".ckpt"):
        raise UserError(f"--target {args.target}: the output must be a .ckpt file")
    from opensora.io import read_state_dict, save_state
    from opensora.models.ae.losses.lpips import LPIPS, canonical_lpips_state

    trunk = {k: v for k, v in canonical_lpips_state(read_state_dict(args.vgg)).items() if k.startswith("net.")}
    lins = {k: v for k, v in canonical_lpips_state(read_state_dict(heads)).items() if k.startswith("lin")}
    names = [n for n, _ in LPIPS().parameters_and_names()]
    state = {**trunk, **lins}
    missing = [n for n in names if n not in state]
    if missing:
        source = args.vgg if missing[0].startswith("net.") else heads
        raise UserError(f"{source}: {len(missing)} LPIPS tensors missing (e.g. {missing[0]}); is it the right file?")
    save_state({n: state[n] for n in names}, args.target)
    print(f"VGG16 trunk from {args.vgg} ({len(trunk)} tensors) + heads from {heads} ({len(lins)}) -> {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
