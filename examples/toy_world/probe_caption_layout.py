"""How much of its caption's layout does a toy-world LatteT2V put into its prediction at each noise level?

    python examples/toy_world/probe_caption_layout.py --config examples/toy_world/configs/t2v_demo.yaml \
        [--checkpoint latte.ckpt]

Renders fresh clips of the held-in combinations, encodes them with the config's VAE and captions with its T5,
noises each latent to step t and turns the model's eps into the x0 it implies (mean over --noise_draws). Per
clip, alpha is the component of that x0 along its direction's mean latent, measured from the mean over all four
directions of its colour: alpha = <x0 - m_colour, m_dir - m_colour> / |m_dir - m_colour|^2. A model that
predicts the caption's conditional mean has alpha ~ 1; one that ignores the direction, 0. The sampler lays out
a frame at t ~ 600-900, so alpha there is what decides whether samples move the caption's way
(docs/demo_model.md: stage 5 had alpha 0.1-0.2 at t >= 700 and direction 37.5%; stage 6, 0.6-0.9 and 100%).
"""

import argparse
import json
import os
import sys

import numpy as np
import yaml

from opensora.utils.config import HelpFormatter
from opensora.utils.errors import UserError, run_main

# the keys of examples/toy_world/configs/t2v_demo.yaml (infer_diffusion.py flags) that the probe reads
RUN_SETTINGS = (
    "model_config",
    "checkpoint",
    "vae_config",
    "vae_checkpoint",
    "t5_model_dir",
    "t5_max_length",
    "sd_scale_factor",
)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--config", required=True, help="infer_diffusion.py run settings of a toy-world model")
    p.add_argument("--checkpoint", default=None, help="LatteT2V weights (default: the config's checkpoint)")
    p.add_argument("--timesteps", type=int, nargs="+", default=[300, 500, 600, 700, 800, 900],
                   help="noise levels t to probe")
    p.add_argument("--clips_per_combination", type=int, default=2, help="fresh clips of each of the 40 held-in ones")
    p.add_argument("--noise_draws", type=int, default=8, help="noise draws averaged per clip and t")
    p.add_argument("--seed", type=int, default=3000, help="seed of the rendered clips and noise")
    p.add_argument("--output_json", default=None, help="also write the table here")
    return p


def direction_alpha(x0_pred, groups, means):
    """Per clip: the component of x0_pred along its direction's mean, from its colour's mean over directions.

    x0_pred (N, ...); groups [(colour, motion)] * N; means {(colour, motion): array} -> (alpha (N,), nearest (N,)
    True where the clip's own direction mean is the nearest of its colour's four)."""
    alphas, nearest = [], []
    for pred, (colour, motion) in zip(x0_pred, groups):
        own = {m: v for (c, m), v in means.items() if c == colour}
        centre = np.mean(list(own.values()), axis=0)
        axis = own[motion] - centre
        alphas.append(float(((pred - centre) * axis).sum() / (axis * axis).sum()))
        dist = {m: float(((pred - v) ** 2).sum()) for m, v in own.items()}
        nearest.append(min(dist, key=dist.get) == motion)
    return np.array(alphas), np.array(nearest)


def read_run_settings(path):
    if not os.path.isfile(path):
        raise UserError(f"--config {path}: file not found")
    with open(path) as f:
        cfg = yaml.safe_load(f) or {}
    missing = [k for k in RUN_SETTINGS if k not in cfg]
    if missing:
        raise UserError(
            f"--config {path}: needs {', '.join(missing)} (as examples/toy_world/configs/t2v_demo.yaml has)"
        )
    return cfg


def main(argv=None):
    args = build_parser().parse_args(argv)
    cfg = read_run_settings(args.config)
    import mindspore as ms

    from opensora.dataset.video_io import frames_to_tensor
    from opensora.diffusion import create_diffusion
    from opensora.models.ae import CausalVAEModel
    from opensora.models.diffusion.latte.model import LatteT2V
    from opensora.models.text_encoder import T5Embedder
    from toy_world.toy_shapes import make_clips, split_combinations

    held_in, _ = split_combinations()
    clips = list(make_clips(held_in, args.clips_per_combination, args.seed))
    vae = CausalVAEModel.from_pretrained(cfg["vae_config"], checkpoint=cfg["vae_checkpoint"])
    vae.set_train(False)
    scale = np.float32(cfg["sd_scale_factor"])
    x0 = np.stack([vae.encode(ms.Tensor(frames_to_tensor(c[3])[None])).mode().asnumpy()[0] for c in clips]) * scale
    text, mask = T5Embedder(cfg["t5_model_dir"], cfg["t5_max_length"], use_clean_caption=False).encode(
        [c[1] for c in clips]
    )
    with open(cfg["model_config"]) as f:
        latte = LatteT2V(json.load(f))
    latte.load_checkpoint(args.checkpoint or cfg["checkpoint"])
    latte.set_train(False)

    groups = [(colour, motion) for _, _, (colour, _, motion), _ in clips]
    means = {g: x0[[i for i, h in enumerate(groups) if h == g]].mean(axis=0) for g in set(groups)}
    diffusion = create_diffusion("")  # its float64 tables, as q_sample and _predict_xstart_from_eps use them
    rng = np.random.default_rng(args.seed)
    rows = []
    for t in args.timesteps:
        preds = []
        for _ in range(args.noise_draws):
            noise = rng.standard_normal(x0.shape).astype(np.float32)
            x_t = (diffusion.sqrt_alphas_cumprod[t] * x0 + diffusion.sqrt_one_minus_alphas_cumprod[t] * noise).astype(
                np.float32
            )
            out = latte(
                ms.Tensor(x_t),
                ms.Tensor(np.full(len(clips), t, np.int32)),
                ms.Tensor(text),
                ms.Tensor(mask.astype(np.float32)),
            )
            eps = (out[0] if isinstance(out, (tuple, list)) else out).asnumpy()[:, : x0.shape[1]]
            preds.append(diffusion.sqrt_recip_alphas_cumprod[t] * x_t - diffusion.sqrt_recipm1_alphas_cumprod[t] * eps)
        alpha, nearest = direction_alpha(np.mean(preds, axis=0), groups, means)
        rows.append(
            {
                "t": t,
                "alpha_mean": round(float(alpha.mean()), 4),
                "alpha_std": round(float(alpha.std()), 4),
                "own_direction_nearest": round(float(nearest.mean()), 4),
            }
        )
        print(
            f"t={t:4d}  alpha {alpha.mean():6.3f} +- {alpha.std():.3f}   x0 nearest its own direction's mean: "
            f"{nearest.mean():.0%} of {len(clips)} clips",
            flush=True,
        )
    if args.output_json:
        with open(args.output_json, "w") as f:
            json.dump({"checkpoint": args.checkpoint or cfg["checkpoint"], "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
