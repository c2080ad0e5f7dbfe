"""Sigma-space samplers: EulerDiscrete, EulerAncestralDiscrete, HeunDiscrete, KDPM2AncestralDiscrete
(diffusers default configs). The latents start at `init_noise_sigma` x N(0, 1) and the model input is
`scale_model_input(x, t)` = x / sqrt(sigma^2 + 1), so these are not interchangeable without both calls."""

import numpy as np

from .base import F32, Scheduler, linspace_timesteps_f32, randn, sigma_table, spaced_timesteps, to_numpy

K_COMMON = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
                prediction_type="epsilon", timestep_spacing="linspace", steps_offset=0)


def _interp_sigmas(alphas_cumprod, timesteps):
    sigmas = sigma_table(alphas_cumprod)
    return np.interp(timesteps, np.arange(0, len(sigmas)), sigmas)


class _SigmaScheduler(Scheduler):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.config.get("rescale_betas_zero_snr"):
            # diffusers: close to 0 without being 0, so the first sigma is finite (fp16's smallest subnormal)
            self.alphas_cumprod[-1] = F32(2.0**-24)
        # diffusers' __init__ builds the full-length schedule (init_noise_sigma reads it before set_timesteps)
        self.set_timesteps(self.config["num_train_timesteps"])
        self.num_inference_steps = None

    def set_timesteps(self, num_inference_steps):
        """Timesteps by `timestep_spacing`, sigmas interpolated at them, then a final sigma of 0."""
        self.num_inference_steps = num_inference_steps
        timesteps = spaced_timesteps(self.config["timestep_spacing"], self.config["num_train_timesteps"],
                                     num_inference_steps, self.config["steps_offset"])
        sigmas = np.concatenate([_interp_sigmas(self.alphas_cumprod, timesteps), [0.0]]).astype(F32)
        self._set_schedule(timesteps, sigmas)
        self._step_index = None

    def _set_schedule(self, timesteps, sigmas):
        self.timesteps, self.sigmas = timesteps.astype(F32), sigmas

    @property
    def init_noise_sigma(self):
        sigma_max = self.sigmas.max()
        if self.config["timestep_spacing"] in ("linspace", "trailing"):
            return float(sigma_max)
        return float((sigma_max**2 + F32(1)) ** F32(0.5))

    def _x0(self, model_output, sample, sigma):
        """The predicted clean sample: eps -> x - sigma eps; v -> c_out v + c_skip x (v-prediction, v1.3)."""
        if self.config["prediction_type"] == "v_prediction":
            return model_output * (-sigma / (sigma**2 + F32(1)) ** F32(0.5)) + sample / (sigma**2 + F32(1))
        return sample - sigma * model_output

    def scale_model_input(self, sample, timestep=None):
        if self._step_index is None:
            self._init_step_index(timestep)
        sigma = self._input_sigma()
        return sample / float((sigma**2 + F32(1)) ** F32(0.5))

    def _input_sigma(self):
        return self.sigmas[self._step_index]


class EulerDiscreteScheduler(_SigmaScheduler):
    defaults = dict(K_COMMON, interpolation_type="linear", use_karras_sigmas=False, sigma_min=None, sigma_max=None,
                    timestep_type="discrete", rescale_betas_zero_snr=False, final_sigmas_type="zero")
    prediction_types = ("epsilon", "v_prediction")
    timestep_spacings = ("linspace", "leading", "trailing")
    zero_snr = True

    def step(self, model_output, timestep, sample, generator=None, return_dict=True):
        if self._step_index is None:
            self._init_step_index(timestep)
        eps, x = to_numpy(model_output), to_numpy(sample)
        sigma = self.sigmas[self._step_index]  # s_churn = 0: sigma_hat == sigma
        x0 = self._x0(eps, x, sigma)
        derivative = (x - x0) / sigma
        prev = x + derivative * (self.sigmas[self._step_index + 1] - sigma)
        self._step_index += 1
        return self._output(prev, sample, return_dict, x0)


class EulerAncestralDiscreteScheduler(_SigmaScheduler):
    """The v1.3 sample script's sampler (with v_prediction, zero-terminal-SNR betas and "trailing" spacing)."""

    defaults = dict(K_COMMON, rescale_betas_zero_snr=False)
    prediction_types = ("epsilon", "v_prediction")
    timestep_spacings = ("linspace", "leading", "trailing")
    zero_snr = True

    def step(self, model_output, timestep, sample, generator=None, return_dict=True):
        if self._step_index is None:
            self._init_step_index(timestep)
        eps, x = to_numpy(model_output), to_numpy(sample)
        sigma_from, sigma_to = self.sigmas[self._step_index], self.sigmas[self._step_index + 1]
        x0 = self._x0(eps, x, sigma_from)
        sigma_up = (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** F32(0.5)
        sigma_down = (sigma_to**2 - sigma_up**2) ** F32(0.5)
        prev = x + (x - x0) / sigma_from * (sigma_down - sigma_from)
        prev = prev + randn(x.shape, generator) * sigma_up
        self._step_index += 1
        return self._output(prev, sample, return_dict, x0)


class HeunDiscreteScheduler(_SigmaScheduler):
    """Heun (order 2: two model calls per step); its own default betas 0.00085..0.012."""

    order = 2
    extra_calls = "second-order"  # two model calls per step but the last
    defaults = dict(K_COMMON, beta_start=0.00085, beta_end=0.012, use_karras_sigmas=False, clip_sample=False,
                    clip_sample_range=1.0)

    def _set_schedule(self, timesteps, sigmas):
        """Every sigma but the first and last twice: one model call per Heun stage."""
        self.sigmas = np.concatenate([sigmas[:1], np.repeat(sigmas[1:-1], 2), sigmas[-1:]])
        self.timesteps = np.concatenate([timesteps[:1], np.repeat(timesteps[1:], 2)]).astype(F32)
        self.prev_derivative = self.dt = self.sample = None

    @property
    def state_in_first_order(self):
        return self.dt is None

    def step(self, model_output, timestep, sample, return_dict=True):
        if self._step_index is None:
            self._init_step_index(timestep)
        eps, x = to_numpy(model_output), to_numpy(sample)
        if self.state_in_first_order:
            sigma, sigma_next = self.sigmas[self._step_index], self.sigmas[self._step_index + 1]
        else:
            sigma, sigma_next = self.sigmas[self._step_index - 1], self.sigmas[self._step_index]
        x0 = x - (sigma if self.state_in_first_order else sigma_next) * eps
        if self.config["clip_sample"]:
            x0 = np.clip(x0, -self.config["clip_sample_range"], self.config["clip_sample_range"])
        if self.state_in_first_order:
            derivative = (x - x0) / sigma
            dt = sigma_next - sigma
            self.prev_derivative, self.dt, self.sample = derivative, dt, x
        else:
            derivative = ((x - x0) / sigma_next + self.prev_derivative) / F32(2)
            dt, x = self.dt, self.sample
            self.prev_derivative = self.dt = self.sample = None
        prev = x + derivative * dt
        self._step_index += 1
        return self._output(prev, sample, return_dict, x0)


class KDPM2AncestralDiscreteScheduler(_SigmaScheduler):
    """DPM-Solver-2 with ancestral noise (order 2, stochastic); default betas 0.00085..0.012."""

    order = 2
    extra_calls = "second-order"  # two model calls per step but the last
    defaults = dict(K_COMMON, beta_start=0.00085, beta_end=0.012, use_karras_sigmas=False)

    def set_timesteps(self, num_inference_steps):
        self.num_inference_steps = num_inference_steps
        timesteps = linspace_timesteps_f32(self.config["num_train_timesteps"], num_inference_steps)
        self.log_sigmas = np.log(sigma_table(self.alphas_cumprod))
        sigmas = np.concatenate([_interp_sigmas(self.alphas_cumprod, timesteps), [0.0]]).astype(F32)
        nxt = np.roll(sigmas, -1)
        nxt[-1] = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            up = (nxt**2 * (sigmas**2 - nxt**2) / sigmas**2) ** F32(0.5)
            down = (nxt**2 - up**2) ** F32(0.5)
            down[-1] = 0.0
            log_s, log_d = np.log(sigmas), np.log(down)
            interpol = np.exp(log_s + F32(0.5) * (log_d - log_s)).astype(F32)  # torch.lerp(.., 0.5)
        interpol[-2:] = 0.0

        def interleave(a):
            return np.concatenate([a[:1], np.repeat(a[1:], 2), a[-1:]]).astype(F32)

        self.sigmas, self.sigmas_interpol = interleave(sigmas), interleave(interpol)
        self.sigmas_up, self.sigmas_down = interleave(up), interleave(down)
        t_interpol = self._sigma_to_t(interpol).astype(F32)
        pairs = np.stack((t_interpol[:-2, None], timesteps[1:, None]), axis=-1).reshape(-1)
        self.timesteps = np.concatenate([timesteps[:1], pairs]).astype(F32)
        self.sample = None
        self._step_index = None

    def _sigma_to_t(self, sigma):
        with np.errstate(divide="ignore"):
            log_sigma = np.log(sigma)
        dists = log_sigma - self.log_sigmas[:, None]
        low = np.clip(np.cumsum(dists >= 0, axis=0).argmax(axis=0), None, len(self.log_sigmas) - 2)
        high = low + 1
        w = np.clip((self.log_sigmas[low] - log_sigma) / (self.log_sigmas[low] - self.log_sigmas[high]), 0, 1)
        return (1 - w) * low + w * high

    @property
    def state_in_first_order(self):
        return self.sample is None

    def _input_sigma(self):
        if self.state_in_first_order:
            return self.sigmas[self._step_index]
        return self.sigmas_interpol[self._step_index - 1]

    def step(self, model_output, timestep, sample, generator=None, return_dict=True):
        if self._step_index is None:
            self._init_step_index(timestep)
        eps, x = to_numpy(model_output), to_numpy(sample)
        i = self._step_index
        if self.state_in_first_order:
            sigma, interp = self.sigmas[i], self.sigmas_interpol[i]
            sigma_up, sigma_down = self.sigmas_up[i], self.sigmas_down[i - 1]
        else:
            sigma, interp = self.sigmas[i - 1], self.sigmas_interpol[i - 1]
            sigma_up, sigma_down = self.sigmas_up[i - 1], self.sigmas_down[i - 1]
        noise = randn(x.shape, generator)
        if self.state_in_first_order:
            derivative = (x - (x - sigma * eps)) / sigma
            self.sample, self.dt = x, interp - sigma
            prev = x + derivative * (interp - sigma)
        else:
            derivative = (x - (x - interp * eps)) / interp
            x, self.sample = self.sample, None
            prev = x + derivative * (sigma_down - sigma) + noise * sigma_up
        self._step_index += 1
        return self._output(prev, sample, return_dict)
