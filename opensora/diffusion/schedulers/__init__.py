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


def create_scheduler(name):
    if name not in SAMPLERS:
        raise ValueError(f"unknown sample method '{name}'; choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name]()


__all__ = ["SAMPLERS", "DEFAULT_SAMPLER", "create_scheduler"] + [c.__name__ for c in SAMPLERS.values()]
