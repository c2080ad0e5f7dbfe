"""Autoencoder families by name, and which one a config describes: the v1.0 causal VAE and the v1.3 WF-VAE.

A released config.json names its class (`_class_name`); this repo's YAML for the causal VAE does not, so a config
without one is the causal VAE -- unless it has keys only the WF-VAE takes. The v1.3 scripts name an autoencoder as
`--ae WFVAEModel_D8_4x8x8` (family, latent channels, compression); those names are accepted too.
"""

import json
import os

import yaml

from ...utils.errors import UserError

DEFAULT_FAMILY = "CausalVAEModel"
WFVAE_ONLY_KEYS = ("base_channels", "encoder_energy_flow_hidden_size", "decoder_energy_flow_hidden_size")
# 2-D image VAEs: not a family of their own here, the input of convert_vae.py's 2-D route and the inflation tool
IMAGE_VAE_CLASSES = ("AutoencoderKL",)


def families():
    """family name -> model class (imported here, so that importing this module builds nothing)."""
    from .causal_vae.model import CausalVAEModel
    from .wfvae.model import WFVAEModel

    return {"CausalVAEModel": CausalVAEModel, "WFVAEModel": WFVAEModel}


def family_of_name(name):
    """'WFVAEModel_D8_4x8x8' or 'WFVAEModel' -> 'WFVAEModel'; an unknown name lists the known ones."""
    known = families()
    family = name.split("_", 1)[0]
    if family not in known:
        raise UserError(f"--ae {name}: unknown autoencoder; choose one of {', '.join(sorted(known))} "
                        "(optionally with the v1.3 suffix, e.g. WFVAEModel_D8_4x8x8)")
    return family


def config_file(config_or_folder):
    if os.path.isdir(config_or_folder):
        return os.path.join(config_or_folder, "config.json")
    return config_or_folder


def read_config(config_or_folder):
    """(path, parsed JSON/YAML) of an autoencoder config; a missing or unreadable file is one line naming it."""
    path = config_file(config_or_folder)
    if not os.path.isfile(path):
        raise UserError(f"{path}: autoencoder config not found (expected config.json or a configs/ae/*.yaml)")
    try:
        with open(path) as f:
            raw = json.load(f) if path.endswith(".json") else yaml.safe_load(f)
    except (ValueError, yaml.YAMLError) as err:
        raise UserError(f"{path}: not a readable JSON/YAML config ({str(err).splitlines()[0][:120]})") from err
    return path, raw


def declared_class(config_or_folder):
    """The `_class_name` a config names, or '' when it names none."""
    _, raw = read_config(config_or_folder)
    return str(raw.get("_class_name") or "") if isinstance(raw, dict) else ""


def detect_family(config_or_folder):
    """The family a config file (or a released folder's config.json) describes."""
    path, raw = read_config(config_or_folder)
    if not isinstance(raw, dict):
        return DEFAULT_FAMILY
    if raw.get("_class_name"):
        name = str(raw["_class_name"])
        if name in IMAGE_VAE_CLASSES:
            raise UserError(f"{path}: a 2-D image VAE ({name}), not a video autoencoder; convert it with "
                            "tools/model_conversion/convert_vae.py and inflate it with inflate_vae2d_to_vae3d.py")
        if name.split("_", 1)[0] not in families():
            raise UserError(f"{path}: _class_name {name} is not an autoencoder this repo runs; "
                            f"known: {', '.join(sorted(families()))}")
        return family_of_name(name)
    # a WF-VAE config.json written without diffusers' `_class_name` still has keys only the WF-VAE takes
    return "WFVAEModel" if any(key in raw for key in WFVAE_ONLY_KEYS) else DEFAULT_FAMILY


def load_autoencoder(config_or_folder, checkpoint=None, family="", strict=True, logger=None):
    """Build the autoencoder `config_or_folder` describes (or `family`, which must agree) and load its weights."""
    detected = detect_family(config_or_folder)
    if family and family_of_name(family) != detected:
        raise UserError(f"--ae {family}: {config_file(config_or_folder)} describes a {detected}; "
                        "pass the matching --ae or drop it")
    return families()[detected].from_pretrained(config_or_folder, checkpoint=checkpoint, strict=strict,
                                                logger=logger)


def latent_channels_of(config_or_folder):
    """The latent channels a config describes, read without building the model (a denoiser's in_channels must
    match them)."""
    family = detect_family(config_or_folder)
    path = config_file(config_or_folder)
    if family == "WFVAEModel":
        from .wfvae.config import load_wfvae_config

        return int(load_wfvae_config(path)["latent_dim"])
    from .causal_vae.config import load_vae_config, normalize_config

    return int(normalize_config(load_vae_config(path), path)["embed_dim"])
