"""The v1.3 training objective of Open-Sora-Plan's train_t2v_diffusers.py (its `run`, the DDPM branch), as one Cell.

x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise (diffusers' DDPMScheduler.add_noise, the scheduler built with the
script's --prediction_type and --rescale_betas_zero_snr); target = noise (epsilon) or sqrt(abar_t) noise -
sqrt(1 - abar_t) x0 (v-prediction, get_velocity); loss = mean of (pred - target)^2, each sample weighted by
min(SNR_t, gamma) / SNR_t (epsilon) or / (SNR_t + 1) (v) when --snr_gamma is set (Hang et al. 2023, min-SNR).

The schedule and the per-sample coefficients are computed on the host in float32 exactly as diffusers' tables
(linspace, the zero-terminal-SNR rescale, cumprod in double), then handed to the Cell, so the compiled graph holds
no Python branching; tests/parity/test_v1_3_training_loss_parity.py checks it against the original.
"""

import numpy as np
from mindspore import nn, ops

from .schedulers.base import F32, rescale_zero_terminal_snr_f32, torch_cumprod_f32, torch_linspace_f32

PREDICTION_TYPES = ("epsilon", "v_prediction")


def ddpm_alphas_cumprod(rescale_betas_zero_snr=False, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02):
    """diffusers' DDPMScheduler(...).alphas_cumprod (float32, linear betas); with zero terminal SNR its last entry is
    exactly 0 (the DDPM scheduler, unlike the Euler ones, does not lift it to 2**-24)."""
    betas = torch_linspace_f32(beta_start, beta_end, num_train_timesteps)
    if rescale_betas_zero_snr:
        betas = rescale_zero_terminal_snr_f32(betas)
    return torch_cumprod_f32((F32(1.0) - betas).astype(F32))


class V1_3Objective:
    """The host half: schedule, the checks the original leaves to a NaN, and per-sample coefficients.

    Args:
        prediction_type: "epsilon" | "v_prediction"; snr_gamma: None (plain mean) or gamma of the min-SNR weight.
        rescale_betas_zero_snr: zero terminal SNR (the release: True, with v-prediction).
    """

    def __init__(self, prediction_type="epsilon", rescale_betas_zero_snr=False, snr_gamma=None):
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type {prediction_type!r}: choose one of {', '.join(PREDICTION_TYPES)}")
        if snr_gamma is not None and snr_gamma <= 0:
            raise ValueError(f"snr_gamma {snr_gamma}: must be > 0 (or unset for the plain mean)")
        if snr_gamma is not None and prediction_type == "epsilon" and rescale_betas_zero_snr:
            # min(snr, gamma) / snr is 0 / 0 at the zero-SNR step: the original's loss turns NaN there
            raise ValueError("snr_gamma with epsilon prediction and zero terminal SNR weights the last step 0/0 "
                             "(NaN in the original); use v_prediction (the release's) or drop one of the two")
        self.prediction_type, self.snr_gamma = prediction_type, snr_gamma
        self.alphas_cumprod = ddpm_alphas_cumprod(rescale_betas_zero_snr)
        self.num_timesteps = len(self.alphas_cumprod)

    def coefficients(self, t):
        """t (B,) int -> (sqrt(abar_t), sqrt(1 - abar_t), loss weight), each (B,) float32, as add_noise and
        compute_snr index them."""
        abar = self.alphas_cumprod[np.asarray(t)]
        sqrt_alpha = (abar ** F32(0.5)).astype(F32)
        sqrt_one_minus = ((F32(1.0) - abar) ** F32(0.5)).astype(F32)
        if self.snr_gamma is None:
            return sqrt_alpha, sqrt_one_minus, np.ones_like(sqrt_alpha)
        snr = ((sqrt_alpha / sqrt_one_minus) ** F32(2)).astype(F32)
        weight = np.minimum(snr, F32(self.snr_gamma)).astype(F32)
        weight = weight / (snr if self.prediction_type == "epsilon" else snr + F32(1))
        return sqrt_alpha, sqrt_one_minus, weight.astype(F32)


class V1_3Loss(nn.Cell):
    """The device half. Args: model: OpenSoraT2V_v1_3; prediction_type as V1_3Objective's.

    construct(x0, noise, t, sqrt_alpha, sqrt_one_minus, weight, text (B, L, D), text_mask (B, L)) -> mean loss.
    Every latent position counts (the original's attention mask is all ones for same-size clips, which it treats
    as no mask)."""

    def __init__(self, model, prediction_type="epsilon"):
        super().__init__(auto_prefix=False)  # parameter names stay the model's own
        self.model, self.v_prediction = model, prediction_type == "v_prediction"
        self.sp_size, self.sp_rank = 1, 0

    def enable_sequence_parallel(self, sp):
        """The model (enable_sequence_parallel, no gather) returns this rank's T/sp frames: the loss is theirs.
        Averaging the ranks' gradients (the data-parallel mean) then gives the whole clip's, as the original's."""
        self.sp_size, self.sp_rank = sp.size, sp.rank

    def construct(self, x0, noise, t, sqrt_alpha, sqrt_one_minus, weight, text, text_mask):
        return self.loss(x0, noise, t, sqrt_alpha, sqrt_one_minus, weight, text, text_mask)

    def loss(self, x0, noise, t, sqrt_alpha, sqrt_one_minus, weight, text, text_mask, condition=None):
        """`condition`: channels appended to x_t for the model (the inpaint model's), not part of the target."""
        shape = (-1,) + (1,) * (x0.ndim - 1)
        a, s = sqrt_alpha.reshape(shape), sqrt_one_minus.reshape(shape)
        noisy = a * x0 + s * noise
        target = a * noise - s * x0 if self.v_prediction else noise
        model_in = noisy if condition is None else ops.cat((noisy, condition.astype(noisy.dtype)), axis=1)
        pred = self.model(model_in, t, ops.expand_dims(text, 1), encoder_attention_mask=ops.expand_dims(text_mask, 1))
        pred = pred[0] if isinstance(pred, (tuple, list)) else pred
        if self.sp_size > 1:  # this rank's frames of the target
            b, c, t, h, w = target.shape
            frames = t // self.sp_size
            target = ops.slice(target, (0, 0, self.sp_rank * frames, 0, 0), (b, c, frames, h, w))
        per_sample = ops.square(pred.astype(x0.dtype) - target).reshape(x0.shape[0], -1)
        return (per_sample * weight.reshape(-1, 1)).mean()


class V1_3InpaintLoss(V1_3Loss):
    """V1_3Loss for OpenSoraInpaint_v1_3 (train_inpaint.py): the model's input is [x_t; masked latents; mask],
    the target and weights those of the first C channels."""

    def construct(self, x0, noise, t, sqrt_alpha, sqrt_one_minus, weight, text, text_mask, condition):
        return self.loss(x0, noise, t, sqrt_alpha, sqrt_one_minus, weight, text, text_mask, condition)
