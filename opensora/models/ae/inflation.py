"""2-D image VAE (SD's AutoencoderKL) -> causal video VAE weights by "tail" inflation.

Each 2-D kernel (Co, Ci, kh, kw) becomes a 3-D kernel (Co, Ci, kt, kh, kw) that is zero except at the last
temporal index. With the causal conv's first-frame padding, a one-frame clip then goes through exactly the 2-D
convolution; GroupNorm affine parameters and biases are copied. The 2-D checkpoint may use diffusers names
(`encoder.down_blocks.0.resnets.0.conv1.weight`, e.g. sd-vae-ft-mse) or LDM names
(`encoder.down.0.block.0.conv1.weight`, also with MindSpore's GroupNorm gamma/beta).
"""

import re

import numpy as np

from ...utils.errors import UserError

NUM_LEVELS = 4  # SD's VAE and the causal VAE 488 both have 4 resolution levels

_RESNET_PARTS = {"norm1": "norm1", "conv1": "conv1", "norm2": "norm2", "conv2": "conv2",
                 "conv_shortcut": "nin_shortcut"}
_ATTN_PARTS = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out",
               "query": "q", "key": "k", "value": "v", "proj_attn": "proj_out"}  # new and old diffusers names


def torch_norm_names(name):
    """MindSpore's GroupNorm `gamma`/`beta` -> torch's `weight`/`bias` (other names unchanged)."""
    return re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", name))


def detect_2d_layout(state):
    """'diffusers', 'ldm' (2-D kernels) or None (not a 2-D VAE, e.g. already a causal VAE)."""
    if any(k.startswith(("encoder.down_blocks.", "decoder.up_blocks.")) for k in state):
        return "diffusers"
    w = state.get("encoder.conv_in.weight")
    if w is not None and np.ndim(w) == 4:
        return "ldm"
    return None


def _diffusers_name_to_ldm(name):
    side, rest = name.split(".", 1) if name.startswith(("encoder.", "decoder.")) else ("", name)
    if not side:
        return name  # quant_conv / post_quant_conv
    simple = {"conv_norm_out": "norm_out"}
    m = re.match(r"(down_blocks|up_blocks)\.(\d+)\.resnets\.(\d+)\.(\w+)\.(weight|bias)$", rest)
    if m:
        kind, i, j, part, leaf = m.groups()
        level = int(i) if kind == "down_blocks" else NUM_LEVELS - 1 - int(i)  # decoder levels run backwards
        return f"{side}.{'down' if kind == 'down_blocks' else 'up'}.{level}.block.{j}.{_RESNET_PARTS[part]}.{leaf}"
    m = re.match(r"(down_blocks|up_blocks)\.(\d+)\.(downsamplers|upsamplers)\.0\.conv\.(weight|bias)$", rest)
    if m:
        kind, i, _, leaf = m.groups()
        if kind == "down_blocks":
            return f"{side}.down.{i}.downsample.conv.{leaf}"
        return f"{side}.up.{NUM_LEVELS - 1 - int(i)}.upsample.conv.{leaf}"
    m = re.match(r"mid_block\.resnets\.(\d)\.(\w+)\.(weight|bias)$", rest)
    if m:
        j, part, leaf = m.groups()
        return f"{side}.mid.block_{int(j) + 1}.{_RESNET_PARTS[part]}.{leaf}"
    m = re.match(r"mid_block\.attentions\.0\.(.+)\.(weight|bias)$", rest)
    if m and m.group(1) in _ATTN_PARTS:
        return f"{side}.mid.attn_1.{_ATTN_PARTS[m.group(1)]}.{m.group(2)}"
    first, _, leaf = rest.partition(".")
    return f"{side}.{simple.get(first, first)}.{leaf}"


def to_ldm_2d(state, source="checkpoint"):
    """A 2-D VAE state (diffusers or LDM names, torch or MindSpore norm names) -> LDM names, torch leaves,
    with attention Linear weights (C, C) as 1x1 conv kernels (C, C, 1, 1)."""
    layout = detect_2d_layout(state)
    if layout is None:
        raise UserError(f"{source}: not a 2-D VAE checkpoint (expected diffusers `encoder.down_blocks.*` or LDM "
                        "`encoder.down.*` names with 2-D kernels)")
    out = {}
    for name, value in state.items():
        if name.startswith("loss."):
            continue
        name = torch_norm_names(name)
        if layout == "diffusers":
            name = _diffusers_name_to_ldm(name)
        if ".attn_1." in name and name.endswith(".weight") and np.ndim(value) == 2:
            value = value[:, :, None, None]
        out[name] = np.asarray(value, np.float32)
    return out, layout


def ldm_name_of_3d(name):
    """Causal VAE parameter name -> the LDM 2-D name it is inflated from (drop CausalConv3d's inner `.conv`)."""
    return re.sub(r"\.conv\.(weight|bias)$", r".\1", torch_norm_names(name))


def inflate(ldm_state, target, source="checkpoint"):
    """Fill `target` (3-D name -> ndarray with the model's init) from an LDM-named 2-D state.

    Returns (state, report) with report = {"inflated", "copied", "kept_init" (3-D names with no 2-D source),
    "unused" (2-D names no 3-D parameter takes)}. A shape that cannot be inflated is an error."""
    state, report = {}, {"inflated": [], "copied": [], "kept_init": [], "unused": []}
    used = set()
    for name, init in target.items():
        src_name = ldm_name_of_3d(name)
        if src_name not in ldm_state:
            state[name] = init
            report["kept_init"].append(name)
            continue
        src = ldm_state[src_name]
        used.add(src_name)
        if src.shape == init.shape:
            state[name] = src
            report["copied"].append(name)
        elif init.ndim == 5 and src.ndim == 4 and init.shape[:2] + init.shape[3:] == src.shape:
            kernel = np.zeros(init.shape, np.float32)
            kernel[:, :, -1] = src  # "tail": the 2-D kernel at the last (current-frame) tap
            state[name] = kernel
            report["inflated"].append(name)
        else:
            raise UserError(f"{source}: {src_name} has shape {tuple(src.shape)}, which cannot fill {name} "
                            f"{tuple(init.shape)}; do the 2-D VAE and --model_config have the same widths?")
    report["unused"] = sorted(set(ldm_state) - used)
    return state, report
