"""One entry for every weight file, and the rules that put its names onto a network's parameters.

Loading is strict: a missing, unexpected or mis-shaped key is a one-line UserError naming the source, so random
weights never run silently. Converters use the same matching (`convert_for_model`) and report the same counts.
"""

import json
import os

import numpy as np

from ..utils.errors import UserError
from .mindspore_file import read_mindspore_ckpt, save_state
from .safetensors_file import read_safetensors
from .torch_file import read_torch_file

# The only systematic renames between the original PyTorch names and ours: norm affine parameters.
RENAMES = ((".weight", ".gamma"), (".bias", ".beta"))
# Prefixes that training frameworks wrap parameter names in (the original port saves `network.`; MindSpore's
# amp wrapper adds `_backbone.`).
STRIP_PREFIXES = ("network.", "model.", "module.", "_backbone.")
# Where training checkpoints nest the weights, in the order they are preferred.
NESTED_STATE_KEYS = ("ema", "state_dict", "model_state_dict", "model", "module")

__all__ = ["RENAMES", "STRIP_PREFIXES", "convert_for_model", "load_state_into", "map_names", "net_state",
           "read_state_dict", "save_state"]


def unwrap_state_dict(obj, path, prefer=NESTED_STATE_KEYS):
    """The flat name -> ndarray dict inside a training checkpoint (`ema`, `state_dict`, `model`, ...)."""
    for key in prefer:
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            return unwrap_state_dict(obj[key], path, prefer)
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise UserError(f"{path}: does not hold a flat name -> tensor state dict")
    return obj


def read_state_dict(path, prefer=NESTED_STATE_KEYS):
    """name -> ndarray from .safetensors, .ckpt, .pt, .pth or .bin (a sharded checkpoint's index .json too).
    `prefer`: which nested dict of a torch training checkpoint to take first."""
    if not os.path.isfile(path):
        raise UserError(f"{path}: checkpoint file not found")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".safetensors":
        return read_safetensors(path)
    if ext == ".ckpt":
        if not _is_mindspore_ckpt(path):  # a torch .ckpt (e.g. the released WF-VAE's merged.ckpt)
            return unwrap_state_dict(read_torch_file(path), path, prefer)
        return read_mindspore_ckpt(path)
    if ext in (".pt", ".pth", ".bin"):
        return unwrap_state_dict(read_torch_file(path), path, prefer)
    if ext == ".json":
        return _read_sharded(path)
    raise UserError(f"{path}: unknown checkpoint extension '{ext}'; expected .safetensors, .ckpt, .pt, .pth or .bin")


def _is_mindspore_ckpt(path):
    """A torch file named .ckpt is a zip archive or starts with the legacy pickle magic; MindSpore's is protobuf."""
    import zipfile

    if zipfile.is_zipfile(path):
        return False
    with open(path, "rb") as f:
        head = f.read(2)
    return head[:1] != b"\x80"  # pickle protocol opcode


def _read_sharded(path):
    try:
        with open(path) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise UserError(f"{path}: not a sharded-checkpoint index (needs a 'weight_map' object)") from err
    state = {}
    for shard in shards:
        state.update(read_state_dict(os.path.join(os.path.dirname(path), shard)))
    return state


def map_names(state, target_names, drop_prefixes=()):
    """Rename source keys onto `target_names` (exact, prefix-stripped, or weight/bias -> gamma/beta).

    Returns (mapped state, dropped keys, unexpected keys).
    """
    mapped, dropped, unexpected = {}, [], []
    for name, value in state.items():
        if any(name.startswith(p) for p in drop_prefixes):
            dropped.append(name)
            continue
        target = _match_name(name, target_names)
        if target is None:
            unexpected.append(name)
        else:
            mapped[target] = value
    return mapped, dropped, unexpected


def _match_name(name, target_names):
    candidates = [name] + [name[len(p):] for p in STRIP_PREFIXES if name.startswith(p)]
    for cand in list(candidates):
        for old, new in RENAMES:
            if cand.endswith(old):
                candidates.append(cand[: -len(old)] + new)
    for cand in candidates:
        if cand in target_names:
            return cand
    return None


def _listed(label, names, limit=6):
    return f"{len(names)} {label}: {', '.join(names[:limit])}" + (" ..." if len(names) > limit else "")


def check_against(mapped, unexpected, target_shapes, source, what="the model"):
    """Raise one UserError listing missing / unexpected / mis-shaped keys of `mapped` against name -> shape."""
    missing = [n for n in target_shapes if n not in mapped]
    bad_shapes = [f"{n}: checkpoint {tuple(v.shape)} vs model {tuple(target_shapes[n])}"
                  for n, v in mapped.items() if tuple(v.shape) != tuple(target_shapes[n])]
    parts = [_listed(label, names) for label, names in
             (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", bad_shapes)) if names]
    if parts:
        raise UserError(f"{source}: does not match {what} ({'; '.join(parts)}); "
                        "check the checkpoint and the model config belong together")


def load_state_into(net, state, source="checkpoint", drop_prefixes=(), strict=True, logger=None):
    """Load `state` (torch or MindSpore names) into `net`; strict: any missing/unexpected/shape error raises
    (not strict: shapes are still checked). Returns a report dict with the counts."""
    import mindspore as ms

    params = dict(net.parameters_and_names())
    mapped, dropped, unexpected = map_names(state, params.keys(), drop_prefixes)
    shapes = {n: params[n].shape for n in (params if strict else mapped)}
    check_against(mapped, unexpected if strict else [], shapes, source)
    for name, value in mapped.items():
        param = params[name]
        param.set_data(ms.Tensor(np.ascontiguousarray(value), dtype=param.dtype))
    missing = [n for n in params if n not in mapped]
    report = {"loaded": len(mapped), "dropped": dropped, "missing": missing, "unexpected": unexpected}
    if logger is not None:
        logger.info(f"loaded {len(mapped)} tensors from {source}"
                    + (f"; dropped {len(dropped)} ({dropped[0].split('.')[0]}.*)" if dropped else ""))
    return report


def net_state(net):
    """name -> ndarray of every parameter of `net`."""
    return {name: p.asnumpy() for name, p in net.parameters_and_names()}


def convert_for_model(src, target, target_shapes, drop_prefixes=(), config_name="the model config", prefer=None,
                      state=None):
    """Read `src` (or take `state`, the tensors a family-specific reader already picked from it), rename onto
    `target_shapes` (name -> shape), check strictly, save an fp32 .ckpt at `target`.

    Returns the report (converted / dropped / missing / unexpected / shape-mismatch counts) for the caller to
    print; any mismatch is a UserError naming the keys."""
    if not target.endswith(".ckpt"):
        raise UserError(f"--target {target}: the output must be a .ckpt file")
    if state is None:
        state = read_state_dict(src, **({"prefer": prefer} if prefer else {}))
    mapped, dropped, unexpected = map_names(state, target_shapes.keys(), drop_prefixes)
    check_against(mapped, unexpected, target_shapes, src, config_name)
    save_state({name: mapped[name].astype(np.float32) for name in target_shapes}, target)
    return {"converted": len(mapped), "dropped": len(dropped), "drop_prefixes": list(drop_prefixes),
            "missing": 0, "unexpected": 0, "shape_mismatches": 0, "target": target}


def format_report(report):
    """The converters' one-line summary of a conversion report."""
    drops = f" ({', '.join(p + '*' for p in report['drop_prefixes'])})" if report["drop_prefixes"] else ""
    return (f"converted {report['converted']} / dropped {report['dropped']}{drops} / missing {report['missing']} "
            f"/ unexpected {report['unexpected']} / shape mismatches {report['shape_mismatches']}")
