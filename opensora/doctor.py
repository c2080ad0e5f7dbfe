"""Environment check: `python -m opensora.doctor`.

Reports the Python / MindSpore / numpy versions, the backend, which dtypes have working kernels here (a conv, a
matmul and a GroupNorm are run in each), which oneDNN kernels the CPU conv and matmul run, a timed convolution,
and warns -- with the fix -- about settings that break or slow down this project (numpy 2, MindSpore >= 2.10 on
AVX-512 without ONEDNN_MAX_CPU_ISA=AVX2).
Exit status 1 if a required check fails.
"""

import argparse
import os
import platform
import re
import subprocess
import sys
import time

# Run in a child process: oneDNN reads its verbose switch once, when the library loads.
_ONEDNN_PROBE = """
import numpy as np, mindspore as ms
from mindspore import ops
ms.set_device("CPU")
x = ms.Tensor(np.ones((1, 16, 8, 8), np.float32))
ops.conv2d(x, ms.Tensor(np.ones((16, 16, 3, 3), np.float32)), pad_mode="pad", padding=1).asnumpy()
ops.MatMul(transpose_b=True)(x.reshape(16, 64), x.reshape(16, 64)).asnumpy()
"""


def probe_dtype(ms, dtype):
    """(ok, detail): conv2d + matmul + group_norm in `dtype` on the current backend."""
    import numpy as np
    from mindspore import ops

    try:
        x = ms.Tensor(np.random.default_rng(0).standard_normal((1, 32, 16, 16)), dtype)
        w = ms.Tensor(np.random.default_rng(1).standard_normal((32, 32, 3, 3)) * 0.05, dtype)
        y = ops.conv2d(x, w, pad_mode="pad", padding=1)
        y = ops.matmul(y.reshape(32, 256), y.reshape(32, 256).T)
        g = ops.group_norm(x.astype(ms.float32), 8, ms.Tensor(np.ones(32), ms.float32),
                           ms.Tensor(np.zeros(32), ms.float32))
        return bool(np.isfinite(y.astype(ms.float32).asnumpy()).all() and np.isfinite(g.asnumpy()).all()), "ok"
    except Exception as err:  # a missing kernel raises from deep inside MindSpore
        from .utils.errors import error_reason

        return False, error_reason(err)


def conv_speed(ms):
    """Seconds of a warm 64->64 3x3 conv on 8x64x64x64 (about 2.4 GFLOP)."""
    import numpy as np
    from mindspore import ops

    x = ms.Tensor(np.random.default_rng(0).standard_normal((8, 64, 64, 64)), ms.float32)
    w = ms.Tensor(np.random.default_rng(1).standard_normal((64, 64, 3, 3)), ms.float32)
    ops.conv2d(x, w, pad_mode="pad", padding=1).asnumpy()
    start = time.time()
    ops.conv2d(x, w, pad_mode="pad", padding=1).asnumpy()
    return time.time() - start


def onednn_kernels(timeout=120):
    """'v2.2.0, ISA Intel AVX2; conv gemm:jit, matmul gemm:jit' -- which oneDNN kernels MindSpore's CPU conv and
    matmul run here (from oneDNN's verbose log), or None when no oneDNN log appears (not a CPU build).

    The implementation name explains why MindSpore's CPU convolutions trail PyTorch's (docs/performance.md): it
    hands oneDNN plain NCHW tensors, which selects the im2col + GEMM convolution ("gemm:jit"), where PyTorch
    reorders to a blocked layout and gets the direct JIT kernel ("jit:avx2", "jit:avx512_core").
    """
    env = dict(os.environ, ONEDNN_VERBOSE="1", DNNL_VERBOSE="1")
    try:
        out = subprocess.run([sys.executable, "-c", _ONEDNN_PROBE], env=env, capture_output=True, text=True,
                             timeout=timeout).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = re.search(r"oneDNN (v[\d.]+)", out)
    isa = re.search(r"cpu,isa:([^\n]+)", out)
    kinds = {}
    for line in out.splitlines():
        fields = line.split(",")
        if "exec" in fields and "cpu" in fields:
            at = fields.index("cpu")
            if at + 2 < len(fields) and fields[at + 1] in ("convolution", "matmul"):
                kinds.setdefault(fields[at + 1], fields[at + 2].removeprefix("x64:"))
    if not version:
        return None
    summary = f"{version.group(1)}, ISA {isa.group(1).strip() if isa else '?'}"
    if kinds:
        summary += "; " + ", ".join(f"{'conv' if k == 'convolution' else k} {v}" for k, v in sorted(kinds.items()))
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device_target", default="CPU", choices=["CPU", "Ascend", "GPU"])
    args = p.parse_args(argv)
    problems, lines = [], []
    lines.append(f"python      {platform.python_version()} ({sys.executable})")
    import numpy as np

    lines.append(f"numpy       {np.__version__}")
    if int(np.__version__.split(".")[0]) >= 2:
        problems.append("numpy >= 2 breaks MindSpore's ops: pip install 'numpy<2'")
    try:
        import mindspore as ms
    except ImportError as err:
        print("\n".join(lines + [f"mindspore   not importable ({err}): pip install -r requirements.txt"]))
        return 1
    lines.append(f"mindspore   {ms.__version__}")
    ms.set_device(args.device_target)
    isa_vars = "; ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"))
    lines.append(f"backend     {args.device_target}; {isa_vars}")  # oneDNN v2.2 (MindSpore 2.7.2) reads DNNL_
    from .utils.ms_utils import check_cpu_isa

    isa_warning = check_cpu_isa(args.device_target)
    if isa_warning:
        problems.append(isa_warning)
    for name, dtype in (("fp32", ms.float32), ("fp16", ms.float16), ("bf16", ms.bfloat16)):
        ok, detail = probe_dtype(ms, dtype)
        lines.append(f"dtype {name}  {'available' if ok else 'NOT available'}" + ("" if ok else f" ({detail})"))
        if name == "fp32" and not ok:
            problems.append(f"fp32 kernels fail on {args.device_target}: {detail}")
    if args.device_target == "CPU":
        kernels = onednn_kernels()
        lines.append(f"oneDNN      {kernels or 'no verbose log (kernels unknown)'}")
    seconds = conv_speed(ms)
    lines.append(f"conv speed  {2.4 / seconds:.1f} GFLOP/s (64->64 3x3 on 8x64x64x64, fp32, warm)")
    if seconds > 5:
        problems.append("convolutions are pathologically slow here (< 0.5 GFLOP/s); on MindSpore >= 2.10 with an "
                        "AVX-512 CPU: export ONEDNN_MAX_CPU_ISA=AVX2")
    print("\n".join(lines))
    for problem in problems:
        print(f"WARNING: {problem}")
    print("all checks passed" if not problems else f"{len(problems)} problem(s) found")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
