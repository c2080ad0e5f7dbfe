"""Causal VAE model configs: the released config.json, or this repo's YAML (flat keys or the original
MindSpore port's `ddconfig` layout), both resolved to the original constructor arguments."""

import json
import os

import yaml

from ....utils.errors import UserError

WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors", "model.ckpt")

# Defaults of the original CausalVAEModel.__init__ (the released 488 model overrides the temporal lists).
DEFAULT_CONFIG = dict(
    hidden_size=128, z_channels=4, hidden_size_mult=(1, 2, 4, 4), attn_resolutions=(), dropout=0.0,
    resolution=256, double_z=True, embed_dim=4, num_res_blocks=2, q_conv="CausalConv3d",
    encoder_conv_in="CausalConv3d", encoder_conv_out="CausalConv3d", encoder_attention="AttnBlock3D",
    encoder_resnet_blocks=("ResnetBlock3D",) * 4,
    encoder_spatial_downsample=("SpatialDownsample2x", "SpatialDownsample2x", "SpatialDownsample2x", ""),
    encoder_temporal_downsample=("", "TimeDownsample2x", "TimeDownsample2x", ""),
    encoder_mid_resnet="ResnetBlock3D", decoder_conv_in="CausalConv3d", decoder_conv_out="CausalConv3d",
    decoder_attention="AttnBlock3D", decoder_resnet_blocks=("ResnetBlock3D",) * 4,
    decoder_spatial_upsample=("", "SpatialUpsample2x", "SpatialUpsample2x", "SpatialUpsample2x"),
    decoder_temporal_upsample=("", "", "TimeUpsample2x", "TimeUpsample2x"), decoder_mid_resnet="ResnetBlock3D",
    # Not in the released configs (their GroupNorms all have 32 groups). Narrow models need fewer groups: with one
    # channel per group GroupNorm normalises each channel over the whole clip and the absolute colour is lost.
    norm_num_groups=32,
)
# Training-only keys of the released config.json, accepted and ignored by the model.
TRAINING_CONFIG_KEYS = ("lr", "loss_type", "loss_params", "_class_name", "_diffusers_version", "_name_or_path")

# The original port's LDM-style ddconfig keys -> CausalVAEModel arguments.
DDCONFIG_KEYS = {"ch": "hidden_size", "ch_mult": "hidden_size_mult", "z_channels": "z_channels",
                 "double_z": "double_z", "num_res_blocks": "num_res_blocks", "dropout": "dropout",
                 "resolution": "resolution", "attn_resolutions": "attn_resolutions"}
# ddconfig keys that the released architecture fixes (accepted for compatibility, checked, not configurable).
DDCONFIG_FIXED = {"in_channels": 3, "out_ch": 3, "attn_type": "vanilla3D", "time_compress": 2,
                  "split_time_upsample": True}


def load_vae_config(path):
    if not os.path.isfile(path):
        raise UserError(f"{path}: VAE config not found (expected config.json or configs/ae/*.yaml)")
    with open(path) as f:
        raw = json.load(f) if path.endswith(".json") else yaml.safe_load(f)
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping")
    cfg = _from_ddconfig(raw, path) if _find_ddconfig(raw) is not None else raw
    normalize_config(cfg, path)  # checks the keys
    return cfg


def normalize_config(config, source="the VAE config"):
    """Released config.json dict (or this repo's YAML dict) -> full constructor config; an unknown key is a
    UserError naming `source`."""
    cfg = dict(DEFAULT_CONFIG)
    for key, value in config.items():
        if key in TRAINING_CONFIG_KEYS:
            continue
        if key not in DEFAULT_CONFIG:
            raise UserError(f"{source}: unknown CausalVAEModel config key '{key}'")
        cfg[key] = tuple(value) if isinstance(value, list) else value
    return cfg


# release.json's loss_params: the defaults when a model config names none.
RELEASE_LOSS_PARAMS = {"disc_start": 2001, "disc_weight": 0.5, "kl_weight": 1e-06, "logvar_init": 0.0}


def load_loss_config(path):
    """The training loss's arguments from a model config: release.json's `loss_params`, or the YAML's
    `lossconfig` (top level or under generator.params; flat or as {target, params})."""
    with open(path) as f:
        raw = json.load(f) if path.endswith(".json") else yaml.safe_load(f)
    node = raw.get("loss_params")
    if node is None:
        node = raw.get("lossconfig")
    if node is None and isinstance(raw.get("generator"), dict):
        node = raw["generator"].get("params", {}).get("lossconfig")
    if node is None:
        return dict(RELEASE_LOSS_PARAMS)
    if not isinstance(node, dict):
        raise UserError(f"{path}: lossconfig must be a mapping")
    return dict(node.get("params", node)) if "target" in node or "params" in node else dict(node)


def _find_ddconfig(raw):
    node = raw.get("generator", raw)
    node = node.get("params", node) if isinstance(node, dict) else node
    return node.get("ddconfig") if isinstance(node, dict) else None


def _from_ddconfig(raw, path):
    node = raw.get("generator", raw)
    node = node.get("params", node)
    dd = node["ddconfig"]
    cfg = {}
    for key, value in dd.items():
        if key in DDCONFIG_KEYS:
            cfg[DDCONFIG_KEYS[key]] = value
        elif key in DDCONFIG_FIXED:
            if value != DDCONFIG_FIXED[key]:
                raise UserError(f"{path}: ddconfig.{key}={value!r} is not supported (the causal VAE 488 uses "
                                f"{DDCONFIG_FIXED[key]!r})")
        else:
            raise UserError(f"{path}: unknown ddconfig key '{key}'")
    if "embed_dim" in node:
        cfg["embed_dim"] = node["embed_dim"]
    # The released 488 layout (release.json): time halves at encoder levels 0-1, doubles at decoder levels 2-3.
    cfg.setdefault("encoder_temporal_downsample", ["TimeDownsample2x", "TimeDownsample2x", "", ""])
    # attn_resolutions [16] is never reached at 256 px by the released model: it has mid-block attention only.
    cfg["attn_resolutions"] = []
    return cfg


def find_weights(folder):
    for name in WEIGHT_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise UserError(f"{folder}: no weights found (looked for {', '.join(WEIGHT_FILES)})")
