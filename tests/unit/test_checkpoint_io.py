"""Checkpoint reading without torch or pickle execution, renaming, strict loading, atomic saving."""

import os
import pickle
import zipfile

import numpy as np
import pytest
from conftest import fixture_path

from opensora.io import read_safetensors, read_state_dict, save_state
from opensora.utils.errors import UserError

T5_HF = fixture_path("t5_tiny", "hf")


def test_torch_bin_equals_safetensors():
    """A genuine torch.save file (written by transformers) reads to the same tensors as its safetensors twin."""
    from_bin = read_state_dict(os.path.join(T5_HF, "pytorch_model.bin"))
    from_st = read_safetensors(os.path.join(T5_HF, "model.safetensors"))
    shared = set(from_bin) & set(from_st)
    assert len(shared) >= len(from_st) - 1  # the bin may also carry the tied `shared.weight`
    for name in shared:
        np.testing.assert_array_equal(from_bin[name], from_st[name])


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_pickle_payload_is_refused_and_not_executed(tmp_path):
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": _Evil()}, protocol=2))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(UserError, match="refusing to unpickle 'posix.system'|refusing to unpickle 'os.system'"):
            read_state_dict(str(path))
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


def test_plain_pickle_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "plain.pth"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(UserError, match="not a torch checkpoint"):
        read_state_dict(str(path))


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_legacy_format_pickle_payload_is_refused_and_not_executed(tmp_path):
    """The pre-1.6 torch format is read (lpips' vgg.pth), with the same allow-list as zip archives."""
    marker = tmp_path / "executed"
    path = tmp_path / "legacy.pth"
    header = pickle.dumps(0x1950A86A20F9469CFC6C) + pickle.dumps(1001) + pickle.dumps({"little_endian": True})
    path.write_bytes(header + pickle.dumps({"w": _Payload(marker)}) + pickle.dumps([]))
    with pytest.raises(UserError, match="refusing to unpickle"):
        read_state_dict(str(path))
    assert not marker.exists()


def test_truncated_safetensors(tmp_path):
    src = fixture_path("causalvae_tiny", "diffusion_pytorch_model.safetensors")
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(open(src, "rb").read()[:200000])
    with pytest.raises(UserError, match="truncated safetensors"):
        read_state_dict(str(bad))


def test_bf16_safetensors_widened(tmp_path):
    import json
    import struct

    values = np.array([1.5, -2.25, 3.0], dtype=np.float32)
    raw = (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    header = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, len(raw)]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + raw)
    np.testing.assert_array_equal(read_state_dict(str(path))["x"], values)


def test_ckpt_save_is_atomic_and_round_trips(tmp_path):
    state = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "b.gamma": np.ones(4, np.float32)}
    path = save_state(state, str(tmp_path / "x.ckpt"))
    back = read_state_dict(path)
    assert set(back) == set(state)
    np.testing.assert_array_equal(back["a.weight"], state["a.weight"])
    assert os.listdir(tmp_path) == ["x.ckpt"]


def test_unknown_extension(tmp_path):
    p = tmp_path / "w.npz"
    p.write_bytes(b"x")
    with pytest.raises(UserError, match="unknown checkpoint extension"):
        read_state_dict(str(p))
