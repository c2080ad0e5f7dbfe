"""Weight files are hostile until checked: crafted torch files (strides past their storage, short storages) and
hundreds of mutated .pt / .pth / .safetensors / .ckpt files either load or give a one-line UserError naming the
file; none crashes the process, hangs, or reads past a buffer into a converted checkpoint."""

import collections
import io
import json
import os
import pickle
import subprocess
import sys
import types
import zipfile

import numpy as np
import pytest
from conftest import REPO, fixture_path

from opensora.io import read_state_dict, save_state
from opensora.utils.errors import UserError


# ----------------------------------------------------------------------------- a torch zip writer without torch
def _fake_torch():
    """Stand-in `torch` / `torch._utils` modules, so that pickle writes the globals a real torch file holds."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    return {"torch": torch, "torch._utils": utils}


class _Tensor:
    def __init__(self, key, offset, size, stride):
        self.key, self.offset, self.size, self.stride = key, offset, size, stride

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (_StorageRef(self.key), self.offset, self.size, self.stride, False, collections.OrderedDict())


class _StorageRef:
    def __init__(self, key):
        self.key = key


def write_torch_zip(path, tensors, storages, claimed_numel=None):
    """tensors: name -> (storage key, offset, size, stride); storages: key -> float32 array (its raw bytes)."""
    modules = _fake_torch()
    saved = {k: sys.modules.get(k) for k in modules}
    sys.modules.update(modules)
    try:
        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _StorageRef):
                    numel = (claimed_numel or {}).get(obj.key, storages[obj.key].size)
                    return ("storage", modules["torch"].FloatStorage, obj.key, "cpu", numel)
                return None

        buf = io.BytesIO()
        Pickler(buf, protocol=2).dump(collections.OrderedDict((n, _Tensor(*t)) for n, t in tensors.items()))
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k)
            else:
                sys.modules[k] = v
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        for key, arr in storages.items():
            z.writestr(f"archive/data/{key}", np.ascontiguousarray(arr, np.float32).tobytes())
    return path


def test_a_crafted_file_with_valid_views_loads_as_numpy_would(tmp_path):
    storage = np.arange(24, dtype=np.float32)
    path = write_torch_zip(tmp_path / "ok.pt", {"a": ("0", 2, (3, 4), (4, 1)), "t": ("0", 1, (4, 3), (1, 4)),
                                                "s": ("0", 5, (), ())}, {"0": storage})
    state = read_state_dict(str(path))
    np.testing.assert_array_equal(state["a"], storage[2:14].reshape(3, 4))
    np.testing.assert_array_equal(state["t"], storage[1:13].reshape(3, 4).T)
    assert state["s"] == 5


@pytest.mark.parametrize("view,message", [
    (("0", 0, (4, 4), (4, 1)), "reaches element 15 of a storage of 12"),  # stride walks past the storage
    (("0", 0, (2, 2), (100000, 1)), "reaches element"),  # a huge stride: as_strided would read far away
    (("0", 11, (2,), (1,)), "reaches element 12"),  # offset near the end
    (("0", 0, (3,), (-1,)), "invalid offset/size/stride"),
    (("0", -1, (3,), (1,)), "invalid offset/size/stride"),
    (("0", 0, (3, 1), (1,)), "invalid offset/size/stride"),  # rank of size != rank of stride
    (("0", 0, ("3",), (1,)), "not a list of integers"),
])
def test_crafted_views_outside_their_storage_are_refused(tmp_path, view, message):
    path = write_torch_zip(tmp_path / "bad.pt", {"w": view}, {"0": np.zeros(12, np.float32)})
    with pytest.raises(UserError, match=message) as err:
        read_state_dict(str(path))
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_storage_smaller_than_the_file_claims_is_refused(tmp_path):
    path = write_torch_zip(tmp_path / "short.pt", {"w": ("0", 0, (4,), (1,))}, {"0": np.zeros(4, np.float32)},
                           claimed_numel={"0": 64})
    with pytest.raises(UserError, match="holds 4 elements, the file says 64"):
        read_state_dict(str(path))


# ----------------------------------------------------------------------------- mutation fuzzing
FUZZ_READER = r"""
import sys
from opensora.io import read_state_dict
from opensora.utils.errors import UserError
for path in sys.argv[1:]:
    try:
        state = read_state_dict(path)
        print("ok", len(state))
    except UserError as err:
        text = str(err)
        assert "\n" not in text and path in text, (path, text)
        print("error", text[:100])
"""


def mutations(data, rng, count):
    """Truncations, byte overwrites in the header region and anywhere, and zeroed ranges."""
    for i in range(count):
        kind = i % 4
        buf = bytearray(data)
        if kind == 0:
            yield bytes(buf[: rng.integers(0, len(buf))])
            continue
        span = rng.integers(1, 9)
        start = rng.integers(0, min(len(buf) - span, 4096)) if kind == 1 else rng.integers(0, len(buf) - span)
        buf[start:start + span] = rng.integers(0, 256, span, dtype=np.uint8).tobytes() if kind != 3 else b"\0" * span
        yield bytes(buf)


def test_mutated_weight_files_load_or_fail_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    zip_pt = write_torch_zip(tmp_path / "src.pt", {"a": ("0", 0, (6, 4), (4, 1)), "b": ("1", 0, (3,), (1,))},
                             {"0": rng.standard_normal(24).astype(np.float32), "1": np.ones(3, np.float32)})
    ckpt = save_state({"w": rng.standard_normal((4, 3)).astype(np.float32)}, str(tmp_path / "src.ckpt"))
    sources = {".pt": str(zip_pt), ".pth": fixture_path("losses", "weights", "lpips_v0.1_vgg.pth"),
               ".safetensors": fixture_path("causalvae_tiny", "diffusion_pytorch_model.safetensors"), ".ckpt": ckpt}
    files = []
    for ext, src in sources.items():
        data = open(src, "rb").read()
        for i, mutated in enumerate(mutations(data, rng, 60)):
            path = tmp_path / f"m{ext[1:]}{i:03d}{ext}"
            path.write_bytes(mutated)
            files.append(str(path))
    result = subprocess.run([sys.executable, "-c", FUZZ_READER, *files], cwd=REPO, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]  # a crash (signal) or a non-UserError exception fails
    lines = result.stdout.splitlines()
    assert len(lines) == len(files)
    outcomes = collections.Counter(line.split()[0] for line in lines)
    assert outcomes["error"] > len(files) // 4, outcomes  # most mutations are caught, not silently accepted
    print(json.dumps(outcomes))


def test_a_safetensors_header_that_disagrees_with_its_data_is_one_line(tmp_path):
    src = open(fixture_path("causalvae_tiny", "diffusion_pytorch_model.safetensors"), "rb").read()
    n = int.from_bytes(src[:8], "little")
    header = json.loads(src[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [s * 2 for s in header[name]["shape"]]
    raw = json.dumps(header).encode()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(len(raw).to_bytes(8, "little") + raw + src[8 + n:])
    with pytest.raises(UserError, match="damaged or truncated safetensors") as err:
        read_state_dict(str(bad))
    assert str(bad) in str(err.value)
    assert not os.path.exists(tmp_path / "out.ckpt")
