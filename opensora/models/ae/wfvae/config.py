"""WF-VAE model configs: the released config.json (diffusers format) resolved to WFVAEModel's constructor
arguments, with the original's defaults; an unknown key is a one-line error naming the file and key."""

import glob
import json
import os

from ....utils.errors import UserError

CLASS_NAME = "WFVAEModel"
SAFETENSORS_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors")

# Defaults of the original WFVAEModel.__init__ (v1.3.1 modeling_wfvae.py); `dowmsample` is the original's spelling.
DEFAULT_CONFIG = dict(
    latent_dim=8, base_channels=128, encoder_num_resblocks=2, encoder_energy_flow_hidden_size=64,
    decoder_num_resblocks=2, decoder_energy_flow_hidden_size=128, use_attention=True, dropout=0.0,
    norm_type="groupnorm", t_interpolation="nearest", connect_res_layer_num=1,
    scale=(0.18215,) * 8, shift=(0,) * 8,
    l1_dowmsample_block="Downsample", l1_downsample_wavelet="HaarWaveletTransform2D",
    l2_dowmsample_block="Spatial2xTime2x3DDownsample", l2_downsample_wavelet="HaarWaveletTransform3D",
    l1_upsample_block="Upsample", l1_upsample_wavelet="InverseHaarWaveletTransform2D",
    l2_upsample_block="Spatial2xTime2x3DUpsample", l2_upsample_wavelet="InverseHaarWaveletTransform3D",
)
# diffusers' bookkeeping keys of a released config.json, accepted and ignored.
META_KEYS = ("_class_name", "_diffusers_version", "_name_or_path", "_use_default_values", "_commit_hash")
NORM_TYPES = ("groupnorm", "layernorm")
T_INTERPOLATIONS = ("nearest", "trilinear")


def load_wfvae_config(path):
    if not os.path.isfile(path):
        raise UserError(f"{path}: WF-VAE config not found (expected the release's config.json)")
    try:
        with open(path) as f:
            raw = json.load(f)
    except ValueError as err:
        raise UserError(f"{path}: not a readable JSON config ({str(err).splitlines()[0][:120]})") from err
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a JSON object")
    return normalize_config(raw, path)


def normalize_config(config, source="the WF-VAE config"):
    """Released config.json dict -> full constructor config (lists as tuples); checks every key and value."""
    cfg = dict(DEFAULT_CONFIG)
    name = config.get("_class_name", CLASS_NAME)
    if name != CLASS_NAME:
        raise UserError(f"{source}: _class_name '{name}' is not a {CLASS_NAME}")
    for key, value in config.items():
        if key in META_KEYS:
            continue
        if key not in DEFAULT_CONFIG:
            raise UserError(f"{source}: unknown {CLASS_NAME} config key '{key}'")
        cfg[key] = tuple(value) if isinstance(value, list) else value
    if cfg["norm_type"] not in NORM_TYPES:
        raise UserError(f"{source}: norm_type '{cfg['norm_type']}' is not one of {', '.join(NORM_TYPES)}")
    if cfg["t_interpolation"] not in T_INTERPOLATIONS:
        raise UserError(f"{source}: t_interpolation '{cfg['t_interpolation']}' is not one of "
                        f"{', '.join(T_INTERPOLATIONS)}")
    if cfg["decoder_energy_flow_hidden_size"] != cfg["base_channels"]:
        # The decoder's connection blocks take `base_channels` inputs from the last energy-flow channels.
        raise UserError(f"{source}: decoder_energy_flow_hidden_size {cfg['decoder_energy_flow_hidden_size']} must "
                        f"equal base_channels {cfg['base_channels']} (the original's decoder needs it)")
    if cfg["norm_type"] == "groupnorm":  # 32 groups, as the original hard-codes
        base = cfg["base_channels"]
        widths = {base, 2 * base, 4 * base, 2 * base + cfg["encoder_energy_flow_hidden_size"],
                  4 * base + cfg["decoder_energy_flow_hidden_size"]}
        odd = sorted(w for w in widths if w % 32)
        if odd:
            raise UserError(f"{source}: norm_type groupnorm normalises {', '.join(map(str, odd))} channels in 32 "
                            "groups; choose base_channels and energy-flow sizes so that every width is a multiple of "
                            "32, or use norm_type layernorm")
    return cfg


def find_weights(folder):
    """The weights of a released folder, as the original's from_pretrained picks them: a `*.ckpt` there (the v1.3
    release's merged.ckpt), else the diffusers safetensors. Several .ckpt files are ambiguous (the original takes
    whichever glob lists last)."""
    ckpts = sorted(glob.glob(os.path.join(folder, "*.ckpt")))
    if len(ckpts) > 1:
        raise UserError(f"{folder}: several checkpoints ({', '.join(os.path.basename(p) for p in ckpts)}); "
                        "pass the one to load as the checkpoint")
    if ckpts:
        return ckpts[0]
    for name in SAFETENSORS_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise UserError(f"{folder}: no weights found (looked for *.ckpt, {', '.join(SAFETENSORS_FILES)})")


def check_clip_size(num_frames, height, width, flags=("--num_frames", "--crop_size", "--crop_size")):
    """A clip the WF-VAE reconstructs whole: 4k+1 frames (1 = an image), sides multiples of 8; else a one-line
    error naming the flag (other sizes run but silently drop frames / pixels)."""
    if num_frames < 1 or (num_frames - 1) % 4:
        lower = max(1, 4 * ((num_frames - 1) // 4) + 1)
        raise UserError(f"{flags[0]} {num_frames}: the WF-VAE takes 4k+1 frames (1 for images), e.g. {lower} or "
                        f"{lower + 4}")
    for flag, side in ((flags[1], height), (flags[2], width)):
        if side < 8 or side % 8:
            raise UserError(f"{flag} {side}: the WF-VAE needs sides that are multiples of 8")

