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


class IDDPMLoss(nn.Cell):
    """Args:
        model: LatteT2V (or any cell (x_t, t, encoder_hidden_states, encoder_attention_mask) -> (B, 2C, ...)).
        diffusion: the GaussianDiffusion whose schedule is used (timestep_respacing "").
        use_image_num: images appended to the video frames (joint image-video training), passed to the model.
        mse_weight: None (the original: every t alike) or one multiplier of the MSE term per timestep (added: a
            per-step weighting such as the demo model's x0-space one, examples/toy_world/loss_weights.py).
    Returns the batch mean of mse + vb, as `training_losses(...)["loss"].mean()`.
    """

    def __init__(self, model, diffusion, use_image_num=0, mse_weight=None):
        super().__init__(auto_prefix=False)  # parameter names stay the model's own
        settings = (diffusion.model_mean_type, diffusion.model_var_type, diffusion.loss_type)
        if settings != (ModelMeanType.EPSILON, ModelVarType.LEARNED_RANGE, LossType.MSE):
            raise ValueError(f"IDDPMLoss supports eps prediction, learned-range sigma and the MSE loss; got {settings}")
        self.model, self.use_image_num = model, use_image_num
        self.fp64_tanh = tanh_needs_fp64()  # decided once: the compiled graph cannot ask the context
        for name in TABLES:  # float64 schedule -> float32 constants, as GaussianDiffusion._extract
            setattr(self, name, ms.Tensor(getattr(diffusion, name).astype(np.float32)))
        if mse_weight is None:
            mse_weight = np.ones(diffusion.num_timesteps, np.float32)
        if np.shape(mse_weight) != (diffusion.num_timesteps,):
            raise ValueError(f"mse_weight: one weight per timestep ({diffusion.num_timesteps}), got shape "
                             f"{np.shape(mse_weight)}")
        self.mse_weight = ms.Tensor(np.asarray(mse_weight, np.float32))

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
