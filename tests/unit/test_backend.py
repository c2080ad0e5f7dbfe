"""The backend module's answers, and that each alternative form it can choose computes the same function."""


import mindspore as ms
import numpy as np
import pytest

from opensora.backend import CAUSAL_CONV_ENV, kernel_choices
from tests.conftest import fixture_path


def test_cpu_and_ascend_answers():
    cpu, ascend = kernel_choices("CPU"), kernel_choices("Ascend")
    assert cpu.causal_conv == "folded" and cpu.gelu_as_sigmoid and cpu.tile_before_multiply and cpu.tanh_in_fp64
    assert cpu.exp_in_fp64
    assert ascend.causal_conv == "conv3d" and ascend.flash_attention
    assert not (ascend.gelu_as_sigmoid or ascend.tile_before_multiply or ascend.tanh_in_fp64
                or ascend.exp_in_fp64 or ascend.pad_by_concat or ascend.taps_by_reshape)
    # sequence parallel's exchange: the CPU's mccl has AllGather on the world group only
    assert (cpu.all_to_all, cpu.comm_subgroups) == ("all_gather", False)
    assert (ascend.all_to_all, ascend.comm_subgroups) == ("alltoall", True)
    assert kernel_choices() == cpu  # the tests run on the CPU backend
    with pytest.raises(ValueError, match="unknown MindSpore backend"):
        kernel_choices("TPU")


def test_conv_override_by_environment(monkeypatch):
    monkeypatch.setenv(CAUSAL_CONV_ENV, "conv3d")
    assert kernel_choices("CPU").causal_conv == "conv3d"
    monkeypatch.setenv(CAUSAL_CONV_ENV, "conv2")
    with pytest.raises(ValueError, match="folded"):
        kernel_choices("CPU")


def test_a_model_built_with_the_ascend_answers_uses_the_plain_forms():
    """Checked by construction: the Ascend answers reach every cell (no Ascend needed)."""
    from opensora.models.ae import CausalVAEModel
    from opensora.models.ae.causal_vae.modules import CausalConv3d, SpatialDownsample2x, TimeDownsample2x

    config = fixture_path("causalvae_tiny", "config.json")
    vae = CausalVAEModel.from_config_file(config)
    convs = [c for _, c in vae.cells_and_names() if isinstance(c, CausalConv3d)]
    assert any(c.folded for c in convs)
    vae = CausalVAEModel(vae.config, kernels=kernel_choices("Ascend"))
    cells = [c for _, c in vae.cells_and_names()]
    assert not any(c.folded for c in cells if isinstance(c, CausalConv3d))
    assert not any(c.pad_by_concat for c in cells if isinstance(c, SpatialDownsample2x))
    assert not any(c.taps_by_reshape for c in cells if isinstance(c, TimeDownsample2x))


def test_elementwise_forms_compute_the_same():
    from opensora.models.fast_ops import gelu_tanh, tile_to

    x = np.linspace(-8, 8, 301, dtype=np.float32)
    ref = 0.5 * x.astype(np.float64) * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x.astype(np.float64) ** 3)))
    np.testing.assert_allclose(gelu_tanh(ms.Tensor(x)).asnumpy(), ref, atol=2e-6)
    np.testing.assert_allclose(gelu_tanh(ms.Tensor(x), as_sigmoid=False).asnumpy(), ref, atol=5e-4)
    v = ms.Tensor(np.arange(6, dtype=np.float32).reshape(2, 1, 3))
    assert tile_to(v, (2, 4, 3)).shape == (2, 4, 3) and tile_to(v, (2, 4, 3), tile=False).shape == (2, 1, 3)


def test_accurate_exp_is_fp64_exp_rounded_to_fp32_where_the_backend_asks():
    """MindSpore's CPU fp32 exp is off by up to 5.5e-6 relative (biased low); the fp64 route by one rounding."""
    from opensora.models.fast_ops import accurate_exp

    x = np.random.RandomState(0).uniform(-30, 20, 20000).astype(np.float32)
    ref = np.exp(x.astype(np.float64))
    precise = accurate_exp(ms.Tensor(x), fp64=True).asnumpy()
    assert precise.dtype == np.float32 and np.max(np.abs(precise - ref) / ref) < 1.2e-7
    plain = accurate_exp(ms.Tensor(x), fp64=False).asnumpy()  # the kernel as it is (other backends)
    assert np.max(np.abs(plain - ref) / ref) > 10 * np.max(np.abs(precise - ref) / ref)  # why CPU asks for fp64
