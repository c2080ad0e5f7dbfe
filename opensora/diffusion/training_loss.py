"""The IDDPM training loss of `GaussianDiffusion.training_losses` as one Cell that MindSpore can compile.

The general `training_losses` branches on the diffusion's settings in Python and caches its tables lazily,
which the graph compiler rejects. This Cell fixes the settings train_diffusion.py uses (`create_diffusion("")`:
eps prediction, learned-range sigma, MSE + VB) when it is built, holds the tables as constants, and computes the
same terms with the same helpers; tests/unit/test_training_loss.py checks it against `training_losses`.
"""

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from .diffusion_utils import discretized_gaussian_log_likelihood, mean_flat, normal_kl, tanh_needs_fp64
from .gaussian_diffusion import LOG2, LossType, ModelMeanType, ModelVarType

TABLES = ("sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
          "sqrt_recipm1_alphas_cumprod", "posterior_mean_coef1", "posterior_mean_coef2",
          "posterior_log_variance_clipped", "log_betas")


def mse_weights(alphas_cumprod, x0_weight_cap=0.0):
    """Per-step weights of the MSE term (float32, one per t): ones, or min(max(1 / SNR_t, 1), cap)."""
    if x0_weight_cap < 0 or 0 < x0_weight_cap < 1:
        raise ValueError(f"x0_weight_cap must be 0 (off) or >= 1, got {x0_weight_cap}")
    if not x0_weight_cap:
        return np.ones(len(alphas_cumprod), np.float32)
    inverse_snr = (1.0 - alphas_cumprod) / alphas_cumprod
    return np.clip(inverse_snr, 1.0, x0_weight_cap).astype(np.float32)


class IDDPMLoss(nn.Cell):
    """Args:
        model: LatteT2V (or any cell (x_t, t, encoder_hidden_states, encoder_attention_mask) -> (B, 2C, ...)).
        diffusion: the GaussianDiffusion whose schedule is used (timestep_respacing "").
        use_image_num: images appended to the video frames (joint image-video training), passed to the model.
        x0_weight_cap: 0 (the original) weights every t alike. C >= 1 multiplies the MSE of step t by
            min(max(1 / SNR_t, 1), C): at high noise the eps error is SNR_t times the error of the implied x0, so
            the layout a model predicts there barely moves the plain loss; this weights those steps as an x0 loss
            would, capped (opt-in, added).
    Returns the batch mean of mse + vb, as `training_losses(...)["loss"].mean()`.
    """

    def __init__(self, model, diffusion, use_image_num=0, x0_weight_cap=0.0):
        super().__init__(auto_prefix=False)  # parameter names stay the model's own
        settings = (diffusion.model_mean_type, diffusion.model_var_type, diffusion.loss_type)
        if settings != (ModelMeanType.EPSILON, ModelVarType.LEARNED_RANGE, LossType.MSE):
            raise ValueError(f"IDDPMLoss supports eps prediction, learned-range sigma and the MSE loss; got {settings}")
        self.model, self.use_image_num = model, use_image_num
        self.fp64_tanh = tanh_needs_fp64()  # decided once: the compiled graph cannot ask the context
        for name in TABLES:  # float64 schedule -> float32 constants, as GaussianDiffusion._extract
            setattr(self, name, ms.Tensor(getattr(diffusion, name).astype(np.float32)))
        self.mse_weight = ms.Tensor(mse_weights(diffusion.alphas_cumprod, x0_weight_cap))

    @staticmethod
    def _at(table, t, ndim):
        return ops.gather(table, t, 0).reshape((-1,) + (1,) * (ndim - 1))  # (B, 1, ..., 1)

    def construct(self, x_start, t, noise, text, mask):
        """x_start, noise (B, C, F, H, W) latents; t (B,) int32; text (B, L, D); mask (B, L)."""
        nd, c = x_start.ndim, x_start.shape[1]
        x_t = self._at(self.sqrt_alphas_cumprod, t, nd) * x_start + \
            self._at(self.sqrt_one_minus_alphas_cumprod, t, nd) * noise  # q_sample
        out = self.model(x_t, t, encoder_hidden_states=text, encoder_attention_mask=mask,
                         use_image_num=self.use_image_num)
        out = out[0] if isinstance(out, (tuple, list)) else out  # (B, 2C, F, H, W)
        eps, var_values = out[:, :c], out[:, c:]
        mse = mean_flat(ops.square(noise - eps)) * ops.gather(self.mse_weight, t, 0)  # (B,)
        # VB term: learns the variance only, the mean prediction is frozen in it
        frozen_eps = ops.stop_gradient(eps)
        coef1, coef2 = self._at(self.posterior_mean_coef1, t, nd), self._at(self.posterior_mean_coef2, t, nd)
        min_log = self._at(self.posterior_log_variance_clipped, t, nd)
        max_log = self._at(self.log_betas, t, nd)
        frac = (var_values + 1) / 2
        model_log_variance = frac * max_log + (1 - frac) * min_log
        pred_xstart = self._at(self.sqrt_recip_alphas_cumprod, t, nd) * x_t - \
            self._at(self.sqrt_recipm1_alphas_cumprod, t, nd) * frozen_eps
        model_mean = coef1 * pred_xstart + coef2 * x_t
        true_mean = coef1 * x_start + coef2 * x_t
        kl = mean_flat(normal_kl(true_mean, min_log, model_mean, model_log_variance)) / LOG2
        decoder_nll = mean_flat(-discretized_gaussian_log_likelihood(x_start, model_mean,
                                                                     0.5 * model_log_variance,
                                                                     self.fp64_tanh)) / LOG2
        vb = ops.where(t == 0, decoder_nll, kl)
        return (mse + vb).mean()
