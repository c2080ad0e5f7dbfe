"""The v1.3 training objective against the ORIGINAL train_t2v_diffusers.py loss on its model and diffusers' DDPM
schedule (tests/fixtures/v1_3_training_loss, benchmarks/original/v1_3/make_v1_3_training_loss_fixtures.py): the
loss and two weight gradients, for v-prediction + zero-SNR + min-SNR, epsilon, and epsilon + min-SNR."""

import json

import mindspore as ms
import numpy as np
import pytest
from conftest import assert_close, fixture_path
from original_weights import original_state

from opensora.diffusion.v1_3_loss import V1_3Loss, V1_3Objective, ddpm_alphas_cumprod
from opensora.io import load_state_into
from opensora.models.diffusion.opensora_v1_3 import OpenSoraT2V_v1_3

FOLDER = "v1_3_training_loss"
SPEC = json.load(open(fixture_path(FOLDER, "cases.json")))
INPUTS = np.load(fixture_path(FOLDER, "inputs.npz"))


def model():
    net = OpenSoraT2V_v1_3(SPEC["transformer_config"])
    load_state_into(net, original_state("transformer", "v1_3_pipeline"), source="weight rule")
    net.set_train(True)
    return net


@pytest.mark.parametrize("name", list(SPEC["cases"]))
def test_loss_and_gradients_match_the_original(name):
    case, tol = SPEC["cases"][name], SPEC["tolerances"][name]
    expected = np.load(fixture_path(FOLDER, f"{name}.npz"))
    objective = V1_3Objective(case["prediction_type"], case["rescale_betas_zero_snr"], case["snr_gamma"])
    t = np.array(case["timesteps"], np.int32)
    noise = INPUTS["noise"] + np.float32(case["noise_offset"]) * INPUTS["offset_noise"]  # the script's offset
    net = model()
    loss_cell = V1_3Loss(net, case["prediction_type"])
    params = {p.name: p for p in net.trainable_params()}
    wanted = [params[n] for n in SPEC["grad_params"]]
    grad_fn = ms.value_and_grad(loss_cell, None, wanted)
    text_mask = INPUTS["encoder_attention_mask"][:, 0]
    loss, grads = grad_fn(ms.Tensor(INPUTS["model_input"]), ms.Tensor(noise.astype(np.float32)), ms.Tensor(t),
                          *(ms.Tensor(c) for c in objective.coefficients(t)), ms.Tensor(INPUTS["text"][:, 0]),
                          ms.Tensor(text_mask))
    assert_close(loss.asnumpy(), expected["loss"], rtol=1e-5, atol=tol["loss"], what=f"{name} loss")
    for param_name, grad in zip(SPEC["grad_params"], grads):
        assert_close(grad.asnumpy(), expected[f"grad/{param_name}"], rtol=1e-4, atol=tol[f"grad/{param_name}"],
                     what=f"{name} grad {param_name}")


def test_zero_snr_schedule_ends_at_zero_and_weights_the_last_step_zero():
    abar = ddpm_alphas_cumprod(rescale_betas_zero_snr=True)
    assert abar[-1] == 0 and abar[0] > 0.999
    _, _, weight = V1_3Objective("v_prediction", True, 5.0).coefficients(np.array([999, 0]))
    assert weight[0] == 0 and 0 < weight[1] <= 1


def test_a_combination_the_original_turns_nan_is_refused():
    with pytest.raises(ValueError, match="0/0"):
        V1_3Objective("epsilon", True, 5.0)
