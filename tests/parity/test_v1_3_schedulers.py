"""The v1.3 sample script's samplers (v-prediction, zero-terminal-SNR betas, "trailing" spacing) against diffusers
0.30.2 (tests/fixtures/v1_3_schedulers: a fixed stand-in model output, the ancestral noise recorded)."""

import json

import numpy as np
import pytest
from conftest import fixture_path

from opensora.diffusion.schedulers import SAMPLERS, k_diffusion

META = json.load(open(fixture_path("v1_3_schedulers", "cases.json")))
DATA = np.load(fixture_path("v1_3_schedulers", "trajectories.npz"))


def stand_in_model(x, t):
    """The generator's stand-in (benchmarks/original/v1_3/make_v1_3_scheduler_fixtures.py)."""
    return (0.3 * x + 0.1 * np.sin(0.01 * float(t) + np.arange(x.size).reshape(x.shape))).astype(np.float32)


def close(actual, expected, gain, what, scale=None):
    """Equal to 16 fp32 ulps of the chain's largest value (`scale`, or the expected array's own), times `gain`:
    the first high-sigma steps are x + dx with |dx| ~ |x| ~ 4096 N(0, 1), so the rounding of x bounds how closely
    any two fp32 evaluations agree from then on -- the same arithmetic, not a looser check of it."""
    scale = float(np.abs(expected).max()) if scale is None else scale
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=16 * np.finfo(np.float32).eps * scale * gain,
                               err_msg=what)


@pytest.mark.parametrize("case", sorted(META["cases"]))
def test_schedule_and_trajectory_equal_diffusers(case, monkeypatch):
    spec = META["cases"][case]
    scheduler = SAMPLERS[case.split("_")[0]](**spec["kwargs"])
    scheduler.set_timesteps(META["steps"])
    np.testing.assert_array_equal(np.asarray(scheduler.timesteps, np.float64), spec["timesteps"])
    np.testing.assert_allclose(scheduler.alphas_cumprod, DATA[f"{case}/alphas_cumprod"], rtol=1e-6, atol=1e-9)
    if f"{case}/sigmas" in DATA:
        np.testing.assert_allclose(scheduler.sigmas, DATA[f"{case}/sigmas"], rtol=1e-6)
    assert scheduler.init_noise_sigma == pytest.approx(spec["init_noise_sigma"], rel=1e-6)
    draws = iter(DATA[f"{case}/noise"])
    monkeypatch.setattr(k_diffusion, "randn", lambda shape, generator: next(draws))
    sample = DATA[f"{case}/x_init"]
    scale = float(np.abs(sample).max())  # the chain's largest value: x_init (x sigma_max = 4096 with zero SNR)
    for i, t in enumerate(scheduler.timesteps):
        model_input = scheduler.scale_model_input(sample, t)
        close(model_input, DATA[f"{case}/input_{i}"], scale / float(np.abs(sample).max()), f"input {i}")
        sample = scheduler.step(stand_in_model(model_input, t), t, sample, return_dict=False)[0]
        close(sample, DATA[f"{case}/prev_{i}"], 1.0, f"step {i}", scale)


@pytest.mark.parametrize("name, kwargs, message", [
    ("DDPM", {"prediction_type": "v_prediction"}, "prediction_type='v_prediction' is not implemented"),
    ("DPMSolverMultistep", {"rescale_betas_zero_snr": True}, "rescale_betas_zero_snr is not implemented"),
    ("HeunDiscrete", {"timestep_spacing": "trailing"}, "timestep_spacing='trailing' is not implemented"),
])
def test_options_a_sampler_lacks_are_refused_not_ignored(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SAMPLERS[name](**kwargs)
