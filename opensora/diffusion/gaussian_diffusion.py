"""IDDPM Gaussian diffusion as Open-Sora-Plan v1.0.0 uses it for LatteT2V (gaussian_diffusion_t2v.py).

The schedule is float64 numpy; every per-timestep coefficient is taken from it and cast to float32 before
it multiplies a tensor (D1). Model outputs are (B, 2C, F, H, W): eps | variance interpolation v (D3, L11).
"""

import enum

import mindspore as ms
import numpy as np
from mindspore import ops

from .diffusion_utils import discretized_gaussian_log_likelihood, mean_flat, normal_kl

LOG2 = float(np.log(2.0))


class ModelMeanType(enum.Enum):
    PREVIOUS_X = enum.auto()
    START_X = enum.auto()
    EPSILON = enum.auto()


class ModelVarType(enum.Enum):
    LEARNED = enum.auto()
    FIXED_SMALL = enum.auto()
    FIXED_LARGE = enum.auto()
    LEARNED_RANGE = enum.auto()


class LossType(enum.Enum):
    MSE = enum.auto()
    RESCALED_MSE = enum.auto()
    KL = enum.auto()
    RESCALED_KL = enum.auto()


def get_named_beta_schedule(schedule_name, num_diffusion_timesteps):
    if schedule_name == "linear":
        scale = 1000 / num_diffusion_timesteps
        return np.linspace(scale * 0.0001, scale * 0.02, num_diffusion_timesteps, dtype=np.float64)
    if schedule_name == "squaredcos_cap_v2":
        return betas_for_alpha_bar(num_diffusion_timesteps, lambda t: np.cos((t + 0.008) / 1.008 * np.pi / 2) ** 2)
    raise ValueError(f"unknown beta schedule '{schedule_name}'; use linear or squaredcos_cap_v2")


def betas_for_alpha_bar(num_diffusion_timesteps, alpha_bar, max_beta=0.999):
    betas = [min(1 - alpha_bar((i + 1) / num_diffusion_timesteps) / alpha_bar(i / num_diffusion_timesteps), max_beta)
             for i in range(num_diffusion_timesteps)]
    return np.array(betas, dtype=np.float64)


def _model_output(out):
    """The model may return a tensor, a tuple or a list: the first element is the prediction (D3)."""
    return out[0] if isinstance(out, (tuple, list)) else out


class GaussianDiffusion:
    """Args:
        betas: float64 (T,) schedule.
    """

    def __init__(self, *, betas, model_mean_type, model_var_type, loss_type):
        self.model_mean_type, self.model_var_type, self.loss_type = model_mean_type, model_var_type, loss_type
        betas = np.asarray(betas, dtype=np.float64)
        assert betas.ndim == 1 and (betas > 0).all() and (betas <= 1).all()
        self.betas = betas
        self.num_timesteps = int(betas.shape[0])
        alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(alphas, axis=0)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        self.alphas_cumprod_next = np.append(self.alphas_cumprod[1:], 0.0)
        self.sqrt_alphas_cumprod = np.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - self.alphas_cumprod)
        self.log_one_minus_alphas_cumprod = np.log(1.0 - self.alphas_cumprod)
        self.sqrt_recip_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod)
        self.sqrt_recipm1_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod - 1)
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        # log of the posterior variance, clipped because it is 0 at the start of the chain (D2)
        self.posterior_log_variance_clipped = (
            np.log(np.append(self.posterior_variance[1], self.posterior_variance[1:]))
            if len(self.posterior_variance) > 1
            else np.array([])
        )
        self.posterior_mean_coef1 = betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1.0 - self.alphas_cumprod_prev) * np.sqrt(alphas) / (1.0 - self.alphas_cumprod)
        self.log_betas = np.log(betas)
        self._tables = {}

    # ------------------------------------------------------------------ helpers
    def _extract(self, name, t, ndim):
        """float64 table[t] -> float32, shaped (B, 1, ..., 1) to broadcast over an `ndim` tensor."""
        if name not in self._tables:
            self._tables[name] = ms.Tensor(getattr(self, name).astype(np.float32))
        values = ops.gather(self._tables[name], t.astype(ms.int32), 0)
        return values.reshape((-1,) + (1,) * (ndim - 1))

    def _call_model(self, model, x, t, model_kwargs):
        return _model_output(model(x, t, **(model_kwargs or {})))

    # ------------------------------------------------------------------ forward process
    def q_sample(self, x_start, t, noise=None):
        noise = ops.randn_like(x_start) if noise is None else noise
        nd = x_start.ndim
        return (
            self._extract("sqrt_alphas_cumprod", t, nd) * x_start
            + self._extract("sqrt_one_minus_alphas_cumprod", t, nd) * noise
        )

    def q_posterior_mean_variance(self, x_start, x_t, t):
        nd = x_t.ndim
        mean = (
            self._extract("posterior_mean_coef1", t, nd) * x_start + self._extract("posterior_mean_coef2", t, nd) * x_t
        )
        return mean, self._extract("posterior_variance", t, nd), self._extract("posterior_log_variance_clipped", t, nd)

    def _predict_xstart_from_eps(self, x_t, t, eps):
        nd = x_t.ndim
        return (
            self._extract("sqrt_recip_alphas_cumprod", t, nd) * x_t
            - self._extract("sqrt_recipm1_alphas_cumprod", t, nd) * eps
        )

    def _predict_eps_from_xstart(self, x_t, t, pred_xstart):
        nd = x_t.ndim
        return (self._extract("sqrt_recip_alphas_cumprod", t, nd) * x_t - pred_xstart) / self._extract(
            "sqrt_recipm1_alphas_cumprod", t, nd
        )

    # ------------------------------------------------------------------ reverse process
    def p_mean_variance(self, model, x, t, clip_denoised=True, denoised_fn=None, model_kwargs=None):
        """Model mean/variance of p(x_{t-1} | x_t); `x` (B, C, F, H, W), model output (B, 2C, F, H, W)."""
        nd, c = x.ndim, x.shape[1]
        model_output = self._call_model(model, x, t, model_kwargs)
        if self.model_var_type in (ModelVarType.LEARNED, ModelVarType.LEARNED_RANGE):
            assert model_output.shape[1] == 2 * c, f"model output {model_output.shape} needs 2x{c} channels"
            model_output, var_values = model_output[:, :c], model_output[:, c:]
            if self.model_var_type == ModelVarType.LEARNED:
                log_variance = var_values
            else:
                min_log = self._extract("posterior_log_variance_clipped", t, nd)
                max_log = self._extract("log_betas", t, nd)
                frac = (var_values + 1) / 2  # v in [-1, 1] interpolates between the two bounds (L11)
                log_variance = frac * max_log + (1 - frac) * min_log
            variance = ops.exp(log_variance)
        else:
            if self.model_var_type == ModelVarType.FIXED_LARGE:
                self.fixed_large_variance = np.append(self.posterior_variance[1], self.betas[1:])
                self.fixed_large_log_variance = np.log(self.fixed_large_variance)
                variance = self._extract("fixed_large_variance", t, nd)
                log_variance = self._extract("fixed_large_log_variance", t, nd)
            else:
                variance = self._extract("posterior_variance", t, nd)
                log_variance = self._extract("posterior_log_variance_clipped", t, nd)

        def process_xstart(value):
            value = denoised_fn(value) if denoised_fn is not None else value
            return ops.clamp(value, -1.0, 1.0) if clip_denoised else value

        if self.model_mean_type == ModelMeanType.START_X:
            pred_xstart = process_xstart(model_output)
        else:
            pred_xstart = process_xstart(self._predict_xstart_from_eps(x, t, model_output))
        mean, _, _ = self.q_posterior_mean_variance(pred_xstart, x, t)
        return {"mean": mean, "variance": variance, "log_variance": log_variance, "pred_xstart": pred_xstart}

    def p_sample(self, model, x, t, clip_denoised=True, denoised_fn=None, model_kwargs=None, noise=None):
        out = self.p_mean_variance(model, x, t, clip_denoised, denoised_fn, model_kwargs)
        noise = ops.randn_like(x) if noise is None else noise
        nonzero = (t != 0).astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))  # no noise at t == 0
        return {
            "sample": out["mean"] + nonzero * ops.exp(0.5 * out["log_variance"]) * noise,
            "pred_xstart": out["pred_xstart"],
        }

    def p_sample_loop(
        self, model, shape, noise=None, clip_denoised=True, denoised_fn=None, model_kwargs=None, progress=False
    ):
        """Ancestral sampling through every step of this (possibly respaced) chain."""
        x = ops.randn(shape) if noise is None else noise
        for i in _progress(range(self.num_timesteps)[::-1], progress, "p_sample"):
            t = ms.Tensor([i] * shape[0], ms.int32)
            x = self.p_sample(model, x, t, clip_denoised, denoised_fn, model_kwargs)["sample"]
        return x

    def ddim_sample(self, model, x, t, clip_denoised=True, denoised_fn=None, model_kwargs=None, eta=0.0, noise=None):
        out = self.p_mean_variance(model, x, t, clip_denoised, denoised_fn, model_kwargs)
        eps = self._predict_eps_from_xstart(x, t, out["pred_xstart"])
        alpha_bar = self._extract("alphas_cumprod", t, x.ndim)
        alpha_bar_prev = self._extract("alphas_cumprod_prev", t, x.ndim)
        sigma = eta * ops.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar)) * ops.sqrt(1 - alpha_bar / alpha_bar_prev)
        noise = ops.randn_like(x) if noise is None else noise
        mean_pred = out["pred_xstart"] * ops.sqrt(alpha_bar_prev) + ops.sqrt(1 - alpha_bar_prev - sigma**2) * eps
        nonzero = (t != 0).astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))
        return {"sample": mean_pred + nonzero * sigma * noise, "pred_xstart": out["pred_xstart"]}

    def ddim_sample_loop(
        self, model, shape, noise=None, clip_denoised=True, denoised_fn=None, model_kwargs=None, eta=0.0, progress=False
    ):
        x = ops.randn(shape) if noise is None else noise
        for i in _progress(range(self.num_timesteps)[::-1], progress, "ddim_sample"):
            t = ms.Tensor([i] * shape[0], ms.int32)
            x = self.ddim_sample(model, x, t, clip_denoised, denoised_fn, model_kwargs, eta)["sample"]
        return x

    # ------------------------------------------------------------------ training loss
    def _vb_terms_bpd(self, model, x_start, x_t, t, clip_denoised=True, model_kwargs=None):
        """KL(q(x_{t-1}|x_t,x_0) || p(x_{t-1}|x_t)) in bits; the decoder NLL at t == 0 (D2)."""
        true_mean, _, true_log_variance = self.q_posterior_mean_variance(x_start, x_t, t)
        out = self.p_mean_variance(model, x_t, t, clip_denoised, model_kwargs=model_kwargs)
        kl = mean_flat(normal_kl(true_mean, true_log_variance, out["mean"], out["log_variance"])) / LOG2
        decoder_nll = -discretized_gaussian_log_likelihood(x_start, out["mean"], 0.5 * out["log_variance"])
        decoder_nll = mean_flat(decoder_nll) / LOG2
        return {"output": ops.where(t == 0, decoder_nll, kl), "pred_xstart": out["pred_xstart"]}

    def training_losses(self, model, x_start, t, model_kwargs=None, noise=None):
        """{'loss', 'mse', 'vb'} per sample; x_start (B, C, F, H, W) latents, t (B,) timestep indices."""
        noise = ops.randn_like(x_start) if noise is None else noise
        x_t = self.q_sample(x_start, t, noise)
        terms = {}
        if self.loss_type in (LossType.KL, LossType.RESCALED_KL):
            terms["loss"] = self._vb_terms_bpd(model, x_start, x_t, t, False, model_kwargs)["output"]
            if self.loss_type == LossType.RESCALED_KL:
                terms["loss"] = terms["loss"] * self.num_timesteps
            return terms
        model_output = self._call_model(model, x_t, t, model_kwargs)
        c = x_t.shape[1]
        if self.model_var_type in (ModelVarType.LEARNED, ModelVarType.LEARNED_RANGE):
            assert model_output.shape[1] == 2 * c, f"model output {model_output.shape} needs 2x{c} channels"
            eps, var_values = model_output[:, :c], model_output[:, c:]
            # The VB term learns the variance only: the mean prediction is frozen in it.
            frozen = ops.cat((ops.stop_gradient(eps), var_values), axis=1)
            terms["vb"] = self._vb_terms_bpd(lambda *args, r=frozen: r, x_start, x_t, t, False)["output"]
            if self.loss_type == LossType.RESCALED_MSE:
                terms["vb"] = terms["vb"] * (self.num_timesteps / 1000.0)
            model_output = eps
        target = {
            ModelMeanType.PREVIOUS_X: lambda: self.q_posterior_mean_variance(x_start, x_t, t)[0],
            ModelMeanType.START_X: lambda: x_start,
            ModelMeanType.EPSILON: lambda: noise,
        }[self.model_mean_type]()
        terms["mse"] = mean_flat(ops.square(target - model_output))
        terms["loss"] = terms["mse"] + terms["vb"] if "vb" in terms else terms["mse"]
        return terms


def _progress(iterable, enabled, desc):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc)
