"""Shared machinery of the diffusers-style samplers: config, float32 schedules, tensor conversion.

The scheduler math runs in numpy float32, the precision diffusers uses on CPU (D5): the latents are small
next to the model, and numpy gives identical results on every backend. `step` accepts and returns
MindSpore tensors (or numpy arrays) and returns `(prev_sample,)` first, as the original pipeline expects.
"""

import numpy as np

F32 = np.float32


def torch_linspace_f32(start, end, steps):
    """torch.linspace(start, end, steps, dtype=float32) on CPU: an fp32 step, values filled from both ends with
    a fused multiply-add (one rounding), which an fp64 product-and-sum then a cast reproduces."""
    start, end = F32(start), F32(end)
    step = F32((end - start) / F32(steps - 1))
    idx = np.arange(steps)
    low = (np.float64(start) + np.float64(step) * idx).astype(F32)
    high = (np.float64(end) - np.float64(step) * (steps - idx - 1)).astype(F32)
    return np.where(idx < steps // 2, low, high).astype(F32)


def torch_cumprod_f32(values):
    """torch.cumprod on a CPU float32 tensor accumulates in double, then rounds each partial product."""
    return np.cumprod(values.astype(np.float64)).astype(F32)


def betas_for(config):
    if config.get("trained_betas") is not None:
        return np.asarray(config["trained_betas"], dtype=F32)
    n = config["num_train_timesteps"]
    if config["beta_schedule"] == "linear":
        return torch_linspace_f32(config["beta_start"], config["beta_end"], n)
    if config["beta_schedule"] == "scaled_linear":
        return (torch_linspace_f32(config["beta_start"] ** 0.5, config["beta_end"] ** 0.5, n) ** 2).astype(F32)
    raise ValueError(f"beta_schedule '{config['beta_schedule']}' is not supported")


def rescale_zero_terminal_snr_f32(betas):
    """diffusers' rescale_zero_terminal_snr (Lin et al. 2023, Algorithm 1) in torch's float32 steps: shift
    sqrt(abar) so the last step's is 0, scale so the first keeps its value, back to betas."""
    alphas_bar_sqrt = np.sqrt(torch_cumprod_f32((F32(1.0) - betas).astype(F32))).astype(F32)
    first, last = alphas_bar_sqrt[0].copy(), alphas_bar_sqrt[-1].copy()
    alphas_bar_sqrt = (alphas_bar_sqrt - last).astype(F32)
    alphas_bar_sqrt = (alphas_bar_sqrt * F32(first / F32(first - last))).astype(F32)
    alphas_bar = (alphas_bar_sqrt**2).astype(F32)
    alphas = np.concatenate([alphas_bar[:1], alphas_bar[1:] / alphas_bar[:-1]]).astype(F32)
    return (F32(1.0) - alphas).astype(F32)


def to_numpy(x):
    if isinstance(x, np.ndarray):
        return x.astype(F32, copy=False)
    if hasattr(x, "asnumpy"):
        return x.asnumpy().astype(F32, copy=False)
    return np.asarray(x, dtype=F32)


def like(value, reference):
    """Return `value` (numpy) as the type of `reference` (MindSpore tensor or numpy)."""
    if isinstance(reference, np.ndarray):
        return value.astype(F32, copy=False)
    import mindspore as ms

    return ms.Tensor(np.ascontiguousarray(value, dtype=F32))


def scalar(t):
    if hasattr(t, "asnumpy"):
        t = t.asnumpy()
    return np.asarray(t).reshape(-1)[0].item()


class SchedulerOutput(tuple):
    """A tuple (prev_sample, [pred_original_sample]) with the diffusers attribute names."""

    @property
    def prev_sample(self):
        return self[0]


class Scheduler:
    """Base: `config` = the class's diffusers defaults updated with keyword arguments."""

    defaults = {}
    order = 1
    # what this port implements beyond the defaults (diffusers accepts more; asking for one not here is an error,
    # not a silently different sampler)
    prediction_types = ("epsilon",)
    timestep_spacings = None  # None: the class default only
    zero_snr = False  # rescale_betas_zero_snr

    def __init__(self, **kwargs):
        unknown = set(kwargs) - set(self.defaults)
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown config keys {sorted(unknown)}")
        self.config = {**self.defaults, **kwargs}
        name = type(self).__name__
        spacings = self.timestep_spacings or (self.defaults.get("timestep_spacing"),)
        for key, allowed in (("prediction_type", self.prediction_types), ("timestep_spacing", spacings)):
            if key in self.config and self.config[key] not in allowed:
                raise ValueError(f"{name}: {key}={self.config[key]!r} is not implemented (this port: "
                                 f"{', '.join(allowed)})")
        if self.config.get("rescale_betas_zero_snr") and not self.zero_snr:
            raise ValueError(f"{name}: rescale_betas_zero_snr is not implemented for this sampler")
        self.betas = betas_for(self.config)
        if self.config.get("rescale_betas_zero_snr"):
            self.betas = rescale_zero_terminal_snr_f32(self.betas)
        self.alphas = (F32(1.0) - self.betas).astype(F32)
        self.alphas_cumprod = torch_cumprod_f32(self.alphas)
        self.num_inference_steps = None
        self.timesteps = np.arange(self.config["num_train_timesteps"])[::-1].copy()
        self._step_index = None

    init_noise_sigma = 1.0
    extra_calls = "extra"  # what a sampler's model calls beyond one per step are (PNDM: its warm-up)

    def describe_calls(self, num_inference_steps):
        """The progress bar's label after `set_timesteps`: it counts model calls (one per entry of `timesteps`),
        which is more than --sampling_steps for PNDM (warm-up) and the second-order samplers."""
        name, calls = type(self).__name__.replace("Scheduler", ""), len(self.timesteps)
        if calls == num_inference_steps:
            return f"{name}: {calls} steps"
        extra = calls - num_inference_steps
        return f"{name}: {num_inference_steps} steps + {extra} {self.extra_calls} = {calls} model calls"

    def scale_model_input(self, sample, timestep=None):
        return sample

    def _init_step_index(self, timestep):
        matches = np.nonzero(np.asarray(self.timesteps, dtype=np.float64) == float(scalar(timestep)))[0]
        self._step_index = int(matches[1] if len(matches) > 1 else matches[0])

    @property
    def step_index(self):
        return self._step_index

    def _output(self, prev, reference, return_dict, pred_original=None):
        out = (
            (like(prev, reference),)
            if pred_original is None
            else (like(prev, reference), like(pred_original, reference))
        )
        return SchedulerOutput(out) if return_dict else out


def leading_timesteps(num_train, n, offset):
    step_ratio = num_train // n
    return ((np.arange(0, n) * step_ratio).round()[::-1].copy() + offset).astype(np.int64)


def linspace_timesteps_f32(num_train, n):
    return np.linspace(0, num_train - 1, n, dtype=np.float32)[::-1].copy()


def spaced_timesteps(spacing, num_train, n, offset=0, dtype=np.float32):
    """diffusers' three spacings ("linspace", "leading", "trailing"; Table 2 of Lin et al. 2023) in its dtypes."""
    if spacing == "linspace":
        return linspace_timesteps_f32(num_train, n).astype(dtype)
    if spacing == "leading":
        return ((np.arange(0, n) * (num_train // n)).round()[::-1].copy() + offset).astype(dtype)
    return (np.arange(num_train, 0, -num_train / n).round().astype(dtype) - 1).astype(dtype)  # trailing


def sigma_table(alphas_cumprod):
    """sqrt((1 - abar) / abar) in float32, as diffusers' numpy conversion of the torch tensor."""
    return (((F32(1) - alphas_cumprod) / alphas_cumprod) ** F32(0.5)).astype(F32)


def randn(shape, generator):
    rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
    return rng.standard_normal(shape).astype(F32)
