"""Environment check: `python -m opensora.doctor`.

Reports the Python / MindSpore / numpy versions, the backend, which dtypes have working kernels here (a conv, a
matmul and a GroupNorm are run in each), a timed convolution, and warns -- with the fix -- about settings that
break or slow down this project (numpy 2, MindSpore >= 2.10 on AVX-512 without ONEDNN_MAX_CPU_ISA=AVX2).
Exit status 1 if a required check fails.
"""

import argparse
import os
import platform
import sys
import time


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
        return False, str(err).strip().splitlines()[0][:100]


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
    lines.append(f"backend     {args.device_target}; ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}")
    from .utils.ms_utils import check_cpu_isa

    isa_warning = check_cpu_isa(args.device_target)
    if isa_warning:
        problems.append(isa_warning)
    for name, dtype in (("fp32", ms.float32), ("fp16", ms.float16), ("bf16", ms.bfloat16)):
        ok, detail = probe_dtype(ms, dtype)
        lines.append(f"dtype {name}  {'available' if ok else 'NOT available'}" + ("" if ok else f" ({detail})"))
        if name == "fp32" and not ok:
            problems.append(f"fp32 kernels fail on {args.device_target}: {detail}")
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
