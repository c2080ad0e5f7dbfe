"""Golden tests for every sampler (no weights): the math argument plus recorded values.

Why the math is right: with a data distribution that is a single point x0, the exact noise prediction is
eps(x_t, t) = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t) and the probability-flow ODE keeps eps constant. So
every sampler driven by this oracle (through `scale_model_input` and `step`, as the pipeline drives it) must end
on x0 -- or, for the two that stop at t=0 instead of sigma=0 (PNDM with set_alpha_to_one=False, DEIS), on
sqrt(abar_0) x0 + sqrt(1 - abar_0) eps. Ancestral samplers add noise that the final sigma=0 step removes.
The recorded values then pin each sampler's trajectory against silent change.
"""

import numpy as np
import pytest

from opensora.diffusion.schedulers import SAMPLERS

ENDS_AT_T0 = {"PNDM", "DEISMultistep"}
STOCHASTIC = {"DDPM", "EulerAncestralDiscrete", "KDPM2AncestralDiscrete"}
SHAPE = (1, 4, 3, 4, 4)


def abar_at(sched, t):
    return float(np.interp(float(t), np.arange(len(sched.alphas_cumprod)), sched.alphas_cumprod.astype(np.float64)))


def run(name, model, steps=20, seed=0):
    sched = SAMPLERS[name]()
    sched.set_timesteps(steps)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(SHAPE) * sched.init_noise_sigma).astype(np.float32)
    x_init, calls = x.copy(), 0
    for t in sched.timesteps:
        model_in = sched.scale_model_input(x, t)
        kwargs = {"generator": rng} if name in STOCHASTIC else {}
        x = sched.step(model(model_in, t, sched), t, x, **kwargs)[0]
        calls += 1
    return x, x_init, calls


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_oracle_model_recovers_the_data_point(name):
    x0 = np.random.default_rng(1).uniform(-1, 1, SHAPE).astype(np.float32)

    def oracle(x_in, t, sched):
        abar = abar_at(sched, t)
        return ((x_in - np.sqrt(abar) * x0) / np.sqrt(1 - abar)).astype(np.float32)

    out, x_init, _ = run(name, oracle)
    if name in ENDS_AT_T0:
        sched = SAMPLERS[name]()
        sched.set_timesteps(20)
        assert sched.init_noise_sigma == 1.0  # so x_init is the model's first input as it is
        abar_t, abar_0 = abar_at(sched, sched.timesteps[0]), float(sched.alphas_cumprod[0])
        eps = (x_init - np.sqrt(abar_t) * x0) / np.sqrt(1 - abar_t)
        expected = np.sqrt(abar_0) * x0 + np.sqrt(1 - abar_0) * eps
        np.testing.assert_allclose(out, expected, atol=2e-4)
    else:
        np.testing.assert_allclose(out, x0, atol=2e-4)


# (model calls for 20 steps, sum, mean |x|) of the final latents with the dummy model below, seed 0.
GOLDEN = {
    "DDIM": (20, 35.610164642333984, 0.3654078245162964),
    "DDPM": (20, -16.82520866394043, 0.574333667755127),
    "DEISMultistep": (20, -2067.89111328125, 69.44969177246094),
    "DPMSolverMultistep": (20, -2041.590576171875, 69.09580993652344),
    "DPMSolverSinglestep": (20, -2072.617919921875, 69.48721313476562),
    "EulerAncestralDiscrete": (20, -4601.3798828125, 77.33656311035156),
    "EulerDiscrete": (20, -2168.69677734375, 70.7667007446289),
    "HeunDiscrete": (39, -287.76251220703125, 10.992546081542969),
    "KDPM2AncestralDiscrete": (39, -443.3150939941406, 11.795681953430176),
    "PNDM": (29, -1154.5771484375, 42.254337310791016),
}


def dummy_model(x_in, t, sched):
    """A fixed, smooth non-oracle model: eps = 0.5 * tanh(x) + 0.1 * t/1000."""
    return (0.5 * np.tanh(x_in) + 0.1 * float(t) / 1000.0).astype(np.float32)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_golden_trajectory(name):
    out, _, calls = run(name, dummy_model)
    assert np.isfinite(out).all()
    got = (calls, float(out.sum()), float(np.abs(out).mean()))
    expected = GOLDEN[name]
    assert got[0] == expected[0]
    np.testing.assert_allclose(got[1:], expected[1:], rtol=1e-5, atol=1e-5)


def test_pndm_runs_prk_first_59_calls_for_50_steps():
    sched = SAMPLERS["PNDM"]()
    sched.set_timesteps(50)
    assert len(sched.timesteps) == 59 and list(sched.timesteps[:4]) == [980, 970, 970, 960]


def test_heun_and_kdpm2_take_two_calls_per_step():
    for name in ("HeunDiscrete", "KDPM2AncestralDiscrete"):
        sched = SAMPLERS[name]()
        sched.set_timesteps(10)
        assert len(sched.timesteps) == 19 and sched.order == 2


def test_progress_label_explains_the_model_calls():
    """The sampling bar counts model calls; its label says why PNDM's exceed --sampling_steps."""
    labels = {}
    for name, skip in (("PNDM", False), ("PNDM", True), ("HeunDiscrete", False), ("DDIM", False)):
        sched = SAMPLERS[name](skip_prk_steps=True) if skip else SAMPLERS[name]()
        sched.set_timesteps(50)
        labels[name, skip] = sched.describe_calls(50)
        assert labels[name, skip].endswith(f"{len(sched.timesteps)} model calls" if name != "DDIM" else "50 steps")
    assert labels["PNDM", False] == "PNDM: 50 steps + 9 warm-up = 59 model calls"
    assert labels["PNDM", True] == "PNDM: 50 steps + 1 warm-up = 51 model calls"
    assert labels["HeunDiscrete", False] == "HeunDiscrete: 50 steps + 49 second-order = 99 model calls"
