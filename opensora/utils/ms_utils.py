"""MindSpore context, seeding, dtype names and the environment checks every script shares."""

import os
import random

import numpy as np

from .errors import UserError

DTYPE_NAMES = ("fp32", "fp16", "bf16")


def synchronous_launch(device_target="CPU", debug=False):
    """Whether PyNative ops run synchronously (`ms.runtime.launch_blocking`) in this process.

    On the CPU they do by default: the asynchronous launch pipeline's threads compete with the kernels for the
    cores: blocking launches measured 24-41% faster on the VAE and LatteT2V (docs/performance.md), and errors
    surface at the op that caused them. OPENSORA_SYNC=0 keeps the asynchronous launch, OPENSORA_SYNC=1 forces
    blocking on any backend (debugging).
    """
    setting = os.environ.get("OPENSORA_SYNC", "")
    if debug or setting == "1":
        return True
    return device_target == "CPU" and setting != "0"


def init_context(mode=1, device_target="CPU", seed=None, debug=False):
    """Set the backend and execution mode once per process; returns the mindspore module."""
    import mindspore as ms

    ms.set_device(device_target)
    ms.set_context(mode=mode)
    if synchronous_launch(device_target, debug):
        ms.runtime.launch_blocking()
    if seed is not None:
        set_seed(seed)
    check_cpu_isa(device_target)
    return ms


def set_seed(seed):
    import mindspore as ms

    random.seed(seed)
    np.random.seed(seed)
    ms.set_seed(seed)


def check_cpu_isa(device_target="CPU"):
    """Warn when MindSpore >= 2.10 on an AVX-512 CPU would run convolutions ~100x slower."""
    import mindspore as ms

    from .logger import get_logger

    if device_target != "CPU" or os.environ.get("ONEDNN_MAX_CPU_ISA"):
        return None
    major, minor = (int(p) for p in ms.__version__.split(".")[:2])
    if (major, minor) < (2, 10) or not _cpu_has_avx512():
        return None
    msg = (f"MindSpore {ms.__version__} on an AVX-512 CPU runs convolutions ~100x slower: "
           "export ONEDNN_MAX_CPU_ISA=AVX2 before starting Python (or use mindspore==2.7.2)")
    get_logger().warning(msg)
    return msg


def _cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512f" in f.read()
    except OSError:
        return False


def resolve_dtype(name, device_target="CPU", flag="--dtype"):
    """Map fp32/fp16/bf16 to a MindSpore dtype; bf16 has no CPU kernels, so refuse it there."""
    import mindspore as ms

    if name not in DTYPE_NAMES:
        raise UserError(f"{flag} {name}: expected one of {', '.join(DTYPE_NAMES)}")
    if name == "bf16" and device_target == "CPU":
        raise UserError(
            f"{flag} bf16: the CPU backend has no bf16 kernels (conv, matmul, norms); use {flag} fp32 or fp16"
        )
    return {"fp32": ms.float32, "fp16": ms.float16, "bf16": ms.bfloat16}[name]


def peak_rss_gb():
    """Peak resident memory of this process so far, in GB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
