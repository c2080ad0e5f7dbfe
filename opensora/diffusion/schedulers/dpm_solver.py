"""Multistep / singlestep exponential integrators: DPMSolverMultistep, DPMSolverSinglestep (dpmsolver++, order 2,
midpoint) and DEISMultistep (log-rho, order 2), diffusers default configs, 'linspace' spacing."""

import numpy as np

from .base import F32, Scheduler, sigma_table, to_numpy

DPM_COMMON = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                  trained_betas=None, solver_order=2, prediction_type="epsilon", thresholding=False,
                  dynamic_thresholding_ratio=0.995, sample_max_value=1.0, use_karras_sigmas=False)


def _alpha_sigma(sigma):
    alpha = F32(1) / (sigma**2 + F32(1)) ** F32(0.5)
    return alpha, sigma * alpha


def _lambda(alpha, sigma):
    with np.errstate(divide="ignore"):
        return np.log(alpha) - np.log(sigma)


class _SolverBase(Scheduler):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.config["prediction_type"] != "epsilon" or self.config["thresholding"]:
            raise ValueError(f"{type(self).__name__}: only prediction_type='epsilon' without thresholding")
        self.num_inference_steps = None

    def _timesteps_and_sigmas(self, n, last_sigma):
        num_train = self.config["num_train_timesteps"]
        timesteps = np.linspace(0, num_train - 1, n + 1).round()[::-1][:-1].copy().astype(np.int64)
        sigmas = sigma_table(self.alphas_cumprod)
        sigmas = np.interp(timesteps, np.arange(0, len(sigmas)), sigmas)
        return timesteps, np.concatenate([sigmas, [last_sigma]]).astype(F32)

    def _alpha_sigma_lambda(self, index):
        alpha, sigma = _alpha_sigma(self.sigmas[index])
        return alpha, sigma, _lambda(alpha, sigma)

    def _x0(self, eps, x):
        alpha, sigma = _alpha_sigma(self.sigmas[self._step_index])
        return (x - sigma * eps) / alpha

    def _first_order(self, m, x, deis=False):
        """DPM-Solver-1 (= DDIM) from sigma_s to sigma_t."""
        alpha_t, sigma_t = _alpha_sigma(self.sigmas[self._step_index + 1])
        alpha_s, sigma_s = _alpha_sigma(self.sigmas[self._step_index])
        h = _lambda(alpha_t, sigma_t) - _lambda(alpha_s, sigma_s)
        if deis:
            return (alpha_t / alpha_s) * x - (sigma_t * (np.exp(h) - F32(1))) * m
        with np.errstate(invalid="ignore"):
            return (sigma_t / sigma_s) * x - (alpha_t * (np.exp(-h) - F32(1))) * m


class _MultistepSolver(_SolverBase):
    """The multistep loop shared by DPM-Solver++ and DEIS: keep the last `solver_order` converted outputs and
    use the first-order update until two exist, and at the end when `_lower_final` says so."""

    final_sigma_zero = True
    deis = False

    def set_timesteps(self, num_inference_steps):
        self.num_inference_steps = num_inference_steps
        a0 = self.alphas_cumprod[0]
        last = 0.0 if self.final_sigma_zero else float(((1 - a0) / a0) ** 0.5)
        self.timesteps, self.sigmas = self._timesteps_and_sigmas(num_inference_steps, last)
        self.model_outputs = [None] * self.config["solver_order"]
        self.lower_order_nums = 0
        self._step_index = None

    def step(self, model_output, timestep, sample, generator=None, return_dict=True):
        if self._step_index is None:
            self._init_step_index(timestep)
        x = to_numpy(sample)
        m = self._convert(to_numpy(model_output), x)
        self.model_outputs = self.model_outputs[1:] + [m]
        if self.config["solver_order"] == 1 or self.lower_order_nums < 1 or self._lower_final():
            prev = self._first_order(m, x, deis=self.deis)
        else:
            prev = self._second_order(x)
        self.lower_order_nums = min(self.lower_order_nums + 1, self.config["solver_order"])
        self._step_index += 1
        return self._output(prev, sample, return_dict)


class DPMSolverMultistepScheduler(_MultistepSolver):
    defaults = dict(DPM_COMMON, algorithm_type="dpmsolver++", solver_type="midpoint", lower_order_final=True,
                    euler_at_final=False, use_lu_lambdas=False, final_sigmas_type="zero", lambda_min_clipped=-np.inf,
                    variance_type=None, timestep_spacing="linspace", steps_offset=0, rescale_betas_zero_snr=False)

    def _convert(self, eps, x):
        return self._x0(eps, x)

    def _lower_final(self):
        # (diffusers' "lower order second" flag changes nothing at order 2, the maximum here)
        n = len(self.timesteps)
        return self._step_index == n - 1 and (
            self.config["euler_at_final"]
            or self.config["final_sigmas_type"] == "zero"
            or (self.config["lower_order_final"] and n < 15)
        )

    def _second_order(self, x):
        i = self._step_index
        alpha_t, sigma_t, lam_t = self._alpha_sigma_lambda(i + 1)
        _, sigma_s0, lam_s0 = self._alpha_sigma_lambda(i)
        _, sigma_s1, lam_s1 = self._alpha_sigma_lambda(i - 1)
        m0, m1 = self.model_outputs[-1], self.model_outputs[-2]
        h, h0 = lam_t - lam_s0, lam_s0 - lam_s1
        d0, d1 = m0, (F32(1) / (h0 / h)) * (m0 - m1)
        factor = alpha_t * (np.exp(-h) - F32(1))
        return (sigma_t / sigma_s0) * x - factor * d0 - F32(0.5) * factor * d1


class DPMSolverSinglestepScheduler(_SolverBase):
    defaults = dict(
        DPM_COMMON,
        algorithm_type="dpmsolver++",
        solver_type="midpoint",
        lower_order_final=False,
        final_sigmas_type="zero",
        lambda_min_clipped=-np.inf,
        variance_type=None,
    )

    def set_timesteps(self, num_inference_steps):
        self.num_inference_steps = num_inference_steps
        self.timesteps, self.sigmas = self._timesteps_and_sigmas(num_inference_steps, 0.0)
        self.model_outputs = [None] * self.config["solver_order"]
        self.sample = None
        orders = [1, 2] * (num_inference_steps // 2) + ([1] if num_inference_steps % 2 else [])
        orders[-1] = 1  # final_sigmas_type 'zero'
        self.order_list = orders
        self._step_index = None

    def step(self, model_output, timestep, sample, generator=None, return_dict=True):
        if self._step_index is None:
            self._init_step_index(timestep)
        x = to_numpy(sample)
        m = self._x0(to_numpy(model_output), x)
        self.model_outputs = self.model_outputs[1:] + [m]
        order = self.order_list[self._step_index]
        while self.model_outputs[-order] is None:
            order -= 1
        if order == 1:
            self.sample = x
            prev = self._first_order(m, x)
        else:
            prev = self._second_order(self.sample)
        self._step_index += 1
        return self._output(prev, sample, return_dict)

    def _second_order(self, x):
        """Singlestep DPM-Solver++(2): from the sample saved two sub-steps ago (sigma_s1) to sigma_t."""
        i = self._step_index
        alpha_t, sigma_t, lam_t = self._alpha_sigma_lambda(i + 1)
        _, sigma_s0, lam_s0 = self._alpha_sigma_lambda(i)
        _, sigma_s1, lam_s1 = self._alpha_sigma_lambda(i - 1)
        m0, m1 = self.model_outputs[-1], self.model_outputs[-2]
        h, h0 = lam_t - lam_s1, lam_s0 - lam_s1
        d0, d1 = m1, (F32(1) / (h0 / h)) * (m0 - m1)
        factor = alpha_t * (np.exp(-h) - F32(1))
        with np.errstate(invalid="ignore"):
            return (sigma_t / sigma_s1) * x - factor * d0 - F32(0.5) * factor * d1


class DEISMultistepScheduler(_MultistepSolver):
    defaults = dict(
        DPM_COMMON,
        algorithm_type="deis",
        solver_type="logrho",
        lower_order_final=True,
        timestep_spacing="linspace",
        steps_offset=0,
    )
    final_sigma_zero = False  # DEIS ends at sigma(t=0), not 0
    deis = True

    def _convert(self, eps, x):
        """DEIS works on the noise: x0 is formed, then converted back to eps (identity up to rounding)."""
        alpha, sigma = _alpha_sigma(self.sigmas[self._step_index])
        x0 = (x - sigma * eps) / alpha
        return (x - alpha * x0) / sigma

    def _lower_final(self):
        n = len(self.timesteps)
        return self._step_index == n - 1 and self.config["lower_order_final"] and n < 15

    def _second_order(self, x):
        i = self._step_index
        alpha_t, sigma_t = _alpha_sigma(self.sigmas[i + 1])
        alpha_s0, sigma_s0 = _alpha_sigma(self.sigmas[i])
        alpha_s1, sigma_s1 = _alpha_sigma(self.sigmas[i - 1])
        rho_t, rho_s0, rho_s1 = sigma_t / alpha_t, sigma_s0 / alpha_s0, sigma_s1 / alpha_s1
        m0, m1 = self.model_outputs[-1], self.model_outputs[-2]

        def ind_fn(t, b, c):  # integral of (log t - log c) / (log b - log c) dt
            return t * (-np.log(c) + np.log(t) - 1) / (np.log(b) - np.log(c))

        coef1 = ind_fn(rho_t, rho_s0, rho_s1) - ind_fn(rho_s0, rho_s0, rho_s1)
        coef2 = ind_fn(rho_t, rho_s1, rho_s0) - ind_fn(rho_s0, rho_s1, rho_s0)
        return alpha_t * (x / alpha_s0 + coef1 * m0 + coef2 * m1)
