"""DDIMScheduler, PNDMScheduler and DDPMScheduler with diffusers' default configs (as sample_t2v.py builds them)."""

import numpy as np

from .base import F32, Scheduler, leading_timesteps, randn, scalar, spaced_timesteps, to_numpy

COMMON = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
              prediction_type="epsilon", steps_offset=0, timestep_spacing="leading")


def _eps_to_x0(sample, eps, alpha_prod_t):
    return (sample - (F32(1) - alpha_prod_t) ** F32(0.5) * eps) / alpha_prod_t ** F32(0.5)


class DDIMScheduler(Scheduler):
    """DDIM; default: clip x0 to [-1, 1], final alpha 1.0, 'leading' spacing; the pipeline passes eta=0. The v1.3
    sample script builds it with v_prediction, zero-terminal-SNR betas, 'trailing' spacing and no clipping."""

    defaults = dict(COMMON, clip_sample=True, clip_sample_range=1.0, set_alpha_to_one=True, thresholding=False,
                    dynamic_thresholding_ratio=0.995, sample_max_value=1.0, rescale_betas_zero_snr=False)
    prediction_types = ("epsilon", "v_prediction")
    timestep_spacings = ("leading", "trailing")
    zero_snr = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.final_alpha_cumprod = F32(1.0) if self.config["set_alpha_to_one"] else self.alphas_cumprod[0]

    def set_timesteps(self, num_inference_steps):
        self.num_inference_steps = num_inference_steps
        self.timesteps = spaced_timesteps(self.config["timestep_spacing"], self.config["num_train_timesteps"],
                                          num_inference_steps, self.config["steps_offset"], np.int64)

    def _alpha_prev(self, prev_t):
        return self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod

    def step(self, model_output, timestep, sample, eta=0.0, use_clipped_model_output=False, generator=None,
             variance_noise=None, return_dict=True):
        t = int(scalar(timestep))
        eps, x = to_numpy(model_output), to_numpy(sample)
        prev_t = t - self.config["num_train_timesteps"] // self.num_inference_steps
        a_t, a_prev = self.alphas_cumprod[t], self._alpha_prev(prev_t)
        beta_t = F32(1) - a_t
        if self.config["prediction_type"] == "v_prediction":  # the model's output is v; x0 and eps follow
            out = eps
            x0 = a_t ** F32(0.5) * x - beta_t ** F32(0.5) * out
            eps = a_t ** F32(0.5) * out + beta_t ** F32(0.5) * x
        else:
            x0 = _eps_to_x0(x, eps, a_t)
        if self.config["clip_sample"]:
            r = F32(self.config["clip_sample_range"])
            x0 = np.clip(x0, -r, r)
        variance = (F32(1) - a_prev) / beta_t * (F32(1) - a_t / a_prev)
        std = F32(eta) * variance ** F32(0.5)
        if use_clipped_model_output:
            eps = (x - a_t ** F32(0.5) * x0) / beta_t ** F32(0.5)
        direction = (F32(1) - a_prev - std**2) ** F32(0.5) * eps
        prev = a_prev ** F32(0.5) * x0 + direction
        if eta > 0:
            noise = to_numpy(variance_noise) if variance_noise is not None else randn(x.shape, generator)
            prev = prev + std * noise
        return self._output(prev, sample, return_dict, x0)


class PNDMScheduler(Scheduler):
    """PNDM; the default runs 12 Runge-Kutta (PRK) sub-steps first: 50 steps -> 59 model calls."""

    defaults = dict(COMMON, skip_prk_steps=False, set_alpha_to_one=False)
    pndm_order = 4
    extra_calls = "warm-up"  # the Runge-Kutta start: 4 calls for each of the first 3 steps

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.final_alpha_cumprod = F32(1.0) if self.config["set_alpha_to_one"] else self.alphas_cumprod[0]

    def set_timesteps(self, num_inference_steps):
        n, num_train = num_inference_steps, self.config["num_train_timesteps"]
        self.num_inference_steps = n
        base = (np.arange(0, n) * (num_train // n)).round() + self.config["steps_offset"]
        if self.config["skip_prk_steps"]:
            self.prk_timesteps = np.array([])
            self.plms_timesteps = np.concatenate([base[:-1], base[-2:-1], base[-1:]])[::-1].copy()
        else:
            prk = np.array(base[-self.pndm_order:]).repeat(2) + np.tile(np.array([0, num_train // n // 2]),
                                                                         self.pndm_order)
            self.prk_timesteps = (prk[:-1].repeat(2)[1:-1])[::-1].copy()
            self.plms_timesteps = base[:-3][::-1].copy()
        self.timesteps = np.concatenate([self.prk_timesteps, self.plms_timesteps]).astype(np.int64)
        self.ets, self.counter, self.cur_model_output, self.cur_sample = [], 0, 0, None

    def step(self, model_output, timestep, sample, return_dict=True):
        if self.counter < len(self.prk_timesteps) and not self.config["skip_prk_steps"]:
            prev = self._step_prk(to_numpy(model_output), int(scalar(timestep)), to_numpy(sample))
        else:
            prev = self._step_plms(to_numpy(model_output), int(scalar(timestep)), to_numpy(sample))
        return self._output(prev, sample, return_dict)

    def _step_prk(self, eps, t, x):
        ratio = self.config["num_train_timesteps"] // self.num_inference_steps
        prev_t = t - (0 if self.counter % 2 else ratio // 2)
        t = int(self.prk_timesteps[self.counter // 4 * 4])
        phase = self.counter % 4
        if phase == 0:
            self.cur_model_output = self.cur_model_output + F32(1 / 6) * eps
            self.ets.append(eps)
            self.cur_sample = x
        elif phase in (1, 2):
            self.cur_model_output = self.cur_model_output + F32(1 / 3) * eps
        else:
            eps = self.cur_model_output + F32(1 / 6) * eps
            self.cur_model_output = 0
        cur = self.cur_sample if self.cur_sample is not None else x
        prev = self._prev_sample(cur, t, prev_t, eps)
        self.counter += 1
        return prev

    def _step_plms(self, eps, t, x):
        ratio = self.config["num_train_timesteps"] // self.num_inference_steps
        prev_t = t - ratio
        if self.counter != 1:
            self.ets = self.ets[-3:] + [eps]
        else:
            prev_t, t = t, t + ratio
        ets = self.ets
        if len(ets) == 1 and self.counter == 0:
            self.cur_sample = x
        elif len(ets) == 1 and self.counter == 1:
            eps = (eps + ets[-1]) / F32(2)
            x, self.cur_sample = self.cur_sample, None
        elif len(ets) == 2:
            eps = (F32(3) * ets[-1] - ets[-2]) / F32(2)
        elif len(ets) == 3:
            eps = (F32(23) * ets[-1] - F32(16) * ets[-2] + F32(5) * ets[-3]) / F32(12)
        else:
            eps = F32(1 / 24) * (F32(55) * ets[-1] - F32(59) * ets[-2] + F32(37) * ets[-3] - F32(9) * ets[-4])
        prev = self._prev_sample(x, t, prev_t, eps)
        self.counter += 1
        return prev

    def _prev_sample(self, x, t, prev_t, eps):
        """Formula (9) of the PNDM paper."""
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        b_t, b_prev = F32(1) - a_t, F32(1) - a_prev
        sample_coeff = (a_prev / a_t) ** F32(0.5)
        denom = a_t * b_prev ** F32(0.5) + (a_t * b_t * a_prev) ** F32(0.5)
        return sample_coeff * x - (a_prev - a_t) * eps / denom


class DDPMScheduler(Scheduler):
    """Ancestral DDPM; default 'fixed_small' variance, x0 clipped to [-1, 1], 'leading' spacing, stochastic."""

    defaults = dict(COMMON, variance_type="fixed_small", clip_sample=True, clip_sample_range=1.0, thresholding=False,
                    dynamic_thresholding_ratio=0.995, sample_max_value=1.0, rescale_betas_zero_snr=False)

    def set_timesteps(self, num_inference_steps):
        self.num_inference_steps = num_inference_steps
        self.timesteps = leading_timesteps(self.config["num_train_timesteps"], num_inference_steps,
                                           self.config["steps_offset"])

    def _prev_t(self, t):
        train_steps = self.config["num_train_timesteps"]
        return t - train_steps // (self.num_inference_steps or train_steps)

    def _variance(self, t):
        prev_t = self._prev_t(t)
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else F32(1.0)
        beta_t = F32(1) - a_t / a_prev
        return max((F32(1) - a_prev) / (F32(1) - a_t) * beta_t, F32(1e-20))

    def step(self, model_output, timestep, sample, generator=None, return_dict=True):
        if self.config["variance_type"] != "fixed_small":
            raise ValueError("DDPMScheduler: only variance_type='fixed_small' (the default) is implemented")
        t = int(scalar(timestep))
        eps, x = to_numpy(model_output), to_numpy(sample)
        prev_t = self._prev_t(t)
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else F32(1.0)
        b_t, b_prev = F32(1) - a_t, F32(1) - a_prev
        cur_alpha = a_t / a_prev
        cur_beta = F32(1) - cur_alpha
        x0 = _eps_to_x0(x, eps, a_t)
        if self.config["clip_sample"]:
            r = F32(self.config["clip_sample_range"])
            x0 = np.clip(x0, -r, r)
        prev = (a_prev ** F32(0.5) * cur_beta / b_t) * x0 + (cur_alpha ** F32(0.5) * b_prev / b_t) * x
        if t > 0:
            prev = prev + self._variance(t) ** F32(0.5) * randn(x.shape, generator)
        return self._output(prev, sample, return_dict, x0)
