"""Reading, renaming and strictly loading checkpoints: one module shared by every loader and converter.

Formats read without torch and without executing pickle code:
  .safetensors (incl. bf16/fp16 -> fp32), MindSpore .ckpt, and PyTorch .pt/.pth/.bin (zip archives and the
  pre-1.6 legacy format) through a restricted unpickler that rebuilds tensors only.
"""

import json
import os
import pickle
import struct
import zipfile

import numpy as np

from ..utils.errors import UserError

# The only systematic renames between the original PyTorch names and ours: norm affine parameters.
RENAMES = ((".weight", ".gamma"), (".bias", ".beta"))
# Prefixes that training frameworks wrap parameter names in (the original port saves `network.`; MindSpore's
# amp wrapper adds `_backbone.`).
STRIP_PREFIXES = ("network.", "model.", "module.", "_backbone.")

_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


# ----------------------------------------------------------------------------- reading
def read_safetensors(path):
    """name -> float32/int ndarray; bf16 is widened to fp32 (numpy has no bf16)."""
    with open(path, "rb") as f:
        header_len_bytes = f.read(8)
        if len(header_len_bytes) != 8:
            raise UserError(f"{path}: truncated safetensors file (no header)")
        (header_len,) = struct.unpack("<Q", header_len_bytes)
        try:
            header = json.loads(f.read(header_len))
        except (ValueError, UnicodeDecodeError) as err:
            raise UserError(f"{path}: not a safetensors file (bad header)") from err
        data = f.read()
    state = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        if end > len(data):
            raise UserError(f"{path}: truncated safetensors file (tensor '{name}' ends at byte {end}, "
                            f"file has {len(data)}); download it again")
        raw = data[start:end]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in _SAFETENSORS_DTYPES:
            arr = np.frombuffer(raw, dtype=_SAFETENSORS_DTYPES[info["dtype"]])
        else:
            raise UserError(f"{path}: tensor '{name}' has unsupported dtype {info['dtype']}")
        state[name] = arr.reshape(info["shape"]).copy()
    return state


def read_mindspore_ckpt(path):
    import mindspore as ms

    try:
        params = ms.load_checkpoint(path)
    except Exception as err:
        raise UserError(f"{path}: cannot read MindSpore checkpoint ({str(err).splitlines()[0][:160]})") from err
    return {k: v.asnumpy() for k, v in params.items()}


class _TorchStorage:
    def __init__(self, dtype):
        self.dtype = dtype


_TORCH_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bf16", "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


def _rebuild_tensor(storage, offset, size, stride, *args):
    arr, itemsize = storage
    size, stride = tuple(size), tuple(stride)
    if not size:
        return arr[offset].copy()
    return np.lib.stride_tricks.as_strided(arr[offset:], shape=size,
                                           strides=tuple(s * itemsize for s in stride)).copy()


def _rebuild_parameter(data, *args):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds tensors from a torch zip archive; any other global is refused, so no code runs."""

    def __init__(self, fileobj, archive, prefix, path):
        super().__init__(fileobj)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _TORCH_STORAGE_DTYPES:
            return _TorchStorage(_TORCH_STORAGE_DTYPES[name])
        raise UserError(f"{self.path}: refusing to unpickle '{module}.{name}' (only tensors are allowed; "
                        "convert the file to safetensors if it holds other objects)")

    def persistent_load(self, pid):
        _, storage_type, key, _location, numel = pid
        dtype = storage_type.dtype
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        if dtype == "bf16":
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
            return arr, arr.itemsize
        arr = np.frombuffer(raw, dtype=dtype)
        return arr, arr.itemsize


class _LegacyStorage:
    """A storage of a pre-1.6 torch.save file: its bytes follow the pickles, so tensors are rebuilt later."""

    def __init__(self, dtype, numel):
        self.dtype, self.numel, self.array = dtype, numel, None


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def materialize(self):
        arr = self.storage.array
        return _rebuild_tensor((arr, arr.itemsize), self.offset, self.size, self.stride)


class _LegacyUnpickler(_RestrictedUnpickler):
    """The same allow-list as the zip reader; storages are placeholders filled from the raw bytes after."""

    def __init__(self, fileobj, path, storages):
        super().__init__(fileobj, None, "", path)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return lambda storage, offset, size, stride, *args: _LazyTensor(storage, offset, size, stride)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        _, storage_type, key, _location, numel = pid[:5]
        if key not in self.storages:
            self.storages[key] = _LegacyStorage(storage_type.dtype, numel)
        return self.storages[key]


class _PlainUnpickler(pickle.Unpickler):
    """For the header pickles of the legacy format (ints, a dict of ints/bools, a list of str): nothing else."""

    def find_class(self, module, name):
        raise UserError(f"refusing to unpickle '{module}.{name}' in a legacy torch header")


def read_torch_legacy(path):
    """State dict of a pre-1.6 torch.save file (e.g. lpips' vgg.pth, torchvision's vgg16-397923af.pth).

    Layout: pickled magic number, protocol version, sys info, the object (storages as persistent ids), the
    list of storage keys, then each storage as an int64 element count and its raw little-endian bytes."""
    with open(path, "rb") as f:
        magic = _PlainUnpickler(f).load()
        if magic != 0x1950A86A20F9469CFC6C:
            raise UserError(f"{path}: not a torch checkpoint (neither a zip archive nor the legacy format)")
        _PlainUnpickler(f).load()  # protocol version
        _PlainUnpickler(f).load()  # sys info
        storages = {}
        obj = _LegacyUnpickler(f, path, storages).load()
        keys = _PlainUnpickler(f).load()
        for key in keys:
            storage = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            dtype = np.uint16 if storage.dtype == "bf16" else storage.dtype
            raw = np.frombuffer(f.read(numel * np.dtype(dtype).itemsize), dtype=dtype)
            if storage.dtype == "bf16":
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            storage.array = raw
    return _materialize(obj)


def _materialize(obj):
    if isinstance(obj, _LazyTensor):
        return obj.materialize()
    if isinstance(obj, dict):
        return type(obj)((k, _materialize(v)) for k, v in obj.items())
    return obj


def read_torch_file(path):
    """State dict of a torch.save file (.pt/.pth/.bin) without torch and without running pickle code: the zip
    archive of torch >= 1.6, or the legacy format before it."""
    if not zipfile.is_zipfile(path):
        return read_torch_legacy(path)
    with zipfile.ZipFile(path) as archive:
        pkl_names = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if not pkl_names:
            raise UserError(f"{path}: no data.pkl in the archive; not a torch checkpoint")
        prefix = pkl_names[0][: -len("/data.pkl")]
        import io

        obj = _RestrictedUnpickler(io.BytesIO(archive.read(pkl_names[0])), archive, prefix, path).load()
    return obj


def unwrap_state_dict(obj, path):
    """Training checkpoints nest the weights: take `ema`, `state_dict`, `model` or `model_state_dict`."""
    for key in ("ema", "state_dict", "model_state_dict", "model", "module"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            return unwrap_state_dict(obj[key], path)
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise UserError(f"{path}: does not hold a flat name -> tensor state dict")
    return obj


def read_state_dict(path):
    """name -> ndarray from .safetensors, .ckpt, .pt, .pth or .bin (sharded index .json too)."""
    if not os.path.isfile(path):
        raise UserError(f"{path}: checkpoint file not found")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".safetensors":
        return read_safetensors(path)
    if ext == ".ckpt":
        return read_mindspore_ckpt(path)
    if ext in (".pt", ".pth", ".bin"):
        return unwrap_state_dict(read_torch_file(path), path)
    if ext == ".json":  # a sharded checkpoint's index
        with open(path) as f:
            index = json.load(f)
        state = {}
        for shard in sorted(set(index["weight_map"].values())):
            state.update(read_state_dict(os.path.join(os.path.dirname(path), shard)))
        return state
    raise UserError(f"{path}: unknown checkpoint extension '{ext}'; expected .safetensors, .ckpt, .pt, .pth or .bin")


# ----------------------------------------------------------------------------- renaming and loading
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


def load_state_into(net, state, source="checkpoint", drop_prefixes=(), strict=True, logger=None):
    """Load `state` (torch or MindSpore names) into `net`; strict: any missing/unexpected/shape error raises.

    Returns a report dict with the counts.
    """
    import mindspore as ms

    params = dict(net.parameters_and_names())
    mapped, dropped, unexpected = map_names(state, params.keys(), drop_prefixes)
    missing = [n for n in params if n not in mapped]
    bad_shapes = [f"{n}: checkpoint {tuple(v.shape)} vs model {tuple(params[n].shape)}"
                  for n, v in mapped.items() if tuple(v.shape) != tuple(params[n].shape)]
    if bad_shapes:
        raise UserError(f"{source}: {len(bad_shapes)} parameter shape mismatches (wrong checkpoint for this "
                        f"model config?): {'; '.join(bad_shapes[:5])}" + (" ..." if len(bad_shapes) > 5 else ""))
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {', '.join(missing[:6])}" + (" ..." if len(missing) > 6 else ""))
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {', '.join(unexpected[:6])}"
                         + (" ..." if len(unexpected) > 6 else ""))
        raise UserError(f"{source}: does not match the model ({'; '.join(parts)}); "
                        "check the checkpoint and the model config belong together")
    for name, value in mapped.items():
        param = params[name]
        param.set_data(ms.Tensor(np.ascontiguousarray(value), dtype=param.dtype))
    report = {"loaded": len(mapped), "dropped": dropped, "missing": missing, "unexpected": unexpected}
    if logger is not None:
        logger.info(f"loaded {len(mapped)} tensors from {source}"
                    + (f"; dropped {len(dropped)} ({dropped[0].split('.')[0]}.*)" if dropped else ""))
    return report


def save_state(state, path):
    """Write name -> ndarray as a MindSpore .ckpt (fp as given), atomically (temp file + rename)."""
    import mindspore as ms

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.partial.ckpt"
    ms.save_checkpoint([{"name": k, "data": ms.Tensor(np.ascontiguousarray(v))} for k, v in state.items()], tmp)
    os.replace(tmp, path)
    return path


def net_state(net):
    """name -> ndarray of every parameter of `net`."""
    return {name: p.asnumpy() for name, p in net.parameters_and_names()}


def convert_for_model(src, target, target_shapes, drop_prefixes=(), config_name="the model config"):
    """Read `src`, rename onto `target_shapes` (name -> shape), check strictly, save fp32 .ckpt at `target`.

    Prints converted / dropped / missing / unexpected / shape-mismatch counts; any mismatch is an error.
    """
    if not target.endswith(".ckpt"):
        raise UserError(f"--target {target}: the output must be a .ckpt file")
    state = read_state_dict(src)
    mapped, dropped, unexpected = map_names(state, target_shapes.keys(), drop_prefixes)
    missing = [n for n in target_shapes if n not in mapped]
    shape_errors = [n for n, v in mapped.items() if tuple(v.shape) != tuple(target_shapes[n])]
    print(f"converted {len(mapped)} / dropped {len(dropped)}" + (f" ({', '.join(p + '*' for p in drop_prefixes)})" if drop_prefixes else "")
          + f" / missing {len(missing)} / unexpected {len(unexpected)} / shape mismatches {len(shape_errors)}")
    if missing or unexpected or shape_errors:
        parts = [f"{label} e.g. {', '.join(names[:3])}" for label, names in
                 (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shape_errors)) if names]
        raise UserError(f"{src}: does not match {config_name}: {'; '.join(parts)}")
    save_state({name: mapped[name].astype(np.float32) for name in target_shapes}, target)
    print(f"saved {target}")
    return {"converted": len(mapped), "dropped": dropped}
