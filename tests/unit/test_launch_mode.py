"""PyNative launches: blocking on the CPU by default (faster on few cores), asynchronous elsewhere, env override."""

import pytest

from opensora.utils import ms_utils


@pytest.mark.parametrize("device,setting,debug,expected", [
    ("CPU", None, False, True),  # default on the CPU: blocking
    ("CPU", "0", False, False),  # opt-out
    ("CPU", "0", True, True),  # --debug still blocks
    ("Ascend", None, False, False),  # devices keep the asynchronous pipeline
    ("Ascend", "1", False, True),  # forced, for debugging
])
def test_synchronous_launch(device, setting, debug, expected, monkeypatch):
    if setting is None:
        monkeypatch.delenv("OPENSORA_SYNC", raising=False)
    else:
        monkeypatch.setenv("OPENSORA_SYNC", setting)
    assert ms_utils.synchronous_launch(device, debug) is expected


def test_init_context_applies_it(monkeypatch):
    import mindspore as ms

    calls = []
    monkeypatch.setattr(ms, "set_device", lambda *a, **k: None)
    monkeypatch.setattr(ms, "set_context", lambda *a, **k: None)
    monkeypatch.setattr(ms.runtime, "launch_blocking", lambda: calls.append("blocking"))
    monkeypatch.delenv("OPENSORA_SYNC", raising=False)
    ms_utils.init_context(device_target="CPU")
    assert calls == ["blocking"]
    monkeypatch.setenv("OPENSORA_SYNC", "0")
    ms_utils.init_context(device_target="CPU")
    assert calls == ["blocking"]
