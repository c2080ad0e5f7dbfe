"""train_diffusion.py with the demo model's two training experiments (docs/demo_model.md, stages 5 and 6):

    python examples/toy_world/train_latte.py --config examples/toy_world/configs/train_latte_x0.yaml

    --timestep_range LOW HIGH   train on t ~ U[LOW, HIGH) (the original: 0 1000), e.g. 500 1000: the steps that lay
                                out a frame
    --x0_weight_cap CAP         weight the MSE of step t by min(max(1/SNR_t, 1), CAP): an x0-space loss at high
                                noise (0: every t alike, the original)

Every other flag is train_diffusion.py's (python train_diffusion.py -h).
"""

import sys

from opensora.utils.config import parse_args
from opensora.utils.errors import UserError, run_main

TOY_FLAGS = ("timestep_range", "x0_weight_cap")


def build_parser():
    from opensora.train.t2v_flags import build_t2v_train_parser

    p = build_t2v_train_parser(__doc__)
    p.add_argument("--timestep_range", type=int, nargs=2, default=[0, 1000], metavar=("LOW", "HIGH"),
                   help="train on t ~ U[LOW, HIGH) (the original: 0 1000)")
    p.add_argument("--x0_weight_cap", type=float, default=0.0,
                   help="weight the MSE of step t by min(max(1/SNR_t, 1), CAP) (0: every t alike, the original)")
    return p


def main(argv):
    import argparse

    from opensora.diffusion import create_diffusion
    from opensora.train.t2v_setup import run_t2v_training
    from toy_world.loss_weights import x0_capped_weights

    args = parse_args(build_parser(), argv)
    core = argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in TOY_FLAGS})
    try:
        weights = x0_capped_weights(create_diffusion("").alphas_cumprod, args.x0_weight_cap)
    except ValueError as err:
        raise UserError(f"--x0_weight_cap {args.x0_weight_cap}: {err}") from err
    run_t2v_training(core, config_to_save=args, timestep_range=tuple(args.timestep_range),
                     mse_weight=weights if args.x0_weight_cap else None,
                     option_names=("--timestep_range", "--x0_weight_cap"))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
