"""Ground truth for the v1.3 sampling schedulers (tests/fixtures/v1_3_schedulers): diffusers 0.30.2 -- the
original v1.3's pin -- built as its `get_scheduler` builds them for the released sample script
(`--prediction_type v_prediction --rescale_betas_zero_snr`: zero-terminal-SNR betas, "trailing" spacing), run for a
few steps on a fixed stand-in model output, with the ancestral noise given (diffusers' randn_tensor replaced by a
recorded draw), in fp32.

Not part of this project's install:

    /work/scratch/torchvenv/bin/python benchmarks/original/v1_3/make_v1_3_scheduler_fixtures.py \\
        --out tests/fixtures/v1_3_schedulers
"""

import argparse
import hashlib
import json
import os

import numpy as np

SHAPE = (1, 4, 2, 3, 3)
STEPS = 10
CASES = {  # the v1.3 sample script's kwargs (opensora/utils/sample_utils.py get_scheduler) for these samplers
    "EulerAncestralDiscrete": dict(prediction_type="v_prediction", rescale_betas_zero_snr=True,
                                   timestep_spacing="trailing"),
    "EulerDiscrete": dict(prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing"),
    "DDIM": dict(prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing",
                 clip_sample=False),
    "EulerAncestralDiscrete_eps": dict(prediction_type="epsilon", rescale_betas_zero_snr=False,
                                       timestep_spacing="leading"),
}


def stand_in_model(x, t):
    """A smooth, timestep-dependent 'model output' (what the scheduler turns into x0)."""
    return (0.3 * x + 0.1 * np.sin(0.01 * float(t) + np.arange(x.size).reshape(x.shape))).astype(np.float32)


def main():
    import diffusers
    import torch
    from diffusers import DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler
    from diffusers.schedulers import scheduling_euler_ancestral_discrete as ancestral

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    classes = {"EulerAncestralDiscrete": EulerAncestralDiscreteScheduler, "EulerDiscrete": EulerDiscreteScheduler,
               "DDIM": DDIMScheduler}
    rng = np.random.RandomState(5)
    arrays, meta = {}, {"diffusers": diffusers.__version__, "steps": STEPS, "shape": list(SHAPE), "cases": {}}
    for name, kwargs in CASES.items():
        cls = classes[name.split("_")[0]]
        scheduler = cls(**kwargs)
        scheduler.set_timesteps(STEPS)
        x = (rng.standard_normal(SHAPE) * float(scheduler.init_noise_sigma)).astype(np.float32)
        noises = rng.standard_normal((STEPS,) + SHAPE).astype(np.float32)
        draws = iter(noises)
        ancestral.randn_tensor = lambda shape, draws=draws, **kw: torch.from_numpy(next(draws))
        arrays[f"{name}/x_init"] = x
        arrays[f"{name}/noise"] = noises
        arrays[f"{name}/alphas_cumprod"] = scheduler.alphas_cumprod.numpy()
        if hasattr(scheduler, "sigmas"):
            arrays[f"{name}/sigmas"] = scheduler.sigmas.numpy()
        sample = torch.from_numpy(x)
        for i, t in enumerate(scheduler.timesteps):
            model_input = scheduler.scale_model_input(sample, t)
            out = torch.from_numpy(stand_in_model(model_input.numpy(), float(t)))
            step = scheduler.step(out, t, sample, return_dict=True)
            sample = step.prev_sample
            arrays[f"{name}/input_{i}"] = model_input.numpy()
            arrays[f"{name}/prev_{i}"] = sample.numpy()
        meta["cases"][name] = {"kwargs": kwargs, "timesteps": scheduler.timesteps.numpy().tolist(),
                               "init_noise_sigma": float(scheduler.init_noise_sigma)}
    np.savez_compressed(os.path.join(args.out, "trajectories.npz"), **arrays)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(args.out, "MANIFEST.sha256"), "w") as f:
        for file in ("cases.json", "trajectories.npz"):
            f.write(f"{hashlib.sha256(open(os.path.join(args.out, file), 'rb').read()).hexdigest()}  {file}\n")
    print({k: v["timesteps"][:3] + ["..."] + [v["init_noise_sigma"]] for k, v in meta["cases"].items()})


if __name__ == "__main__":
    main()
