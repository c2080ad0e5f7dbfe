"""The tiny v1.3 fixtures' weights (WF-VAE, OpenSoraT2V v1.3), rebuilt instead of shipped
(tests/fixtures/wfvae_tiny/README.md): the same rule as benchmarks/original/v1_3/make_wfvae_fixtures.py's
`weight_rule`, keyed by the original state-dict names."""

import json
import zlib

import numpy as np
from conftest import fixture_path


def weight_rule(name, shape):
    """Norms near 1 / 0, biases small, kernels ~ 1/sqrt(fan_in); seeded by the crc32 of the name."""
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) == 1:
        if ".norm" in name and leaf == "weight":
            return (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def original_state(case, folder="wfvae_tiny"):
    """Original key -> array of a fixture case (`ln` / `gn` of wfvae_tiny, `sparse` / `dense` of
    opensora_v1_3_tiny), without the WF-VAE's Haar filters (the model's constants)."""
    with open(fixture_path(folder, f"{case}_state_shapes.json")) as f:
        shapes = json.load(f)
    return {name: weight_rule(name, tuple(shape)) for name, shape in shapes.items() if "wavelet_tranform" not in name}
