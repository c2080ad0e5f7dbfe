"""`.safetensors` through the `safetensors` library, which validates the header against the file (offsets, sizes,
dtypes, coverage) before any tensor is read; bf16 tensors are widened to fp32 here, since numpy has no bf16."""

import json
import struct

import numpy as np

from ..utils.errors import UserError
from .dtypes import bf16_to_fp32


def read_safetensors(path):
    """name -> ndarray (bf16 widened to fp32). A malformed file is a one-line UserError naming it."""
    from safetensors import SafetensorError, safe_open

    state, bf16_names = {}, []
    try:
        with safe_open(path, framework="numpy") as f:
            for name in f.keys():
                if f.get_slice(name).get_dtype() == "BF16":
                    bf16_names.append(name)
                else:
                    state[name] = f.get_tensor(name)
    except SafetensorError as err:
        raise UserError(f"{path}: damaged or truncated safetensors file ({str(err).splitlines()[0][:160]}); "
                        "download it again") from err
    except (TypeError, ValueError) as err:
        raise UserError(f"{path}: unsupported tensor in safetensors file ({err})") from err
    if bf16_names:
        state.update(_read_bf16(path, bf16_names))
    return state


def _read_bf16(path, names):
    """The bf16 tensors `names` of a file whose header the library has already validated."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    out = {}
    for name in names:
        start, end = header[name]["data_offsets"]
        out[name] = bf16_to_fp32(np.asarray(data[start:end]).view(np.uint16)).reshape(header[name]["shape"])
    return out
