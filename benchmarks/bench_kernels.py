"""GFLOP/s of the two kernels the full-size models spend their time in, on MindSpore's CPU backend (fp32, warm).

    python benchmarks/bench_kernels.py [--size 128]

* conv: the VAE decoder's 128 -> 128 k3x3x3 CausalConv3d over 17 frames, run both ways the model can run it
  (`CausalConv3d._folded`'s Conv2d with the 3 temporal taps in the channels, and Conv3d).
* matmul: a LatteT2V-XL projection, (5120 x 1152) @ (1152 x 1152)^T, as `nn.Dense` runs it.

`benchmarks/original/bench_original.py kernels` times the same shapes with PyTorch (docs/performance.md).
Opt-in: not part of the tests.
"""

import argparse
import json
import time


def best_of(fn, repeats=3):
    fn()  # warm-up: the first call creates the kernel
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=128, help="frame height and width of the conv input")
    args = p.parse_args()
    import mindspore as ms
    import numpy as np
    from mindspore import ops

    from opensora.utils.ms_utils import init_context

    init_context()  # as the scripts: CPU, blocking launches unless OPENSORA_SYNC=0
    rng = np.random.default_rng(0)
    t, c, h = 17, 128, args.size
    folded = ms.Tensor(rng.standard_normal((t, 3 * c, h, h)).astype(np.float32))
    w2 = ms.Tensor(rng.standard_normal((c, 3 * c, 3, 3)).astype(np.float32))
    padded = ms.Tensor(rng.standard_normal((1, c, t + 2, h, h)).astype(np.float32))
    w3 = ms.Tensor(rng.standard_normal((c, c, 3, 3, 3)).astype(np.float32))
    a = ms.Tensor(rng.standard_normal((5120, 1152)).astype(np.float32))
    w = ms.Tensor(rng.standard_normal((1152, 1152)).astype(np.float32))
    matmul = ops.MatMul(transpose_b=True)
    conv_gflop = 2 * t * c * 3 * c * 9 * h * h / 1e9
    rows = {
        "conv folded into Conv2d": (conv_gflop, lambda: ops.conv2d(folded, w2, pad_mode="pad", padding=1).asnumpy()),
        "conv as Conv3d": (conv_gflop, lambda: ops.conv3d(padded, w3, pad_mode="pad", padding=(0, 1, 1)).asnumpy()),
        "matmul": (2 * 5120 * 1152 * 1152 / 1e9, lambda: matmul(a, w).asnumpy()),
    }
    result = {"mindspore": ms.__version__, "conv_input": f"1x{c}x{t}x{h}x{h}"}
    for name, (gflop, fn) in rows.items():
        seconds = best_of(fn)
        result[name] = {"s": round(seconds, 3), "gflop_per_s": round(gflop / seconds, 1)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
