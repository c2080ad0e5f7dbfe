"""The samplers of the original sample_t2v.py, by its --sample_method names, each built with the diffusers
default config (`<Class>()`), as the original does. PNDM is the default."""

from .ddim_pndm_ddpm import DDIMScheduler, DDPMScheduler, PNDMScheduler
from .dpm_solver import DEISMultistepScheduler, DPMSolverMultistepScheduler, DPMSolverSinglestepScheduler
from .k_diffusion import (
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    KDPM2AncestralDiscreteScheduler,
)

SAMPLERS = {
    "DDIM": DDIMScheduler,
    "EulerDiscrete": EulerDiscreteScheduler,
    "DDPM": DDPMScheduler,
    "DPMSolverMultistep": DPMSolverMultistepScheduler,
    "DPMSolverSinglestep": DPMSolverSinglestepScheduler,
    "PNDM": PNDMScheduler,
    "HeunDiscrete": HeunDiscreteScheduler,
    "EulerAncestralDiscrete": EulerAncestralDiscreteScheduler,
    "DEISMultistep": DEISMultistepScheduler,
    "KDPM2AncestralDiscrete": KDPM2AncestralDiscreteScheduler,
}
DEFAULT_SAMPLER = "PNDM"


# samplers the v1.3 sample script cannot build: get_scheduler passes rescale_betas_zero_snr, which their diffusers
# 0.30.2 __init__ does not take (a TypeError there)
V1_3_UNBUILDABLE = ("DPMSolverSinglestep", "HeunDiscrete", "KDPM2AncestralDiscrete")
V1_3_NO_ZERO_SNR_KEY = ("PNDM", "DEISMultistep")  # get_scheduler pops the key for these two


def create_v1_3_scheduler(name, prediction_type="epsilon", rescale_betas_zero_snr=False):
    """The sampler Open-Sora-Plan v1.3's get_scheduler (opensora/utils/sample_utils.py) builds: prediction type,
    zero-terminal-SNR betas, "trailing" spacing with them and "leading" without, clip_sample off for DDIM/DDPM.
    A combination this port does not implement is a ValueError naming it (never a silently different sampler)."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sample method '{name}'; choose one of {', '.join(SAMPLERS)}")
    if name in V1_3_UNBUILDABLE:
        raise ValueError(f"{name}: the v1.3 sample script cannot build it (diffusers' {name}Scheduler takes no "
                         "rescale_betas_zero_snr); use EulerAncestralDiscrete (the release's), EulerDiscrete or DDIM")
    kwargs = dict(prediction_type=prediction_type, rescale_betas_zero_snr=rescale_betas_zero_snr,
                  timestep_spacing="trailing" if rescale_betas_zero_snr else "leading")
    if name in ("DDIM", "DDPM"):
        kwargs["clip_sample"] = False
    if name in V1_3_NO_ZERO_SNR_KEY:
        kwargs.pop("rescale_betas_zero_snr")
    return SAMPLERS[name](**kwargs)


def create_scheduler(name):
    if name not in SAMPLERS:
        raise ValueError(f"unknown sample method '{name}'; choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name]()


__all__ = ["SAMPLERS", "DEFAULT_SAMPLER", "create_scheduler", "create_v1_3_scheduler"] + [
    c.__name__ for c in SAMPLERS.values()]
