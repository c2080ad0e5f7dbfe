"""Denoiser families by the `_class_name` of their config.json: the v1.0 LatteT2V (the default: its released
config names `LatteT2V`, this repo's tiny configs name none), the v1.3 OpenSoraT2V_v1_3 and its image-to-video /
inpainting sibling OpenSoraInpaint_v1_3."""

from ...utils.errors import UserError

DEFAULT_FAMILY = "LatteT2V"


def families():
    """class name -> model class (imported here, so that importing this module builds nothing)."""
    from .latte import LatteT2V
    from .opensora_v1_3 import OpenSoraInpaint_v1_3, OpenSoraT2V_v1_3

    return {"LatteT2V": LatteT2V, "OpenSoraT2V_v1_3": OpenSoraT2V_v1_3, "OpenSoraInpaint_v1_3": OpenSoraInpaint_v1_3}


def family_of_config(config, source="the model config"):
    """The class a config dict describes; an unknown `_class_name` lists the known ones."""
    name = config.get("_class_name") or DEFAULT_FAMILY
    known = families()
    if name not in known:
        raise UserError(f"{source}: _class_name '{name}' is not a denoiser this repo has ({', '.join(known)})")
    return known[name]
