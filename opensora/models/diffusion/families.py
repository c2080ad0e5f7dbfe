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


V1_3_CLASSES = ("OpenSoraT2V_v1_3", "OpenSoraInpaint_v1_3")


def is_v1_3(model_class):
    return model_class.__name__ in V1_3_CLASSES


def is_inpaint(model_class):
    """The image-to-video / inpainting model (its input carries the conditioning)."""
    return model_class.__name__ == "OpenSoraInpaint_v1_3"


def check_parts_fit(config, source, vae_config=None, text_width=None, text_source=""):
    """The autoencoder's latent channels are the denoiser's in_channels, the text encoder's width its
    caption_channels -- read from the configs, before any model is built (else a shape error mid-run)."""
    if vae_config is not None:
        from ..ae.families import latent_channels_of

        channels = latent_channels_of(vae_config)
        if channels != config["in_channels"]:
            raise UserError(f"--vae_config {vae_config}: its latents have {channels} channels, the model's "
                            f"({source}) in_channels is {config['in_channels']}; pass the autoencoder the model "
                            "was trained with")
    expected = config.get("caption_channels")
    if text_width is not None and expected is not None and int(text_width) != int(expected):
        raise UserError(f"{text_source}: its embeddings are {text_width} wide, the model's ({source}) caption_channels "
                        f"is {expected}; pass the text encoder the model was trained with")
