"""Shared test setup: MindSpore on CPU in PyNative with synchronous errors, fixture paths, tiny data."""

import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
CLIPS = os.path.join(REPO, "assets", "clips")


def pytest_configure(config):
    import mindspore as ms

    ms.set_device("CPU")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.runtime.launch_blocking()  # PyNative errors on CPU otherwise surface at a later op


@pytest.fixture
def fixture_dir():
    return FIXTURES


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


def load_fixture(*parts):
    return np.load(fixture_path(*parts))


def assert_close(actual, expected, rtol, atol, what=""):
    """|a - b| <= atol + rtol * |b| elementwise; the message gives the worst element."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    excess = np.abs(actual - expected) - (atol + rtol * np.abs(expected))
    worst = np.unravel_index(np.argmax(excess), excess.shape) if excess.size else ()
    assert (excess <= 0).all(), (f"{what}: max |diff| {np.abs(actual - expected).max():.3g} exceeds "
                                 f"atol {atol} + rtol {rtol}*|ref| at {worst}")


def run_script(args, cwd=REPO, timeout=900, env_extra=None):
    """Run a README command (`python script.py ...`) in a subprocess; returns CompletedProcess."""
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def tiny_vae():
    from opensora.models.ae import CausalVAEModel

    return CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny"))
