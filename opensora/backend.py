"""Kernel choices per MindSpore backend: the one place that knows which formulation is fast or correct where.

Models never test the backend themselves. A cell that has a choice to make defines `set_kernels(kernels)` and
copies the answers it needs into plain attributes (graph mode compiles them as constants); it calls
`set_kernels(kernel_choices())` when built, and `use_kernels(net, kernels)` hands a whole network another
backend's answers (tests build the Ascend answers on a CPU and check them by construction).

Every alternative computes the same function; the CPU answers are what measured faster or avoided a CPU kernel
bug (docs/performance.md), the Ascend/GPU answers are the plain fused kernels.
"""

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class KernelChoices:
    """Args:
    backend: the MindSpore device target these answers are for.
    causal_conv: "folded" (frames into the batch, temporal taps into the input channels: one Conv2d) or
        "conv3d" (nn.Conv3d as the original).
    folded_max_channels: with "folded", only convolutions with k_t > 1 and at most this many input channels are
        folded (k_t == 1 is always folded); above it Conv3d measured faster on CPU.
    folded_chunk_elements: largest stacked input (values) one folded Conv2d call builds (256 MB of fp32).
    gelu_as_sigmoid: tanh-GELU as x * sigmoid(2u) (exact; CPU's fused gelu is ~4x slower and its fp32 tanh is
        off by 1e-4) instead of the fused kernel.
    tile_before_multiply: tile (N, 1, D) operands to (N, L, D) before an elementwise multiply (a broadcasting
        multiply is ~4x slower on CPU).
    tanh_in_fp64: compute tanh in fp64 where fp32 tanh is inaccurate (the decoder NLL's log(1 - cdf)).
    exp_in_fp64: compute exp in fp64 where fp32 exp is inaccurate (CPU: up to 5.5e-6 relative, biased low; torch
        2e-7): the VAE posterior's std/var/KL and the VAE losses' NLL.
    pad_by_concat: zero-pad by concatenating zeros (ops.pad's gradient is wrong from the second compiled CPU
        training step on).
    taps_by_reshape: take stride-2 time taps by reshape instead of step-2 slices (CPU StridedSliceGrad fails).
    flash_attention: a fused attention kernel exists (ops.flash_attention_score).
    all_to_all: how sequence parallel swaps sequence and heads between ranks: "all_gather" (AllGather, then each
        rank keeps its heads: the CPU's mccl has no AlltoAll and no groups but the world) or "alltoall"
        (ops.AlltoAll within the sequence-parallel group, as the original's all_to_all_single).
    comm_subgroups: communication groups other than the world exist (several sequence-parallel groups).
    """

    backend: str
    causal_conv: str
    folded_max_channels: int
    folded_chunk_elements: int
    gelu_as_sigmoid: bool
    tile_before_multiply: bool
    tanh_in_fp64: bool
    exp_in_fp64: bool
    pad_by_concat: bool
    taps_by_reshape: bool
    flash_attention: bool
    all_to_all: str
    comm_subgroups: bool


_CPU = KernelChoices(
    backend="CPU", causal_conv="folded", folded_max_channels=256, folded_chunk_elements=64 * 1024 * 1024,
    gelu_as_sigmoid=True, tile_before_multiply=True, tanh_in_fp64=True, exp_in_fp64=True, pad_by_concat=True,
    taps_by_reshape=True, flash_attention=False, all_to_all="all_gather", comm_subgroups=False,
)
_FUSED = dict(causal_conv="conv3d", gelu_as_sigmoid=False, tile_before_multiply=False, tanh_in_fp64=False,
              exp_in_fp64=False, pad_by_concat=False, taps_by_reshape=False, all_to_all="alltoall",
              comm_subgroups=True)
KERNELS = {
    "CPU": _CPU,
    "Ascend": dataclasses.replace(_CPU, backend="Ascend", flash_attention=True, **_FUSED),
    "GPU": dataclasses.replace(_CPU, backend="GPU", **_FUSED),
}
# Opt-in override of the causal convolution form, for benchmarks comparing the two on one machine.
CAUSAL_CONV_ENV = "OPENSORA_CAUSAL_CONV"


def current_backend():
    import mindspore as ms

    return ms.get_context("device_target")


def kernel_choices(backend=None):
    """The answers for `backend` (default: the current MindSpore device target)."""
    backend = backend or current_backend()
    if backend not in KERNELS:
        raise ValueError(f"unknown MindSpore backend '{backend}'; expected one of {', '.join(KERNELS)}")
    choices = KERNELS[backend]
    conv = os.environ.get(CAUSAL_CONV_ENV)
    if conv:
        if conv not in ("folded", "conv3d"):
            raise ValueError(f"{CAUSAL_CONV_ENV}={conv}: expected 'folded' or 'conv3d'")
        choices = dataclasses.replace(choices, causal_conv=conv)
    return choices


def use_kernels(net, kernels):
    """Give every cell of `net` that makes a kernel choice the answers `kernels`; returns `net`."""
    for _, cell in net.cells_and_names():
        if hasattr(cell, "set_kernels"):
            cell.set_kernels(kernels)
    return net
