"""OpenSoraT2V_v1_3 model configs: the released config.json (diffusers format) -> constructor arguments."""

import json
import os

import yaml

from ....utils.errors import UserError

CLASS_NAME = "OpenSoraT2V_v1_3"
# The original hard-codes which layers may be sparse: layers 2..29 (`i > 1 and i < 30`); the others are dense.
SPARSE_LAYERS = range(2, 30)
# prepare_sparse_mask is only run for these group sizes (`for sparse_n in [1, 4]`).
MASKED_SPARSE_N = (1, 4)
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors", "model.ckpt")

# Constructor arguments of the original OpenSoraT2V_v1_3.__init__ (the config.json keys) and their defaults.
DEFAULT_CONFIG = dict(
    num_attention_heads=16, attention_head_dim=88, in_channels=None, out_channels=None, num_layers=1, dropout=0.0,
    cross_attention_dim=None, attention_bias=True, sample_size_h=None, sample_size_w=None, sample_size_t=None,
    patch_size=None, patch_size_t=None, activation_fn="geglu", only_cross_attention=False,
    double_self_attention=False, upcast_attention=False, norm_elementwise_affine=False, norm_eps=1e-6,
    caption_channels=None, interpolation_scale_h=1.0, interpolation_scale_w=1.0, interpolation_scale_t=1.0,
    sparse1d=False, sparse_n=2,
)
# Bookkeeping keys diffusers writes into config.json; accepted unchanged, not constructor arguments.
METADATA_KEYS = ("_class_name", "_diffusers_version", "_name_or_path")
REQUIRED_KEYS = ("in_channels", "patch_size", "patch_size_t", "caption_channels")
# diffusers FeedForward activations this port implements (the released model uses "gelu-approximate").
FF_ACTIVATIONS = ("gelu", "gelu-approximate", "geglu", "geglu-approximate")


def normalize_config(config, source="the OpenSoraT2V_v1_3 config", class_name=CLASS_NAME, extra_defaults=None):
    """config.json dict (or keyword arguments of the same names) -> full constructor config; `extra_defaults`: the
    keys a subclass adds (the inpaint model's vae_scale_factor_t).

    An unknown key, a missing required key or an unsupported value is a UserError naming `source`."""
    defaults = {**DEFAULT_CONFIG, **(extra_defaults or {})}
    cfg = dict(defaults)
    for key, value in config.items():
        if key in METADATA_KEYS:
            continue
        if key not in defaults:
            raise UserError(f"{source}: unknown {class_name} config key '{key}'")
        cfg[key] = value
    found = config.get("_class_name", class_name)
    if found != class_name:
        raise UserError(f"{source}: _class_name '{found}' is not {class_name}")
    missing = [k for k in REQUIRED_KEYS if cfg[k] is None]
    if missing:
        raise UserError(f"{source}: {class_name} needs {', '.join(missing)}")
    if cfg["activation_fn"] not in FF_ACTIVATIONS:
        raise UserError(f"{source}: activation_fn '{cfg['activation_fn']}' is not supported "
                        f"(expected one of {', '.join(FF_ACTIVATIONS)})")
    # The original embeds each frame with a 2-D conv (PatchEmbed2D) and never patchifies time, so only
    # patch_size_t = 1 gives consistent token counts (the released model's value).
    if cfg["patch_size_t"] != 1:
        raise UserError(f"{source}: patch_size_t={cfg['patch_size_t']} is not supported (the original's "
                        "PatchEmbed2D does not patchify time; the released model uses 1)")
    if cfg["attention_head_dim"] % 6:
        raise UserError(f"{source}: attention_head_dim={cfg['attention_head_dim']} must be a multiple of 6 "
                        "(RoPE3D splits each head into t, h, w thirds of even size)")
    # The original builds attention masks for sparse_n 1 and 4 only, and hands the grouped masks to layers 2..29
    # even when they are dense: other configurations fail in its forward (here: checked before anything is built).
    if cfg["num_layers"] > SPARSE_LAYERS.start:
        if cfg["sparse_n"] not in MASKED_SPARSE_N:
            raise UserError(f"{source}: sparse_n={cfg['sparse_n']}: the original builds attention masks for "
                            f"sparse_n 1 and 4 only")
        if cfg["sparse_n"] != 1 and not cfg["sparse1d"]:
            raise UserError(f"{source}: sparse1d=False with sparse_n={cfg['sparse_n']}: the original gives layers "
                            "2..29 masks grouped for sparse_n and fails; use sparse_n=1 for a dense model")
    return cfg


def load_config(path, class_name=CLASS_NAME, extra_defaults=None):
    """config.json (or a YAML file with the same keys) -> constructor config."""
    if not os.path.isfile(path):
        raise UserError(f"{path}: {class_name} config not found")
    with open(path) as f:
        try:
            raw = json.load(f) if path.endswith(".json") else yaml.safe_load(f)
        except ValueError as err:
            raise UserError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of config keys")
    return normalize_config(raw, path, class_name, extra_defaults)


def find_weights(folder):
    """The weight file of a released folder; a UserError when it has none (no silent random weights)."""
    for name in WEIGHT_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise UserError(f"{folder}: no weights found (looked for {', '.join(WEIGHT_FILES)})")
