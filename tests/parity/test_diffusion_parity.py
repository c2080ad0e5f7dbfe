"""Gaussian diffusion and the PNDM/DDIM samplers vs the original's outputs (fixture diffusion/)."""

import json
import math

import mindspore as ms
import numpy as np
import pytest
from conftest import assert_close, fixture_path, load_fixture
from mindspore import nn

from opensora.diffusion import create_diffusion
from opensora.diffusion.schedulers import SAMPLERS, DDIMScheduler, PNDMScheduler
from opensora.diffusion.training_loss import IDDPMLoss

# Fixture README: schedule / x_t / mse / schedulers rtol 1e-5 atol 1e-6; vb (t=0 NLL) rtol 1e-4.


def test_schedule_float64():
    diffusion = create_diffusion("")
    ref = np.load(fixture_path("diffusion", "schedule_linear_1000.npz"))
    for key in ref.files:
        assert_close(getattr(diffusion, key), ref[key], 1e-12, 1e-15, key)


def test_training_losses_including_t0_decoder_nll():
    diffusion = create_diffusion("")
    folder = ("diffusion", "training_losses")
    x_start, noise = ms.Tensor(load_fixture(*folder, "x_start.npy")), ms.Tensor(load_fixture(*folder, "noise.npy"))
    t = ms.Tensor(load_fixture(*folder, "t.npy"))
    assert 0 in load_fixture(*folder, "t.npy")
    model_output = ms.Tensor(load_fixture(*folder, "model_output.npy"))
    terms = diffusion.training_losses(lambda x, ts, **kw: (model_output,), x_start, t, model_kwargs={}, noise=noise)
    assert_close(diffusion.q_sample(x_start, t, noise).asnumpy(), load_fixture(*folder, "x_t.npy"), 1e-5, 1e-6, "x_t")
    assert_close(terms["mse"].asnumpy(), load_fixture(*folder, "mse.npy"), 1e-5, 1e-6, "mse")
    assert_close(terms["vb"].asnumpy(), load_fixture(*folder, "vb.npy"), 1e-4, 0, "vb")
    assert_close(terms["loss"].asnumpy(), load_fixture(*folder, "loss.npy"), 1e-4, 0, "loss")


def test_respaced_p_mean_variance_calls_model_with_mapped_timesteps():
    folder = ("diffusion", "p_mean_variance_respaced250")
    diffusion = create_diffusion("250")
    assert_close(diffusion.betas, load_fixture(*folder, "betas_respaced.npy"), 1e-12, 0, "betas")
    np.testing.assert_array_equal(diffusion.timestep_map, load_fixture(*folder, "timestep_map.npy"))
    seen = []
    output = ms.Tensor(load_fixture(*folder, "model_output.npy"))

    def model(x, t):
        seen.append(t.asnumpy())
        return output

    out = diffusion.p_mean_variance(model, ms.Tensor(load_fixture(*folder, "x.npy")),
                                    ms.Tensor(load_fixture(*folder, "t.npy")), clip_denoised=False)
    np.testing.assert_array_equal(seen[0], load_fixture(*folder, "model_t_seen.npy"))
    for key in ("mean", "variance", "log_variance"):
        assert_close(out[key].asnumpy(), load_fixture(*folder, f"{key}.npy"), 1e-5, 1e-6, key)
    ref = load_fixture(*folder, "pred_xstart.npy")  # x 1/sqrt(abar) ~ 156 at t=999: relative to magnitude
    assert np.abs(out["pred_xstart"].asnumpy() - ref).max() <= 1e-5 * np.abs(ref).max()


@pytest.mark.parametrize("name,cls,kwargs", [("ddim", DDIMScheduler, {"eta": 0.0}), ("pndm", PNDMScheduler, {})])
def test_scheduler_steps(name, cls, kwargs):
    folder = ("diffusion", "schedulers", name)
    call = json.load(open(fixture_path(*folder, "call.json")))
    for n in (250, 50):
        sched = cls()
        sched.set_timesteps(n)
        np.testing.assert_array_equal(sched.timesteps, load_fixture(*folder, f"timesteps_{n}.npy"))
    latents = ms.Tensor(load_fixture(*folder, "latents_in.npy"))
    for i in range(call["steps_run"]):
        eps = ms.Tensor(load_fixture(*folder, f"step{i:02d}_model_output.npy"))
        latents = sched.step(eps, sched.timesteps[i], latents, **kwargs)[0]
        assert_close(
            latents.asnumpy(), load_fixture(*folder, f"step{i:02d}_latents.npy"), 1e-5, 1e-6, f"{name} step {i}"
        )


def test_every_sampler_has_the_originals_default_config():
    table = json.load(open(fixture_path("diffusion", "schedulers", "sample_t2v_schedulers.json")))
    assert table["default_sample_method"] == "PNDM"
    assert set(table["schedulers"]) == set(SAMPLERS)
    for name, spec in table["schedulers"].items():
        sched = SAMPLERS[name]()
        assert type(sched).__name__ == spec["class"]
        assert set(sched.config) == set(spec["config"]), name
        for key, value in spec["config"].items():
            ours = sched.config[key]
            assert ours == value or (isinstance(value, float) and math.isinf(value) and math.isinf(ours)), (name, key)
        assert sched.init_noise_sigma == pytest.approx(spec["init_noise_sigma"], rel=1e-7), name
        assert sched.order == spec["order"], name


class _FixedOutput(nn.Cell):
    """Stands in for LatteT2V: returns the fixture's model output whatever the input."""

    def __init__(self, output):
        super().__init__()
        self.output = output

    def construct(self, x, t, encoder_hidden_states=None, encoder_attention_mask=None, use_image_num=0):
        return self.output


@pytest.mark.parametrize("compiled", [False, True], ids=["pynative", "graph"])
def test_compiled_training_loss_matches_the_original(compiled):
    """IDDPMLoss (what train_diffusion.py differentiates, compiled with --jit) = the original's loss, t=0 included."""
    folder = ("diffusion", "training_losses")
    x_start, noise = ms.Tensor(load_fixture(*folder, "x_start.npy")), ms.Tensor(load_fixture(*folder, "noise.npy"))
    t = ms.Tensor(load_fixture(*folder, "t.npy").astype(np.int32))
    loss_cell = IDDPMLoss(_FixedOutput(ms.Tensor(load_fixture(*folder, "model_output.npy"))), create_diffusion(""))
    text, mask = ms.Tensor(np.zeros((t.shape[0], 2, 4), np.float32)), ms.Tensor(np.ones((t.shape[0], 2), np.int32))
    run = ms.jit(loss_cell.construct) if compiled else loss_cell
    loss = run(x_start, t, noise, text, mask)
    assert_close(loss.asnumpy(), load_fixture(*folder, "loss.npy").mean(), 1e-4, 0, "mean loss")


def test_x0_weighted_training_loss_weights_each_mse_by_its_capped_inverse_snr():
    """IDDPMLoss(mse_weight=...) (added; the demo's --x0_weight_cap table, examples/toy_world/loss_weights.py):
    the loss is mean(w_t * mse + vb) with the original's per-sample terms; no table is the original's loss."""
    from toy_world.loss_weights import x0_capped_weights as mse_weights

    diffusion = create_diffusion("")
    abar = diffusion.alphas_cumprod
    weights = mse_weights(abar, 1000.0)
    assert weights[0] == 1.0 and weights[-1] == 1000.0  # low noise: eps loss as is; pure noise: capped
    t_mid = int(np.argmin(np.abs(abar - 0.01)))  # SNR ~ 0.0101 there: weight ~ 99, inside the cap
    assert_close(weights[t_mid], (1 - abar[t_mid]) / abar[t_mid], 1e-6, 0, "1/SNR")
    assert np.all(np.diff(weights) >= 0) and np.all(mse_weights(abar, 0) == 1.0)
    with pytest.raises(ValueError, match="x0_weight_cap"):
        mse_weights(abar, 0.5)

    folder = ("diffusion", "training_losses")
    x_start, noise = ms.Tensor(load_fixture(*folder, "x_start.npy")), ms.Tensor(load_fixture(*folder, "noise.npy"))
    t_np = load_fixture(*folder, "t.npy").astype(np.int32)
    t_np = np.array([0, 120, 600, 999][: len(t_np)] + list(t_np[4:]), np.int32)  # both sides of SNR = 1, and the cap
    output = _FixedOutput(ms.Tensor(load_fixture(*folder, "model_output.npy")))
    text, mask = ms.Tensor(np.zeros((len(t_np), 2, 4), np.float32)), ms.Tensor(np.ones((len(t_np), 2), np.int32))
    terms = diffusion.training_losses(
        lambda x, ts, **kw: (output.output,), x_start, ms.Tensor(t_np), model_kwargs={}, noise=noise
    )
    expected = (weights[t_np] * terms["mse"].asnumpy() + terms["vb"].asnumpy()).mean()
    loss = IDDPMLoss(output, diffusion, mse_weight=weights)(x_start, ms.Tensor(t_np), noise, text, mask)
    assert_close(loss.asnumpy(), expected, 1e-4, 0, "weighted loss")
    assert expected > 2 * terms["loss"].asnumpy().mean()  # the weights matter for these t
