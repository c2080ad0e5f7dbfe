"""Where the causal VAE 488's time goes: wall time per kind of layer, for one encode or decode (random weights, fp32).

    python benchmarks/profile_vae.py --frames 17 --size 128 --stage decode

Every CausalConv3d, GroupNorm and AttnBlock3D call is timed, with PyNative's ops made blocking (its dispatch is
otherwise asynchronous, so a layer's time could land on a later one); the kinds exclude each other (an
attention block's own norm and 1x1 convs count as attention); "other" is the rest of the pass
(swish, residual adds, resampling, frame copies). A warm-up pass runs first. Conv time is also given as GFLOP/s,
counted from each call's shapes. The original PyTorch code is profiled the same way by
`benchmarks/original/bench_original.py profile_decode` (docs/performance.md). Opt-in: not part of the tests.
"""

import argparse
import collections
import json
import time

from bench_vae import stage_call  # the same inputs as the timing benchmark (run from the repo root)


def conv_flops(conv, x_shape, y_shape):
    """Multiply-adds x 2 of one CausalConv3d call, from its output shape (the causal padding is in the input)."""
    k_t, k_h, k_w = conv.kernel_size
    b, _, t, h, w = y_shape
    return 2 * b * t * h * w * conv.chan_out * conv.chan_in * k_t * k_h * k_w


def profile(args):
    import mindspore as ms

    from opensora.models.ae import CausalVAEModel
    from opensora.models.ae.causal_vae import modules
    from opensora.models.ae.causal_vae.config import load_vae_config

    ms.set_device("CPU")
    ms.runtime.launch_blocking()  # every op finishes before the call returns, so a layer's wall time is its own
    seconds, calls, flops = collections.Counter(), collections.Counter(), collections.Counter()
    seconds_by_conv, flops_by_conv = collections.Counter(), collections.Counter()
    timing = {"on": False, "inside": False}

    def timed(kind, construct):
        def wrapper(self, x, *rest):
            if not timing["on"] or timing["inside"]:  # a layer inside a timed one counts as its parent's
                return construct(self, x, *rest)
            start = time.perf_counter()
            timing["inside"] = True
            y = construct(self, x, *rest)
            timing["inside"] = False
            seconds[kind] += time.perf_counter() - start
            calls[kind] += 1
            if kind == "conv":
                flops[kind] += conv_flops(self, x.shape, y.shape)
                way = "folded Conv2d" if self.use_folded() else "Conv3d"
                sub = f"{way}, {self.chan_in}->{self.chan_out} k{'x'.join(map(str, self.kernel_size))}"
                seconds_by_conv[sub] += time.perf_counter() - start
                flops_by_conv[sub] += conv_flops(self, x.shape, y.shape)
            return y
        return wrapper

    for kind, cls in (("conv", modules.CausalConv3d), ("groupnorm", modules.GroupNorm),
                      ("attention", modules.AttnBlock3D)):
        cls.construct = timed(kind, cls.construct)
    # AttnBlock3D's own norm and 1x1 convs count as "attention" only
    vae = CausalVAEModel(load_vae_config("configs/ae/causal_vae_488.yaml"))
    vae.set_train(False)
    run = stage_call(vae, args.stage, args.frames, args.size)
    run().asnumpy()  # warm-up: first calls create the kernels
    timing["on"] = False
    start = time.perf_counter()
    run().asnumpy()
    plain = time.perf_counter() - start
    timing["on"] = True
    start = time.perf_counter()
    run().asnumpy()
    total = time.perf_counter() - start
    report = {"stage": args.stage, "shape": f"{args.frames}x{args.size}x{args.size}", "mindspore": ms.__version__,
              "total_s_unprofiled": round(plain, 2), "total_s_profiled": round(total, 2), "kinds": {}}
    for kind in ("conv", "groupnorm", "attention"):
        report["kinds"][kind] = {"s": round(seconds[kind], 2), "calls": calls[kind],
                                 "share": round(seconds[kind] / total, 3)}
    report["kinds"]["conv"]["gflop_per_s"] = round(flops["conv"] / seconds["conv"] / 1e9, 1)
    report["kinds"]["other"] = {"s": round(total - sum(seconds.values()), 2)}
    report["convs"] = {sub: {"s": round(sec, 2), "gflop_per_s": round(flops_by_conv[sub] / sec / 1e9, 1)}
                       for sub, sec in seconds_by_conv.most_common()}
    print(json.dumps(report, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=17)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--stage", default="decode", choices=["encode", "decode"])
    profile(p.parse_args())


if __name__ == "__main__":
    main()
