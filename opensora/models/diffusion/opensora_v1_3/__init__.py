from .inpaint import OpenSoraInpaint_v1_3, OpenSoraInpaint_v1_3_2B_122, OpenSoraInpaint_v1_3_models
from .model import OpenSora_v1_3_models, OpenSora_v1_3_models_class, OpenSoraT2V_v1_3, OpenSoraT2V_v1_3_2B_122

__all__ = ["OpenSoraT2V_v1_3", "OpenSoraT2V_v1_3_2B_122", "OpenSora_v1_3_models", "OpenSora_v1_3_models_class",
           "OpenSoraInpaint_v1_3", "OpenSoraInpaint_v1_3_2B_122", "OpenSoraInpaint_v1_3_models"]
