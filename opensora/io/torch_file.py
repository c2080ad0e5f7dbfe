"""PyTorch `torch.save` files (.pt/.pth/.bin) read without torch and without running pickle code.

Both layouts: the zip archive of torch >= 1.6 and the legacy format before it. The unpickler allows only the
globals a state dict needs (tensors, parameters, OrderedDict); everything else is refused. A file is hostile until
checked: every tensor's shape, strides and offset are checked against the bytes its storage really has before a
view is made, so a crafted file gives a one-line error, never a read past the end of a buffer.
"""

import collections
import io
import pickle
import struct
import zipfile
import zlib

import numpy as np

from ..utils.errors import UserError
from .dtypes import bf16_to_fp32

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bf16", "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, dtype):
        self.dtype = dtype
        self.itemsize = 2 if dtype == "bf16" else np.dtype(dtype).itemsize


def _storage_array(raw, storage_type, path, key):
    """The elements of one storage's raw bytes (bf16 widened to fp32)."""
    if len(raw) % storage_type.itemsize:
        raise UserError(f"{path}: storage '{key}' has {len(raw)} bytes, not a whole number of "
                        f"{storage_type.itemsize}-byte elements; the file is damaged")
    if storage_type.dtype == "bf16":
        return bf16_to_fp32(raw)
    return np.frombuffer(raw, dtype=storage_type.dtype)


def _checked_int_tuple(values, what, path):
    if not isinstance(values, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                        for v in values):
        raise UserError(f"{path}: a tensor's {what} is not a list of integers; the file is damaged or crafted")
    return tuple(values)


def rebuild_tensor(arr, offset, size, stride, path):
    """A copy of the strided view (offset, size, stride) over the 1-D storage `arr`, after checking that every
    element it would touch lies inside the storage."""
    size, stride = _checked_int_tuple(size, "size", path), _checked_int_tuple(stride, "stride", path)
    if not isinstance(offset, int) or offset < 0 or len(size) != len(stride) or min(size + stride, default=0) < 0:
        raise UserError(f"{path}: a tensor has an invalid offset/size/stride ({offset}, {size}, {stride}); "
                        "the file is damaged or crafted")
    if 0 in size:
        return np.zeros(size, dtype=arr.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= arr.size:
        raise UserError(f"{path}: a tensor of shape {size} reaches element {last} of a storage of {arr.size}; "
                        "the file is truncated or crafted")
    if not size:
        return arr[offset:offset + 1].reshape(()).copy()  # a 0-d array (e.g. BatchNorm's num_batches_tracked)
    return np.lib.stride_tricks.as_strided(arr[offset:], shape=size,
                                           strides=tuple(s * arr.itemsize for s in stride)).copy()


def _rebuild_parameter(data, *args):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds tensors from a torch zip archive; any other global is refused, so no code runs."""

    def __init__(self, fileobj, archive, prefix, path):
        super().__init__(fileobj)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self.rebuild
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise UserError(f"{self.path}: refusing to unpickle '{module}.{name}' (only tensors are allowed; "
                        "convert the file to safetensors if it holds other objects)")

    def rebuild(self, storage, offset, size, stride, *args):
        if not isinstance(storage, np.ndarray):
            raise UserError(f"{self.path}: a tensor does not refer to a storage; the file is damaged or crafted")
        return rebuild_tensor(storage, offset, size, stride, self.path)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and isinstance(pid[1], _StorageType)):
            raise UserError(f"{self.path}: unexpected persistent id in the pickle; the file is damaged or crafted")
        _, storage_type, key, _location, numel = pid[:5]
        try:
            raw = self.archive.read(f"{self.prefix}/data/{key}")
        except KeyError as err:
            raise UserError(f"{self.path}: storage '{key}' is missing from the archive") from err
        arr = _storage_array(raw, storage_type, self.path, key)
        if isinstance(numel, int) and arr.size < numel:
            raise UserError(f"{self.path}: storage '{key}' holds {arr.size} elements, the file says {numel}; "
                            "the file is truncated")
        return arr


class _LegacyStorage:
    """A storage of a pre-1.6 torch.save file: its bytes follow the pickles, so tensors are rebuilt later."""

    def __init__(self, storage_type, numel):
        self.storage_type, self.numel, self.array = storage_type, numel, None


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


class _LegacyUnpickler(_RestrictedUnpickler):
    """The same allow-list as the zip reader; storages are placeholders filled from the raw bytes after."""

    def __init__(self, fileobj, path, storages):
        super().__init__(fileobj, None, "", path)
        self.storages = storages

    def rebuild(self, storage, offset, size, stride, *args):
        if not isinstance(storage, _LegacyStorage):
            raise UserError(f"{self.path}: a tensor does not refer to a storage; the file is damaged or crafted")
        return _LazyTensor(storage, offset, size, stride)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and isinstance(pid[1], _StorageType)):
            raise UserError(f"{self.path}: unexpected persistent id in the pickle; the file is damaged or crafted")
        _, storage_type, key, _location, numel = pid[:5]
        if key not in self.storages:
            self.storages[key] = _LegacyStorage(storage_type, numel)
        return self.storages[key]


class _PlainUnpickler(pickle.Unpickler):
    """For the header pickles of the legacy format (ints, a dict of ints/bools, a list of str): nothing else."""

    def __init__(self, fileobj, path):
        super().__init__(fileobj)
        self.path = path

    def find_class(self, module, name):
        raise UserError(f"{self.path}: refusing to unpickle '{module}.{name}' in a legacy torch header")

    def persistent_load(self, pid):
        raise UserError(f"{self.path}: unexpected persistent id in a legacy torch header; the file is damaged")


def _read_legacy(f, path):
    """Legacy layout: pickled magic number, protocol version, sys info, the object (storages as persistent ids),
    the list of storage keys, then each storage as an int64 element count and its raw little-endian bytes."""
    if _PlainUnpickler(f, path).load() != _LEGACY_MAGIC:
        raise UserError(f"{path}: not a torch checkpoint (neither a zip archive nor the legacy format)")
    _PlainUnpickler(f, path).load()  # protocol version
    _PlainUnpickler(f, path).load()  # sys info
    storages = {}
    obj = _LegacyUnpickler(f, path, storages).load()
    keys = _PlainUnpickler(f, path).load()
    if not isinstance(keys, list) or any(k not in storages for k in keys):
        raise UserError(f"{path}: the storage list does not match the pickled tensors; the file is damaged")
    for key in keys:
        storage = storages[key]
        count = f.read(8)
        if len(count) != 8:
            raise UserError(f"{path}: truncated before storage '{key}'")
        (numel,) = struct.unpack("<q", count)
        nbytes = numel * storage.storage_type.itemsize
        raw = f.read(nbytes) if numel >= 0 else b""
        if numel < 0 or len(raw) != nbytes:
            raise UserError(f"{path}: storage '{key}' is truncated ({len(raw)} of {max(nbytes, 0)} bytes)")
        storage.array = _storage_array(raw, storage.storage_type, path, key)
    return _materialize(obj, path)


def _materialize(obj, path):
    if isinstance(obj, _LazyTensor):
        if obj.storage.array is None:
            raise UserError(f"{path}: a tensor's storage has no data in the file; the file is damaged")
        return rebuild_tensor(obj.storage.array, obj.offset, obj.size, obj.stride, path)
    if isinstance(obj, dict):
        return type(obj)((k, _materialize(v, path)) for k, v in obj.items())
    return obj


def read_torch_file(path):
    """The object of a torch.save file (.pt/.pth/.bin), tensors as ndarrays."""
    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as f:
                return _read_legacy(f, path)
        with zipfile.ZipFile(path) as archive:
            pkl_names = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if not pkl_names:
                raise UserError(f"{path}: no data.pkl in the archive; not a torch checkpoint")
            prefix = pkl_names[0][: -len("/data.pkl")]
            return _RestrictedUnpickler(io.BytesIO(archive.read(pkl_names[0])), archive, prefix, path).load()
    except UserError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            OverflowError, MemoryError, RuntimeError, NotImplementedError, OSError, zlib.error, zipfile.BadZipFile,
            struct.error, UnicodeDecodeError) as err:  # what a damaged pickle or zip archive raises
        raise UserError(f"{path}: not a readable torch checkpoint ({type(err).__name__}: "
                        f"{str(err).splitlines()[0][:120] if str(err) else 'damaged'})") from err
